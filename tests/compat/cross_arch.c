/* cross_arch: exercises one heap file from 32-bit and 64-bit processes
 * through the C API. Built twice (native and -m32); tests/compat/
 * cross_arch_test.sh runs the two against the same file.
 *
 *   cross_arch create PATH        create the heap and objects "<bits>:..."
 *   cross_arch verify PATH BITS   check the objects another build made
 *   cross_arch count PATH N       add 1 to the counter in "counter" N times,
 *                                 under a WRITE lock each time
 *   cross_arch hold PATH MS       hold "counter" WRITE-locked for MS ms
 *   cross_arch trylock PATH       exit 0 if "counter" is free, 3 if busy
 * Exit status 0 on success; 1 with a message on stderr otherwise. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmheap.h>

#define BITS ((int)(sizeof(void *) * 8))

static int fail(const char *what) {
  fprintf(stderr, "cross_arch(%d-bit): %s: %s (%s)\n", BITS, what, strerror(errno), shmheap_last_error());
  return 1;
}

/* A record with fixed-width fields, as a heap shared by both widths must use. */
struct sample {
  uint64_t magic;
  uint32_t writer_bits;
  uint32_t count;
  uint64_t values[16];
};

static int create(const char *path) {
  shmheap_t *h = shmheap_attach(path, SHMHEAP_CREATE, 64ull << 20);
  if (!h) return fail("attach");
  char name[64];
  snprintf(name, sizeof name, "%d:sample", BITS);
  struct sample *s = shmalloc(h, sizeof *s, name);
  if (!s) return fail("shmalloc sample");
  s->magic = 0x5348415245444845ull;
  s->writer_bits = BITS;
  s->count = 16;
  for (int i = 0; i < 16; ++i) s->values[i] = (uint64_t)i * 0x0101010101010101ull;
  snprintf(name, sizeof name, "%d:big", BITS);
  unsigned char *big = shmalloc(h, 300000, name);
  if (!big) return fail("shmalloc big");
  for (int i = 0; i < 300000; ++i) big[i] = (unsigned char)(i * 7);
  if (shmheap_set_type(h, name, "bytes") != 0) return fail("set_type");
  if (!shmheap_find(h, "counter", NULL) && !shmalloc(h, sizeof(uint64_t), "counter")) return fail("counter");
  return shmheap_detach(h) == 0 ? 0 : fail("detach");
}

static int verify(const char *path, int other) {
  shmheap_t *h = shmheap_attach(path, 0, 0);
  if (!h) return fail("attach");
  char name[64];
  size_t size = 0;
  snprintf(name, sizeof name, "%d:sample", other);
  struct sample *s = shmheap_lock_object_name(h, SHMHEAP_LOCK, name, SHMHEAP_READ);
  if (!s) return fail("lock sample");
  if (s->magic != 0x5348415245444845ull || s->writer_bits != (uint32_t)other || s->count != 16) {
    fprintf(stderr, "sample from %d-bit has wrong fields\n", other);
    return 1;
  }
  for (int i = 0; i < 16; ++i) {
    if (s->values[i] != (uint64_t)i * 0x0101010101010101ull) return fprintf(stderr, "bad value %d\n", i), 1;
  }
  if (!shmheap_lock_object_name(h, SHMHEAP_UNLOCK, name, SHMHEAP_READ)) return fail("unlock");
  snprintf(name, sizeof name, "%d:big", other);
  unsigned char *big = shmheap_find(h, name, &size);
  if (!big || size != 300000) return fail("find big");
  for (int i = 0; i < 300000; ++i) {
    if (big[i] != (unsigned char)(i * 7)) return fprintf(stderr, "big differs at %d\n", i), 1;
  }
  /* Change the other build's heap: grow an object, free one, add one. */
  void *moved = shrealloc(h, big, 5000000);
  if (!moved) return fail("shrealloc");
  if (((unsigned char *)moved)[299999] != (unsigned char)(299999 * 7)) return fprintf(stderr, "realloc lost data\n"), 1;
  if (shfree(h, moved) != 0) return fail("shfree");
  snprintf(name, sizeof name, "%d:from%d", BITS, other);
  if (!shmalloc(h, 1000, name)) return fail("shmalloc from");
  if (shmheap_map_show(h, stdout) != 0 || shmheap_client_show(h, stdout) != 0) return fail("show");
  if (shmheap_detach(h) != 0) return fail("detach");
  return shmheap_check(path, stderr) == 0 ? 0 : (fprintf(stderr, "check failed\n"), 1);
}

static int count(const char *path, long n) {
  shmheap_t *h = shmheap_attach(path, 0, 0);
  if (!h) return fail("attach");
  for (long i = 0; i < n; ++i) {
    uint64_t *c = shmheap_lock_object_name(h, SHMHEAP_LOCK, "counter", SHMHEAP_WRITE);
    if (!c) return fail("lock counter");
    uint64_t v = *c;
    *c = v + 1;
    if (!shmheap_lock_object_name(h, SHMHEAP_UNLOCK, "counter", SHMHEAP_WRITE)) return fail("unlock counter");
  }
  return shmheap_detach(h) == 0 ? 0 : fail("detach");
}

static int hold(const char *path, long ms) {
  shmheap_t *h = shmheap_attach(path, 0, 0);
  if (!h) return fail("attach");
  if (!shmheap_lock_object_name(h, SHMHEAP_LOCK, "counter", SHMHEAP_WRITE)) return fail("lock");
  printf("locked\n");
  fflush(stdout);
  usleep((useconds_t)ms * 1000);
  return shmheap_detach(h) == 0 ? 0 : fail("detach");
}

static int trylock(const char *path) {
  shmheap_t *h = shmheap_attach(path, 0, 0);
  if (!h) return fail("attach");
  void *p = shmheap_lock_object_name(h, SHMHEAP_TRYLOCK, "counter", SHMHEAP_WRITE);
  int busy = !p && errno == EAGAIN;
  if (!p && !busy) return fail("trylock");
  shmheap_detach(h);
  return busy ? 3 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "create")) return create(argv[2]);
  if (argc >= 4 && !strcmp(argv[1], "verify")) return verify(argv[2], atoi(argv[3]));
  if (argc >= 4 && !strcmp(argv[1], "count")) return count(argv[2], atol(argv[3]));
  if (argc >= 4 && !strcmp(argv[1], "hold")) return hold(argv[2], atol(argv[3]));
  if (argc >= 3 && !strcmp(argv[1], "trylock")) return trylock(argv[2]);
  fprintf(stderr, "usage: cross_arch create|verify|count|hold|trylock PATH [ARG]\n");
  return 2;
}
