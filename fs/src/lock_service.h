// LockService: connects FUSE lock requests (getlk, setlk, flock, flush,
// release) to the lockd engine and the heaps' object locks.
// TODO(lead): filled in with the lockd integration (issue 4); until then the
// daemon does not implement the lock operations and the kernel keeps POSIX
// and flock locks local to this host.
#ifndef SHMHEAP_FS_LOCK_SERVICE_H_
#define SHMHEAP_FS_LOCK_SERVICE_H_

#include <cstdint>

namespace shmheap::fs {

class LockService {
 public:
  virtual ~LockService() = default;
  // FUSE flush: a descriptor was closed by the process owning `lock_owner`.
  virtual void OnFlush(std::uint64_t ino, std::uint64_t lock_owner) = 0;
  // FUSE release: the open file `fh` is gone (flock locks go with it).
  virtual void OnRelease(std::uint64_t ino, std::uint64_t fh, std::uint64_t lock_owner, bool flock_release) = 0;
  virtual void Shutdown() = 0;
};

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_LOCK_SERVICE_H_
