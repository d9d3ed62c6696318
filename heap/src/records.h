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
  // Puts a record back on the free list. REQUIRES: no name, data or holds.
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

}  // namespace shmheap

#endif  // SHMHEAP_RECORDS_H_
