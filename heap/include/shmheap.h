/* shmheap.h -- the C API of libshmheap: persistent, relocatable shared heaps.
 *
 * A shared heap is a malloc-style arena kept in one backing file and mapped by
 * every process that attaches it (PUPS/P3 shared heaps, in modern form).
 * Objects are allocated with malloc semantics and may carry a unique name;
 * named objects can be found, locked (READ shared / WRITE exclusive, across
 * processes), versioned, typed and freed by any attached process. The heap
 * maps at a different address in each process: store offsets, not pointers,
 * inside objects.
 *
 * This header is usable from C99 and C++, and from any language through FFI.
 *
 * Conventions
 *   - Functions returning a pointer return NULL and set errno on failure.
 *   - Functions returning int return 0 on success, -1 with errno set on
 *     failure (shmheap_check: see there).
 *   - Object names are 1..255 bytes with no '/' and no NUL; ".", ".." are
 *     reserved. A bad name gives EINVAL.
 *   - shmheap_last_error() returns a message describing the last failure in
 *     the calling thread (which file, which object, what was wrong).
 *   - Every function is thread-safe. Locks are owned by the calling thread:
 *     a lock taken in one thread must be released by the same thread.
 *
 * Errors common to most functions
 *   EINVAL     bad argument (name, size, mode, pointer not from this heap)
 *   ENOENT     no such heap (attach) or object
 *   EEXIST     name already taken (shmalloc)
 *   ENOSPC     the heap reached its maximum size, or the disk is full
 *   EDQUOT, EFBIG  growing the backing file passed a disk quota or the
 *              process's file size limit (ulimit -f; ignore SIGXFSZ to get
 *              EFBIG instead of the signal)
 *   EAGAIN     SHMHEAP_TRYLOCK found the lock taken
 *   EDEADLK    waiting for the lock would deadlock (a cycle of waiters)
 *   EUCLEAN    the heap file is corrupt (message says where)
 *   EPROTO     the heap file has an unsupported format version
 *   EOPNOTSUPP the heap is larger than a 32-bit process can map
 *   EACCES     permission denied, or the heap is attached read-only
 *   EIO etc.   a system call failed
 *
 * Caveats
 *   - fork(): a child inherits the mapping but not the attachment. Using an
 *     inherited shmheap_t in the child fails with EINVAL; attach again. (The
 *     library closes inherited descriptors in the child so that the parent's
 *     death is still noticed.)
 *   - Attaching the same file twice in one process gives two independent
 *     clients (each with its own locks); that is supported. Liveness uses OFD
 *     locks, which a close() of some other descriptor does not drop.
 *   - Network file systems: the backing file may live on NFS, but every
 *     process mapping it must run on one host (NFS gives no coherent shared
 *     memory between hosts). Share a heap across hosts through the shmheapfs
 *     FUSE mount exported over NFS instead.
 *   - Growth: a heap grows in place while others are attached; every process
 *     reserved address space for the heap's maximum size at attach, so
 *     objects never move. A 32-bit process maps at most 1 GiB of a heap.
 *   - Crashes: every metadata change is atomic against kill -9 of any
 *     process; locks of a dead process are released within about 50 ms of
 *     someone waiting for them. Object *contents* written without a lock
 *     are, as with any shared memory, only as consistent as the writer left
 *     them. shmheap_flush() makes everything durable against power loss.
 */
#ifndef SHMHEAP_H_
#define SHMHEAP_H_

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An attached heap. Opaque. (C++ sees another tag for the same opaque type,
 * because a struct named shmheap would clash with the C++ API's namespace
 * shmheap; the functions are extern "C", so the ABI is identical.) */
#ifdef __cplusplus
typedef struct shmheap_handle shmheap_t;
#else
typedef struct shmheap shmheap_t;
#endif

/* shmheap_attach flags. */
enum { SHMHEAP_CREATE = 1, SHMHEAP_RDONLY = 2 };
/* Lock modes. READWRITE is the same exclusive lock as WRITE. */
enum { SHMHEAP_READ = 1, SHMHEAP_WRITE = 2, SHMHEAP_READWRITE = 3 };
/* shmheap_lock_object_name operations. */
enum { SHMHEAP_LOCK = 1, SHMHEAP_UNLOCK = 2, SHMHEAP_TRYLOCK = 3 };

/* Attaches the heap in `path`. With SHMHEAP_CREATE the heap is created if it
 * does not exist, with maximum size `max_size` bytes (0: 64 GiB); max_size is
 * ignored for an existing heap. SHMHEAP_RDONLY maps it read-only (find,
 * version, map_show, check, ref_read and ref_resolve only; a resolved
 * reference attaches its heap read-only too). Recovers a heap left by a
 * crashed process.
 * Returns NULL and sets errno on failure (ENOENT, EUCLEAN, EPROTO, EACCES...).
 * Blocks briefly while another process holds the heap's metadata mutex. */
shmheap_t *shmheap_attach(const char *path, int flags, uint64_t max_size);

/* Releases every lock this handle's threads hold, detaches and frees `h`.
 * The last client to detach marks the heap cleanly closed and flushes it.
 * Returns 0, or -1 with errno EINVAL if h is NULL. */
int shmheap_detach(shmheap_t *h);

/* Allocates `size` bytes. With a name: a zero-filled named object, NULL with
 * errno EEXIST if the name is taken (PUPS shmalloc). With name NULL: anonymous
 * memory (contents undefined). Returns the address in this process. */
void *shmalloc(shmheap_t *h, size_t size, const char *name);

/* Resizes an allocation (like realloc; ptr NULL allocates). Named objects
 * keep their name and their version changes. Returns the new address, or NULL
 * with errno (EINVAL, ENOSPC); the old allocation is then unchanged. */
void *shrealloc(shmheap_t *h, void *ptr, size_t size);

/* Frees an allocation. For a named object this removes the name; its memory
 * is freed once no process holds a lock on it. Returns 0, or -1 with errno
 * EINVAL if ptr is not an allocation of this heap. */
int shfree(shmheap_t *h, void *ptr);

/* Finds a named object without locking it. Stores its size in *size if size
 * is not NULL. Returns its address, or NULL with errno ENOENT (or, for a
 * heap attached SHMHEAP_RDONLY, which cannot take the heap's mutex, EAGAIN
 * if the object kept being replaced or resized through 64 attempts). The
 * address may be invalidated by another process freeing or resizing the
 * object: lock it (shmheap_lock_object_name) to use it safely. */
void *shmheap_find(shmheap_t *h, const char *name, size_t *size);

/* PUPS msm_lockobjectname. op SHMHEAP_LOCK blocks until `name` is locked in
 * `mode` (SHMHEAP_READ shared, SHMHEAP_WRITE/READWRITE exclusive) for the
 * calling thread; SHMHEAP_TRYLOCK returns NULL with errno EAGAIN instead of
 * waiting; SHMHEAP_UNLOCK releases one level (locks nest per thread; a READ
 * lock upgrades to WRITE when the thread is the only reader).
 * Returns the object's address in this process (for UNLOCK too), or NULL with
 * errno: ENOENT, EAGAIN, EDEADLK, EINVAL (UNLOCK of a lock not held). A lock
 * held by a process that dies is released. */
void *shmheap_lock_object_name(shmheap_t *h, int op, const char *name, int mode);

/* The object's version: it changes on every write-unlock, resize and
 * replace. Returns 0 with errno ENOENT if there is no such object (versions
 * are >= 1), or, read-only, 0 with EAGAIN as shmheap_find. */
uint64_t shmheap_version(shmheap_t *h, const char *name);

/* Sets the type string of an object (PUPS type-information table); at most
 * 255 bytes; "" clears it. Returns 0 or -1 (ENOENT, EINVAL, ENOSPC). */
int shmheap_set_type(shmheap_t *h, const char *name, const char *type);

/* PUPS map_show: prints one line per named object (name, offset, size,
 * type, version, lock state) to `out`. Returns 0 or -1 (EIO on write error). */
int shmheap_map_show(shmheap_t *h, FILE *out);

/* PUPS client_show: prints one line per attached process (slot, pid, host,
 * word size, attach time, alive) to `out`. Returns 0 or -1. */
int shmheap_client_show(shmheap_t *h, FILE *out);

/* Makes every change so far durable on disk (msync, then fsync). Blocks.
 * Returns 0 or -1 (EIO). */
int shmheap_flush(shmheap_t *h);

/* Attaches `path` (recovering it if a process crashed), checks every
 * invariant, and writes a report to `report` (may be NULL). Returns 0 if the
 * heap is consistent, 1 if problems were found, -1 with errno if the file
 * could not be attached at all (its reason is in the report too). */
int shmheap_check(const char *path, FILE *report);

/* Counting semaphores kept as heap objects (Minibase's latches): named
 * objects of type "shmheap.semaphore" any attached process may wait on or
 * post. Not owned: a process that dies after a wait does not give its unit
 * back (use object locks for crash-safe mutual exclusion).
 * create: ENOSPC/EEXIST/EINVAL as shmalloc. wait: blocks while the count is
 * 0. trywait: EAGAIN when 0. post: wakes one waiter. getvalue: *value set.
 * All return 0 or -1 with errno (ENOENT, EINVAL if `name` is not a
 * semaphore, ESTALE if removed while waiting). */
int shmheap_sem_create(shmheap_t *h, const char *name, unsigned value);
int shmheap_sem_wait(shmheap_t *h, const char *name);
int shmheap_sem_trywait(shmheap_t *h, const char *name);
int shmheap_sem_post(shmheap_t *h, const char *name);
int shmheap_sem_getvalue(shmheap_t *h, const char *name, unsigned *value);

/* References between heaps by name (COOL v2's representatives; see
 * <shmheap/reference.hpp>). A reference is an object whose bytes name its
 * target: "OBJECT" in the same heap, or "../HEAP/OBJECT" for object OBJECT
 * of heap HEAP.heap in the same directory. Through the shmheapfs mount a
 * reference is a symbolic link with exactly that target (`ln -s` makes one).
 *
 * shmheap_ref_create: creates reference `name` to `target`, atomically; the
 *   target need not exist yet. Returns 0 or -1: EEXIST, EINVAL (bad name or
 *   target), EOPNOTSUPP (a target no heap can reach, e.g. an absolute path),
 *   ENOSPC.
 * shmheap_ref_read: copies the target text (not NUL-terminated, as
 *   readlink(2)) into buf, at most `len` bytes. Returns its full length, or
 *   -1: ENOENT, EINVAL (`name` is not a reference).
 * shmheap_ref_resolve: follows `name` through references (at most 8) to an
 *   object that is not one and returns its address, its size in *size (may
 *   be NULL) and its heap in *heap: `h` itself, or a heap the call attached,
 *   which the caller detaches with shmheap_detach() when done (the address
 *   is valid until then). A name that is not a reference resolves to
 *   itself. Returns NULL on error: ENOENT (a dangling reference: object or
 *   heap missing), EINVAL (too many references), EOPNOTSUPP, or the errors
 *   of shmheap_attach. */
int shmheap_ref_create(shmheap_t *h, const char *name, const char *target);
int shmheap_ref_read(shmheap_t *h, const char *name, char *buf, size_t len);
void *shmheap_ref_resolve(shmheap_t *h, const char *name, shmheap_t **heap, size_t *size);

/* A message describing the last failure in the calling thread ("" if none). */
const char *shmheap_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* SHMHEAP_H_ */
