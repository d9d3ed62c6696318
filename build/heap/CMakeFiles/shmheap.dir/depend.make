# Empty dependencies file for shmheap.
# This may be replaced when dependencies are built.
