/* lib_lock_probe: a libshmheap client for nfs_export_test.sh, run on the
 * server host next to the shmheapfs mount.
 *
 *   lib_lock_probe HEAPFILE NAME trywrite
 *       SHMHEAP_TRYLOCK in WRITE mode; if granted, unlocks at once.
 *       Exit 0: granted; 2: EAGAIN (someone holds the object); 1: error.
 *   lib_lock_probe HEAPFILE NAME hold
 *       Takes the WRITE lock (blocking), prints "locked" on stdout, waits
 *       for a line (or EOF) on stdin, unlocks, prints "unlocked". Exit 0/1.
 *   lib_lock_probe HEAPFILE NAME cat
 *       Writes the object's bytes to stdout, read under a READ lock.
 *   lib_lock_probe HEAPFILE NAME put FILE
 *       Allocates NAME (it must not exist) with FILE's size and copies FILE
 *       into it under a WRITE lock (the unlock bumps the object's version).
 *
 * Errors go to stderr with shmheap_last_error()'s explanation.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmheap.h>

static const char *prog = "lib_lock_probe";

static int fail(const char *what, const char *name) {
  int err = errno;
  const char *detail = shmheap_last_error();
  fprintf(stderr, "%s: %s '%s': %s%s%s\n", prog, what, name, strerror(err),
          detail && *detail ? " -- " : "", detail ? detail : "");
  return 1;
}

static int usage(void) {
  fprintf(stderr,
          "usage: %s HEAPFILE NAME trywrite|hold|cat\n"
          "       %s HEAPFILE NAME put FILE\n",
          prog, prog);
  return 1;
}

static int do_trywrite(shmheap_t *h, const char *name) {
  if (shmheap_lock_object_name(h, SHMHEAP_TRYLOCK, name, SHMHEAP_WRITE) == NULL) {
    if (errno == EAGAIN) {
      printf("busy\n");
      return 2;
    }
    return fail("trylock WRITE", name);
  }
  printf("granted\n");
  if (shmheap_lock_object_name(h, SHMHEAP_UNLOCK, name, SHMHEAP_WRITE) == NULL)
    return fail("unlock WRITE", name);
  return 0;
}

static int do_hold(shmheap_t *h, const char *name) {
  char line[64];
  if (shmheap_lock_object_name(h, SHMHEAP_LOCK, name, SHMHEAP_WRITE) == NULL)
    return fail("lock WRITE", name);
  printf("locked\n");
  fflush(stdout);
  if (fgets(line, sizeof line, stdin) == NULL && ferror(stdin))
    fprintf(stderr, "%s: reading stdin: %s (unlocking anyway)\n", prog, strerror(errno));
  if (shmheap_lock_object_name(h, SHMHEAP_UNLOCK, name, SHMHEAP_WRITE) == NULL)
    return fail("unlock WRITE", name);
  printf("unlocked\n");
  fflush(stdout);
  return 0;
}

static int do_cat(shmheap_t *h, const char *name) {
  size_t size = 0;
  const char *p = shmheap_lock_object_name(h, SHMHEAP_LOCK, name, SHMHEAP_READ);
  if (p == NULL) return fail("lock READ", name);
  if (shmheap_find(h, name, &size) == NULL) {
    fail("find", name);
    shmheap_lock_object_name(h, SHMHEAP_UNLOCK, name, SHMHEAP_READ);
    return 1;
  }
  int rc = 0;
  if (size > 0 && fwrite(p, 1, size, stdout) != size) {
    fprintf(stderr, "%s: writing %zu bytes of '%s' to stdout: %s\n", prog, size, name, strerror(errno));
    rc = 1;
  }
  if (shmheap_lock_object_name(h, SHMHEAP_UNLOCK, name, SHMHEAP_READ) == NULL)
    return fail("unlock READ", name);
  if (fflush(stdout) != 0) {
    fprintf(stderr, "%s: flushing stdout: %s\n", prog, strerror(errno));
    rc = 1;
  }
  return rc;
}

static int do_put(shmheap_t *h, const char *name, const char *file) {
  FILE *in = fopen(file, "rb");
  if (in == NULL) {
    fprintf(stderr, "%s: opening '%s': %s\n", prog, file, strerror(errno));
    return 1;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? 2 * cap : 65536;
      char *nb = realloc(buf, cap);
      if (nb == NULL) {
        fprintf(stderr, "%s: out of memory reading '%s'\n", prog, file);
        free(buf);
        fclose(in);
        return 1;
      }
      buf = nb;
    }
    size_t n = fread(buf + len, 1, cap - len, in);
    len += n;
    if (n == 0) break;
  }
  int read_error = ferror(in);
  fclose(in);
  if (read_error || len == 0) {
    fprintf(stderr, "%s: reading '%s': %s\n", prog, file, read_error ? "read error" : "file is empty");
    free(buf);
    return 1;
  }
  int rc = 0;
  if (shmalloc(h, len, name) == NULL) {
    rc = fail("shmalloc", name);
  } else {
    char *p = shmheap_lock_object_name(h, SHMHEAP_LOCK, name, SHMHEAP_WRITE);
    if (p == NULL) {
      rc = fail("lock WRITE", name);
    } else {
      memcpy(p, buf, len);
      if (shmheap_lock_object_name(h, SHMHEAP_UNLOCK, name, SHMHEAP_WRITE) == NULL) rc = fail("unlock WRITE", name);
    }
  }
  free(buf);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 4) return usage();
  const char *path = argv[1], *name = argv[2], *cmd = argv[3];
  int is_put = strcmp(cmd, "put") == 0;
  if ((is_put && argc != 5) || (!is_put && argc != 4)) return usage();
  if (!is_put && strcmp(cmd, "trywrite") != 0 && strcmp(cmd, "hold") != 0 && strcmp(cmd, "cat") != 0)
    return usage();

  shmheap_t *h = shmheap_attach(path, 0, 0);
  if (h == NULL) return fail("attaching heap", path);
  int rc;
  if (strcmp(cmd, "trywrite") == 0)
    rc = do_trywrite(h, name);
  else if (strcmp(cmd, "hold") == 0)
    rc = do_hold(h, name);
  else if (strcmp(cmd, "cat") == 0)
    rc = do_cat(h, name);
  else
    rc = do_put(h, name, argv[4]);
  if (shmheap_detach(h) != 0) {
    fail("detaching heap", path);
    if (rc == 0) rc = 1;
  }
  return rc;
}
