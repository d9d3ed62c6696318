# Empty dependencies file for shmheap_cli.
# This may be replaced when dependencies are built.
