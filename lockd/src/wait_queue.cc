// WaitQueue (see wait_queue.h): FIFO of waiting lock requests of one inode.
//
// Thread safety: none; the LockEngine's mutex guards every instance.
#include "lockd/src/wait_queue.h"

#include <algorithm>
#include <cassert>

#include "lockd/src/range.h"

namespace shmheap::lockd {

bool RequestsConflict(const LockRequest& a, const LockRequest& b) {
  return a.holder.space == b.holder.space && a.holder.id != b.holder.id &&
         Overlaps(a.range, b.range) && TypesConflict(a.type, b.type);
}

void WaitQueue::Push(const LockRequest& req) {
  assert(!Find(req.id).has_value());
  waiters_.push_back(req);
}

std::optional<std::size_t> WaitQueue::Find(std::uint64_t id) const {
  for (std::size_t i = 0; i < waiters_.size(); ++i) {
    if (waiters_[i].id == id) return i;
  }
  return std::nullopt;
}

LockRequest WaitQueue::Erase(std::size_t pos) {
  assert(pos < waiters_.size());
  LockRequest req = waiters_[pos];
  waiters_.erase(waiters_.begin() + static_cast<std::ptrdiff_t>(pos));
  return req;
}

void WaitQueue::EraseIf(const std::function<bool(const LockRequest&)>& pred,
                        std::vector<LockRequest>* removed) {
  auto keep = std::stable_partition(waiters_.begin(), waiters_.end(),
                                    [&](const LockRequest& w) { return !pred(w); });
  removed->insert(removed->end(), keep, waiters_.end());
  waiters_.erase(keep, waiters_.end());
}

void WaitQueue::HoldersAhead(const LockRequest& req, std::size_t before,
                             const std::function<bool(const LockRequest&)>& holder_blocks,
                             std::vector<Holder>* out) const {
  const std::size_t n = std::min(before, waiters_.size());
  for (std::size_t i = 0; i < n; ++i) {
    const LockRequest& w = waiters_[i];
    if (RequestsConflict(req, w) && !holder_blocks(w)) out->push_back(w.holder);
  }
}

}  // namespace shmheap::lockd
