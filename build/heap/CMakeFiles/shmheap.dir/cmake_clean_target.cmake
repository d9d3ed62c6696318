file(REMOVE_RECURSE
  "libshmheap.a"
)
