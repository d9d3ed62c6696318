// PosixLockSet: the granted POSIX record locks of one inode, per owner.
//
// Each owner's locks are kept sorted by start, pairwise disjoint, and with
// touching locks of the same type merged, so a new lock simply replaces the
// owner's locks over its range (POSIX: "the new lock replaces any existing
// lock of the same owner over that range"), which gives splitting on a
// partial unlock, upgrade and downgrade of part of a range, and merging for
// free. Locks of one owner never conflict with each other; locks of
// different owners conflict when they overlap and one of them is a write
// lock. OFD locks reach the engine with the open file as owner, so the
// same rules serve them.
//
// Conflict queries scan every lock of the inode: O(locks). Record-lock sets
// on one object are small in practice; an interval tree is the upgrade path
// if that ever changes.
//
// Thread safety: none; the LockEngine's mutex guards every instance.
#ifndef SHMHEAP_LOCKD_POSIX_LOCKS_H_
#define SHMHEAP_LOCKD_POSIX_LOCKS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include <lockd/lock_engine.hpp>

namespace shmheap::lockd {

class PosixLockSet {
 public:
  // Sets owner's locks over `range` to `type` (kUnlock removes them). Parts
  // of the owner's locks outside `range` keep their type and pid; a piece
  // of the same type touching `range` is merged into the new lock, which
  // takes `pid`. Never fails. REQUIRES: range valid.
  void Apply(std::uint64_t owner, LockType type, const Range& range, std::uint32_t pid);

  // Removes every lock of `owner` (close of any descriptor). Returns true
  // if it held any.
  bool RemoveOwner(std::uint64_t owner);

  // The conflicting lock of another owner with the lowest start (then the
  // lowest owner), or nullopt. REQUIRES: type is kRead or kWrite.
  std::optional<RecordLock> FirstConflict(std::uint64_t owner, LockType type,
                                          const Range& range) const;

  // Appends to *out the owners other than `owner` that hold a lock
  // conflicting with (type, range); each owner once, ascending.
  // REQUIRES: type is kRead or kWrite.
  void ConflictingOwners(std::uint64_t owner, LockType type, const Range& range,
                         std::vector<std::uint64_t>* out) const;

  // True if `holder` holds a lock that conflicts with a request of another
  // owner for (type, range). REQUIRES: type is kRead or kWrite.
  bool HolderBlocks(std::uint64_t holder, LockType type, const Range& range) const;

  // kWrite if any lock is a write lock, else kRead if any lock, else kNone.
  HeapMode Mode() const;

  // The locks of `owner`, sorted by start.
  std::vector<RecordLock> OwnerLocks(std::uint64_t owner) const;

  // Appends every lock to *out, by owner then start.
  void AppendTo(std::vector<RecordLock>* out) const;

  bool empty() const { return by_owner_.empty(); }

 private:
  struct Entry {
    LockType type;  // kRead or kWrite
    Range range;
    std::uint32_t pid;
  };
  // Owner -> its locks, sorted by start, disjoint, touching same-type
  // entries merged. An owner with no locks has no map entry.
  std::map<std::uint64_t, std::vector<Entry>> by_owner_;
};

}  // namespace shmheap::lockd

#endif  // SHMHEAP_LOCKD_POSIX_LOCKS_H_
