// PosixLockSet (see posix_locks.h): replace-over-range for one owner, and
// conflict queries across owners.
//
// Thread safety: none; the LockEngine's mutex guards every instance.
#include "lockd/src/posix_locks.h"

#include <algorithm>
#include <cassert>

#include "lockd/src/lock_mode.h"
#include "lockd/src/range.h"

namespace shmheap::lockd {

void PosixLockSet::Apply(std::uint64_t owner, LockType type, const Range& range,
                         std::uint32_t pid) {
  assert(IsValid(range));
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) {
    if (type == LockType::kUnlock) return;
    it = by_owner_.emplace(owner, std::vector<Entry>{}).first;
  }
  // 1. Cut `range` out of every lock of the owner (this splits a lock that
  //    strictly contains it in two).
  std::vector<Entry> kept;
  kept.reserve(it->second.size() + 2);
  for (const Entry& e : it->second) {
    for (const Range& piece : Subtract(e.range, range)) kept.push_back(Entry{e.type, piece, e.pid});
  }
  // 2. Insert the new lock, absorbing pieces of the same type that touch it.
  //    After step 1 those can only be its immediate neighbours, so the hull
  //    stays contiguous and disjoint from everything else.
  if (type != LockType::kUnlock) {
    Entry added{type, range, pid};
    std::vector<Entry> rest;
    rest.reserve(kept.size() + 1);
    for (const Entry& e : kept) {
      if (e.type == type && Touches(e.range, added.range)) {
        added.range = Hull(added.range, e.range);
      } else {
        rest.push_back(e);
      }
    }
    rest.push_back(added);
    kept = std::move(rest);
  }
  if (kept.empty()) {
    by_owner_.erase(it);
    return;
  }
  std::sort(kept.begin(), kept.end(),
            [](const Entry& a, const Entry& b) { return a.range.start < b.range.start; });
  it->second = std::move(kept);
}

bool PosixLockSet::RemoveOwner(std::uint64_t owner) { return by_owner_.erase(owner) > 0; }

std::optional<RecordLock> PosixLockSet::FirstConflict(std::uint64_t owner, LockType type,
                                                      const Range& range) const {
  std::optional<RecordLock> best;
  for (const auto& [holder, entries] : by_owner_) {
    if (holder == owner) continue;
    for (const Entry& e : entries) {
      if (e.range.start > range.end) break;  // sorted: the rest start later
      if (!Overlaps(e.range, range) || !TypesConflict(e.type, type)) continue;
      // Owners are visited in ascending order, so a strictly lower start is
      // needed to replace an earlier find.
      if (!best || e.range.start < best->range.start) {
        best = RecordLock{e.type, e.range, holder, e.pid};
      }
      break;  // later entries of this holder start later
    }
  }
  return best;
}

void PosixLockSet::ConflictingOwners(std::uint64_t owner, LockType type, const Range& range,
                                     std::vector<std::uint64_t>* out) const {
  for (const auto& [holder, entries] : by_owner_) {
    if (holder != owner && HolderBlocks(holder, type, range)) out->push_back(holder);
  }
}

bool PosixLockSet::HolderBlocks(std::uint64_t holder, LockType type, const Range& range) const {
  auto it = by_owner_.find(holder);
  if (it == by_owner_.end()) return false;
  for (const Entry& e : it->second) {
    if (e.range.start > range.end) break;
    if (Overlaps(e.range, range) && TypesConflict(e.type, type)) return true;
  }
  return false;
}

HeapMode PosixLockSet::Mode() const {
  HeapMode mode = HeapMode::kNone;
  for (const auto& [holder, entries] : by_owner_) {
    for (const Entry& e : entries) {
      if (e.type == LockType::kWrite) return HeapMode::kWrite;
      mode = HeapMode::kRead;
    }
  }
  return mode;
}

std::vector<RecordLock> PosixLockSet::OwnerLocks(std::uint64_t owner) const {
  std::vector<RecordLock> out;
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return out;
  for (const Entry& e : it->second) out.push_back(RecordLock{e.type, e.range, owner, e.pid});
  return out;
}

void PosixLockSet::AppendTo(std::vector<RecordLock>* out) const {
  for (const auto& [holder, entries] : by_owner_) {
    for (const Entry& e : entries) out->push_back(RecordLock{e.type, e.range, holder, e.pid});
  }
}

}  // namespace shmheap::lockd
