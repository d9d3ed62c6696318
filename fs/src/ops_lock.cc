// Handlers for locks: getlk, setlk, flock (see lock_service.h).
#include "fs/src/filesystem.h"
#include "fs/src/lock_service.h"
#include "fs/src/ops.h"
#include "fs/src/reply.h"

namespace shmheap::fs {

void OpGetlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, struct flock* lock) noexcept {
  Guarded(req, "getlk", [&] { FsOf(req)->locks()->Getlk(req, ino, fi, lock); });
}

void OpSetlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, struct flock* lock, int sleep) noexcept {
  Guarded(req, "setlk", [&] { FsOf(req)->locks()->Setlk(req, ino, fi, lock, sleep); });
}

void OpFlock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, int op) noexcept {
  Guarded(req, "flock", [&] { FsOf(req)->locks()->Flock(req, ino, fi, op); });
}

}  // namespace shmheap::fs
