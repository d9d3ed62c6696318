// LockService: POSIX record locks (fcntl F_GETLK/F_SETLK/F_SETLKW, OFD
// locks) and flock(2) on object files, made the same locks that library
// clients take on heap objects.
//
// lockd's LockEngine decides conflicts among file users. This class is its
// HeapLockBridge: the daemon holds ONE heap object lock per object on behalf
// of all file users (the "collective" owner) in the mode the engine asks for
// (READ while only read locks exist, WRITE once any write lock exists), so a
// library WRITE lock excludes every file lock and a library READ lock every
// file write lock, in both directions.
//
// Blocking requests never hold a FUSE worker thread: they are queued with
// the engine and answered from whichever thread grants them. A FUSE
// interrupt (a signal to the waiting process) cancels the wait with EINTR.
// Requests waiting for a library client to unlock are retried every
// kHeapRetryInterval by a background thread. Before a grant is answered, the
// kernel's cached pages of the object are dropped if a library client
// changed it, so the holder of a lock reads current data.
//
// Deadlock: lockd refuses waits that close a cycle among file owners, the
// heap refuses library waits that close a cycle among library clients, and
// ClosesCycle finds cycles that mix both (a file owner waiting for a library
// client waiting for a file owner...); such a file request gets EDEADLK.
//
// Thread safety: all methods may be called concurrently. Lock order:
// engine mutex (inside LockEngine) -> mu_. Bridge calls arrive with the
// engine mutex held and take mu_; nothing calls into the engine under mu_.
#ifndef SHMHEAP_FS_LOCK_SERVICE_H_
#define SHMHEAP_FS_LOCK_SERVICE_H_

#include <fuse3/fuse_lowlevel.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include <lockd/lock_engine.hpp>
#include <shmheap/heap.hpp>

namespace shmheap::fs {

class Filesystem;
struct HeapEntry;

class LockService final : public lockd::HeapLockBridge {
 public:
  static constexpr std::chrono::milliseconds kHeapRetryInterval{5};

  explicit LockService(Filesystem* fs);
  ~LockService() override;
  LockService(const LockService&) = delete;
  LockService& operator=(const LockService&) = delete;

  // FUSE lock operations (each replies exactly once, possibly later).
  void Getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, struct flock* lock);
  void Setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, struct flock* lock, int sleep);
  void Flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, int op);
  // FUSE flush: a descriptor was closed by the process owning `lock_owner`.
  void OnFlush(std::uint64_t ino, std::uint64_t lock_owner);
  // FUSE release: the open file `fh` is gone (flock and OFD locks go with it).
  void OnRelease(std::uint64_t ino, std::uint64_t fh, std::uint64_t lock_owner, bool flock_release);
  // Cancels every waiting request and releases every heap lock held for
  // file users. Called at unmount.
  void Shutdown();

  // lockd::HeapLockBridge (called with the engine's mutex held).
  Status TryAcquire(std::uint64_t inode, lockd::HeapMode mode) override;
  void Reduce(std::uint64_t inode, lockd::HeapMode mode) override;

 private:
  struct Pending {
    fuse_req_t req;
    fuse_ino_t ino;
    std::uint64_t owner;  // lock owner (flock: file | lockd::kFlockOwnerBit)
    bool write;           // wants a write (exclusive) lock
    bool interrupted = false;  // FUSE interrupt seen (maybe before queuing)
  };
  struct Held {
    lockd::HeapMode mode = lockd::HeapMode::kNone;
    int depth = 0;  // nesting of the collective owner's heap lock
    ObjectId id;
    std::shared_ptr<HeapEntry> heap;
  };
  // Reduce's heap calls: unlock every nesting level, or downgrade.
  // REQUIRES: mu_ (lock order: mu_, then Filesystem's inode mutex, then the
  // heap's locks).
  Status ReduceHeld(Heap& heap, Held& h, std::uint64_t inode, lockd::HeapMode mode);

  // Queues or answers a blocking request. `start` calls the engine.
  void Wait(fuse_req_t req, fuse_ino_t ino, std::uint64_t owner, bool write,
            const std::function<Status(std::uint64_t)>& start);
  // True if the waiting request `id` is part of a cycle of waiting owners
  // that runs through library clients (lockd sees only file owners, the heap
  // only library clients; this joins the two graphs). Within one heap.
  bool ClosesCycle(std::uint64_t id);
  void Complete(std::uint64_t id, Status s);
  void Reply(fuse_req_t req, fuse_ino_t ino, const Status& s);
  static void OnInterrupt(fuse_req_t req, void* data);
  void RetryLoop();

  Filesystem* fs_;
  const OwnerToken collective_;
  lockd::LockEngine engine_;
  std::atomic<std::uint64_t> next_id_{1};

  std::mutex mu_;  // guards everything below; after the engine's mutex
  std::unordered_map<std::uint64_t, Pending> pending_;  // request id -> FUSE request
  std::unordered_map<std::uint64_t, Held> held_;        // node id -> heap lock for file users
  // Lock owners seen on each open file. FUSE sends no unlock for OFD locks
  // when their open file is closed, and their owner id (a keyed hash of the
  // kernel's file pointer) cannot be derived; so every owner that locked
  // through a file handle is released when that handle is. That is right
  // for POSIX owners too: their locks already went at the flush of a close.
  std::unordered_map<std::uint64_t, std::set<std::uint64_t>> owners_by_fh_;
  // Heaps with waiting requests: dead library holders are reaped.
  std::chrono::steady_clock::time_point last_reap_{};
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread retry_;
};

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_LOCK_SERVICE_H_
