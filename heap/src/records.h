// RecordTable: the object table (PUPS/P3's "table of the objects"). Maps a
// record index, which is also the object's persistent inode number minus one,
// to its ObjectRecord. Records never move; segments are added as the table
// grows (segment k holds format::kRecordSeg0 << k records).
//
// Get() is safe without the heap mutex (segment pointers only go from 0 to a
// value, and every index and offset is validated); Allocate/Free REQUIRE the
// heap mutex.
#ifndef SHMHEAP_RECORDS_H_
#define SHMHEAP_RECORDS_H_

#include <cstdint>

#include <shmheap/status.hpp>

#include "heap/src/arena.h"
#include "heap/src/format/record.h"

namespace shmheap {

// The fields that readers without the heap mutex check before trusting a
// record (Resolve, IdOf, Stat): loaded atomically here, stored with
// UndoLog::SetAtomic.
inline std::uint32_t LoadState(const format::ObjectRecord& r) {
  return AtomicField(const_cast<format::ObjectRecord&>(r).state).load(std::memory_order_acquire);
}
inline std::uint64_t LoadGeneration(const format::ObjectRecord& r) {
  return AtomicField(const_cast<format::ObjectRecord&>(r).generation).load(std::memory_order_acquire);
}
inline bool IsLiveOrOrphan(std::uint32_t state) {
  return state == format::kRecordLive || state == format::kRecordOrphan;
}

class RecordTable {
 public:
  RecordTable(const Space* space, UndoLog* log, Arena* arena) : space_(space), log_(log), arena_(arena) {}

  // The record at `index`, or nullptr if the index was never handed out or
  // its segment is invalid.
  format::ObjectRecord* Get(std::uint64_t index) const;

  // Takes a free record (or a new one), gives it a fresh generation and
  // clears its fields (except the atomics lock_word, wake_seq and version).
  // The record stays free until the caller stores (logged) its `state`; up
  // to then the caller may write its other fields directly, unlogged.
  // Errors: kNoSpace, kCorruption.
  Result<std::uint64_t> Allocate();
  // Puts a record back on the free list. REQUIRES: its chunks freed (the
  // offsets may stay: nothing reads a free record's fields), no holds.
  void Free(std::uint64_t index);

  // Records ever handed out (valid indexes are below this).
  std::uint64_t high() const;

  // Segment of a record index and its first index.
  static unsigned SegmentOf(std::uint64_t index, std::uint64_t* first);

 private:
  const Space* space_;
  UndoLog* log_;
  Arena* arena_;
};

// Inline: every lookup, lock and unlock resolves a record.

inline unsigned RecordTable::SegmentOf(std::uint64_t index, std::uint64_t* first) {
  // Segment k covers [kRecordSeg0 * (2^k - 1), kRecordSeg0 * (2^(k+1) - 1)).
  std::uint64_t q = index / format::kRecordSeg0 + 1;
  unsigned k = 63 - static_cast<unsigned>(__builtin_clzll(q));
  *first = format::kRecordSeg0 * ((1ull << k) - 1);
  return k;
}

inline std::uint64_t RecordTable::high() const {
  return AtomicField(space_->sb()->record_high).load(std::memory_order_acquire);
}

inline format::ObjectRecord* RecordTable::Get(std::uint64_t index) const {
  if (index >= high()) return nullptr;
  std::uint64_t first;
  unsigned k = SegmentOf(index, &first);
  if (k >= format::kNumRecordSegments) return nullptr;
  std::uint64_t seg = AtomicField(space_->sb()->record_segments[k]).load(std::memory_order_acquire);
  if (seg == 0) return nullptr;
  return space_->At<format::ObjectRecord>(seg + (index - first) * sizeof(format::ObjectRecord));
}

}  // namespace shmheap

#endif  // SHMHEAP_RECORDS_H_
