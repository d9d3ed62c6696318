// InodeLocks (see inode_locks.h): the conflict and fairness rules applied
// to one inode's granted locks and wait queue.
//
// Thread safety: none; the LockEngine's mutex guards every instance.
#include "lockd/src/inode_locks.h"

#include <algorithm>
#include <cassert>

namespace shmheap::lockd {

void InodeLocks::Blockers(const LockRequest& req, std::size_t before,
                          std::vector<Holder>* out) const {
  assert(req.type != LockType::kUnlock);
  const std::size_t first = out->size();
  std::vector<std::uint64_t> ids;
  // 1. Granted locks of the same space held by others.
  if (req.holder.space == LockSpace::kPosix) {
    posix_.ConflictingOwners(req.holder.id, req.type, req.range, &ids);
  } else {
    flock_.ConflictingFiles(req.holder.id, req.type, &ids);
  }
  for (std::uint64_t id : ids) out->push_back(Holder{req.holder.space, id});
  // 2. Earlier waiters it must queue behind, unless req's holder already
  //    blocks them (wait_queue.h explains the exception).
  auto holder_blocks = [&](const LockRequest& w) {
    if (req.holder.space == LockSpace::kPosix) {
      return posix_.HolderBlocks(req.holder.id, w.type, w.range);
    }
    return flock_.HolderBlocks(req.holder.id, w.type);
  };
  queue_.HoldersAhead(req, before, holder_blocks, out);
  // Deduplicate what this call appended.
  std::sort(out->begin() + static_cast<std::ptrdiff_t>(first), out->end());
  out->erase(std::unique(out->begin() + static_cast<std::ptrdiff_t>(first), out->end()),
             out->end());
}

void InodeLocks::Apply(const LockRequest& req) {
  if (req.holder.space == LockSpace::kPosix) {
    posix_.Apply(req.holder.id, req.type, req.range, req.pid);
  } else if (req.type == LockType::kUnlock) {
    flock_.Remove(req.holder.id);
  } else {
    flock_.Set(req.holder.id, req.type);
  }
}

std::vector<RecordLock> InodeLocks::Locks() const {
  std::vector<RecordLock> out;
  posix_.AppendTo(&out);
  flock_.AppendTo(&out);
  return out;
}

}  // namespace shmheap::lockd
