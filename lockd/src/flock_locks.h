// FlockLockSet: the granted flock(2) locks of one inode, one per open file.
//
// A flock lock belongs to the open file (all descriptors dup'ed or
// inherited from one open share it), always covers the whole file, and is
// shared (kRead) or exclusive (kWrite). Flock locks conflict only with
// other files' flock locks, never with POSIX record locks. Conversion
// between shared and exclusive is done by the engine as release-then-
// acquire (Linux semantics); this set only stores the current lock.
//
// Thread safety: none; the LockEngine's mutex guards every instance.
#ifndef SHMHEAP_LOCKD_FLOCK_LOCKS_H_
#define SHMHEAP_LOCKD_FLOCK_LOCKS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include <lockd/lock_engine.hpp>

namespace shmheap::lockd {

class FlockLockSet {
 public:
  // The lock `file` holds, or nullopt.
  std::optional<LockType> Find(std::uint64_t file) const;

  // Sets the lock of `file` to `type`, replacing any it held.
  // REQUIRES: type is kRead or kWrite.
  void Set(std::uint64_t file, LockType type);

  // Drops the lock of `file`. Returns true if it held one.
  bool Remove(std::uint64_t file);

  // Appends to *out the files other than `file` whose lock conflicts with a
  // request for `type`, ascending. REQUIRES: type is kRead or kWrite.
  void ConflictingFiles(std::uint64_t file, LockType type, std::vector<std::uint64_t>* out) const;

  // True if `holder` holds a lock that conflicts with another file's
  // request for `type`. REQUIRES: type is kRead or kWrite.
  bool HolderBlocks(std::uint64_t holder, LockType type) const;

  // kWrite if any lock is exclusive, else kRead if any lock, else kNone.
  HeapMode Mode() const;

  // Appends every lock to *out by file, as a RecordLock with owner =
  // file | kFlockOwnerBit, range [0, kEof] and pid 0.
  void AppendTo(std::vector<RecordLock>* out) const;

  bool empty() const { return by_file_.empty(); }

 private:
  std::map<std::uint64_t, LockType> by_file_;  // file -> kRead or kWrite
};

}  // namespace shmheap::lockd

#endif  // SHMHEAP_LOCKD_FLOCK_LOCKS_H_
