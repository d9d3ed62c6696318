// LockRequest and WaitQueue: the requests of one inode that wait (F_SETLKW
// and flock with wait), oldest first, and the fairness rule that makes a new
// request queue behind earlier conflicting waiters.
//
// Fairness: a request must wait behind every earlier waiter of the same
// lock space, held by someone else, whose wanted range overlaps its own and
// whose type conflicts with it, so a stream of readers cannot starve a
// waiting writer. One exception: if the requester already holds a lock
// that blocks that waiter, queuing behind it would only deadlock (the
// waiter cannot be granted before the requester lets go anyway), so the
// requester may pass. That keeps downgrades and re-locking an owned range
// from ever waiting.
//
// Thread safety: none; the LockEngine's mutex guards every instance.
#ifndef SHMHEAP_LOCKD_WAIT_QUEUE_H_
#define SHMHEAP_LOCKD_WAIT_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include <lockd/lock_engine.hpp>

#include "lockd/src/lock_mode.h"

namespace shmheap::lockd {

// One lock request, waiting or being decided. A flock request has range
// [0, kEof] and pid 0.
struct LockRequest {
  std::uint64_t id;  // the caller's request id (0 for non-waiting calls)
  Holder holder;
  LockType type;
  Range range;
  std::uint32_t pid;
};

// True if requests (or locks) `a` and `b` conflict: same lock space,
// different holders, overlapping ranges, at least one write. REQUIRES:
// neither type is kUnlock.
bool RequestsConflict(const LockRequest& a, const LockRequest& b);

class WaitQueue {
 public:
  // Appends `req` as the newest waiter. REQUIRES: no waiter has req.id.
  void Push(const LockRequest& req);

  // The position of the waiter with `id`, or nullopt.
  std::optional<std::size_t> Find(std::uint64_t id) const;

  // Removes and returns the waiter at `pos`. REQUIRES: pos < size().
  LockRequest Erase(std::size_t pos);

  // Removes every waiter for which pred is true; appends them to *removed
  // in queue order.
  void EraseIf(const std::function<bool(const LockRequest&)>& pred,
               std::vector<LockRequest>* removed);

  // Appends to *out the holders of the waiters before position `before`
  // that `req` must queue behind (the fairness rule above).
  // `holder_blocks(waiter)` says whether req's holder already holds a lock
  // that blocks that waiter.
  void HoldersAhead(const LockRequest& req, std::size_t before,
                    const std::function<bool(const LockRequest&)>& holder_blocks,
                    std::vector<Holder>* out) const;

  const LockRequest& operator[](std::size_t pos) const { return waiters_[pos]; }
  std::size_t size() const { return waiters_.size(); }
  bool empty() const { return waiters_.empty(); }

 private:
  // Oldest first. A vector: queues are short, and erasing from the middle
  // keeps the order the fairness rule depends on.
  std::vector<LockRequest> waiters_;
};

}  // namespace shmheap::lockd

#endif  // SHMHEAP_LOCKD_WAIT_QUEUE_H_
