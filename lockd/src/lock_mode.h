// Lock types and heap modes: which lock types conflict, the heap mode a lock
// type needs, the two independent lock spaces (POSIX record locks and
// flock locks), the Holder of a lock (wait-for graph node), and names for
// logging.
//
// Thread safety: pure functions and constants.
#ifndef SHMHEAP_LOCKD_LOCK_MODE_H_
#define SHMHEAP_LOCKD_LOCK_MODE_H_

#include <compare>
#include <cstddef>
#include <cstdint>

#include <lockd/lock_engine.hpp>

namespace shmheap::lockd {

// POSIX record locks and flock locks live side by side on one inode and
// never conflict with each other (Linux semantics).
enum class LockSpace : std::uint8_t { kPosix, kFlock };

// Who holds or waits for a lock: a POSIX owner, or an open file for flock
// locks. The two kinds are distinct even when their ids are equal; this is
// the node of the wait-for graph.
struct Holder {
  LockSpace space;
  std::uint64_t id;  // the POSIX owner, or the open file
  friend bool operator==(const Holder&, const Holder&) = default;
  friend auto operator<=>(const Holder&, const Holder&) = default;
  // The id reported outside the engine: file | kFlockOwnerBit for flock.
  std::uint64_t Wire() const { return space == LockSpace::kFlock ? id | kFlockOwnerBit : id; }
};

struct HolderHash {
  std::size_t operator()(const Holder& h) const noexcept {
    return static_cast<std::size_t>(h.id * 0x9E3779B97F4A7C15ull) ^
           static_cast<std::size_t>(h.space);
  }
};

// True if a lock of type `a` and one of type `b`, held by different owners
// over overlapping ranges, conflict: at least one of them is a write lock.
// REQUIRES: neither is kUnlock.
inline bool TypesConflict(LockType a, LockType b) {
  return a == LockType::kWrite || b == LockType::kWrite;
}

// The heap mode a held lock of `type` needs (kUnlock needs none).
inline HeapMode ModeOf(LockType type) {
  switch (type) {
    case LockType::kRead:
      return HeapMode::kRead;
    case LockType::kWrite:
      return HeapMode::kWrite;
    case LockType::kUnlock:
      break;
  }
  return HeapMode::kNone;
}

// True if `a` is a stronger heap mode than `b` (kNone < kRead < kWrite).
inline bool Stronger(HeapMode a, HeapMode b) {
  return static_cast<std::uint8_t>(a) > static_cast<std::uint8_t>(b);
}

// True if `type` is one of the three enumerators (requests come from
// outside; a cast integer must not slip through).
inline bool IsValidType(LockType type) {
  return type == LockType::kRead || type == LockType::kWrite || type == LockType::kUnlock;
}

inline const char* TypeName(LockType type) {
  switch (type) {
    case LockType::kRead:
      return "read";
    case LockType::kWrite:
      return "write";
    case LockType::kUnlock:
      return "unlock";
  }
  return "?";
}

inline const char* ModeName(HeapMode mode) {
  switch (mode) {
    case HeapMode::kNone:
      return "none";
    case HeapMode::kRead:
      return "read";
    case HeapMode::kWrite:
      return "write";
  }
  return "?";
}

}  // namespace shmheap::lockd

#endif  // SHMHEAP_LOCKD_LOCK_MODE_H_
