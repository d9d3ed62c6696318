// InodeLocks: everything the engine knows about one inode: its granted
// POSIX and flock locks, its queue of waiting requests, and the heap mode
// the daemon holds for it at the bridge. It answers "who blocks this
// request?" (the conflict and fairness rules in one place) and applies
// granted requests; the engine does the heap bridge, the completions and
// deadlock detection around it.
//
// Thread safety: none; the LockEngine's mutex guards every instance.
#ifndef SHMHEAP_LOCKD_INODE_LOCKS_H_
#define SHMHEAP_LOCKD_INODE_LOCKS_H_

#include <cstddef>
#include <vector>

#include <lockd/lock_engine.hpp>

#include "lockd/src/flock_locks.h"
#include "lockd/src/lock_mode.h"
#include "lockd/src/posix_locks.h"
#include "lockd/src/wait_queue.h"

namespace shmheap::lockd {

class InodeLocks {
 public:
  // Appends to *out the holders `req` would have to wait for if it were at
  // queue position `before` (size() for a new request): holders of granted
  // locks that conflict with it, and holders of earlier waiters it must
  // queue behind. Each holder at most once, in no particular order. Empty
  // means grantable as far as file locks go (the heap may still refuse).
  // REQUIRES: req.type is kRead or kWrite.
  void Blockers(const LockRequest& req, std::size_t before, std::vector<Holder>* out) const;

  // Applies `req` to the lock set of its space: POSIX replace-over-range
  // (kUnlock included), or set/remove the file's flock lock.
  void Apply(const LockRequest& req);

  // The aggregate mode of the granted locks: kWrite if any is a write lock,
  // else kRead if any, else kNone.
  HeapMode Aggregate() const { return Max(posix_.Mode(), flock_.Mode()); }

  // True when nothing is held, queued, or held at the bridge: the engine
  // may forget the inode.
  bool Idle() const {
    return posix_.empty() && flock_.empty() && queue_.empty() && held_ == HeapMode::kNone;
  }

  // All granted locks: POSIX (by owner, then start), then flock (by file).
  std::vector<RecordLock> Locks() const;

  PosixLockSet& posix() { return posix_; }
  const PosixLockSet& posix() const { return posix_; }
  FlockLockSet& flock() { return flock_; }
  const FlockLockSet& flock() const { return flock_; }
  WaitQueue& queue() { return queue_; }
  const WaitQueue& queue() const { return queue_; }

  // The mode last acquired from (TryAcquire) or reduced to (Reduce) at the
  // bridge. Invariant between engine calls: held() == Aggregate().
  HeapMode held() const { return held_; }
  void set_held(HeapMode mode) { held_ = mode; }

 private:
  static HeapMode Max(HeapMode a, HeapMode b) { return Stronger(a, b) ? a : b; }

  PosixLockSet posix_;
  FlockLockSet flock_;
  WaitQueue queue_;
  HeapMode held_ = HeapMode::kNone;
};

}  // namespace shmheap::lockd

#endif  // SHMHEAP_LOCKD_INODE_LOCKS_H_
