// FlockLockSet (see flock_locks.h): whole-file locks keyed by open file.
//
// Thread safety: none; the LockEngine's mutex guards every instance.
#include "lockd/src/flock_locks.h"

#include <cassert>

#include "lockd/src/lock_mode.h"
#include "lockd/src/range.h"

namespace shmheap::lockd {

std::optional<LockType> FlockLockSet::Find(std::uint64_t file) const {
  auto it = by_file_.find(file);
  if (it == by_file_.end()) return std::nullopt;
  return it->second;
}

void FlockLockSet::Set(std::uint64_t file, LockType type) {
  assert(type != LockType::kUnlock);
  by_file_[file] = type;
}

bool FlockLockSet::Remove(std::uint64_t file) { return by_file_.erase(file) > 0; }

void FlockLockSet::ConflictingFiles(std::uint64_t file, LockType type,
                                    std::vector<std::uint64_t>* out) const {
  for (const auto& [holder, held] : by_file_) {
    if (holder != file && TypesConflict(held, type)) out->push_back(holder);
  }
}

bool FlockLockSet::HolderBlocks(std::uint64_t holder, LockType type) const {
  auto it = by_file_.find(holder);
  return it != by_file_.end() && TypesConflict(it->second, type);
}

HeapMode FlockLockSet::Mode() const {
  HeapMode mode = HeapMode::kNone;
  for (const auto& [holder, held] : by_file_) {
    if (held == LockType::kWrite) return HeapMode::kWrite;
    mode = HeapMode::kRead;
  }
  return mode;
}

void FlockLockSet::AppendTo(std::vector<RecordLock>* out) const {
  for (const auto& [holder, held] : by_file_) {
    out->push_back(RecordLock{held, kWholeFile, holder | kFlockOwnerBit, 0});
  }
}

}  // namespace shmheap::lockd
