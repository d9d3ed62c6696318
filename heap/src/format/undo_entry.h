// UndoEntry: one logged 64-bit word of the undo log.
//
// 32-bit fields are logged at their own width: a neighbouring 32-bit word may
// be an atomic changed outside the heap mutex (ObjectRecord::lock_word), which
// an 8-byte restore would clobber.
//
// Before the heap-mutex holder overwrites any metadata word it appends the
// word's offset and old value here, then bumps Superblock::undo_count, then
// stores the new value. Committing sets undo_count to 0. If the holder dies,
// the next holder restores entries undo_count-1 .. 0 and then zeroes the
// count, so every operation is all-or-nothing with respect to kill -9.
#ifndef SHMHEAP_FORMAT_UNDO_ENTRY_H_
#define SHMHEAP_FORMAT_UNDO_ENTRY_H_

#include "heap/src/format/common.h"

namespace shmheap::format {

inline constexpr std::uint64_t kUndoWidth32 = 1;

struct UndoEntry {
  std::uint64_t offset;     // 0: file offset of the word | width flag. Bit 0 set: a
                            //    4-byte word (4-aligned); clear: 8 bytes (8-aligned).
                            //    offset + width <= file_size, else kCorruption.
  std::uint64_t old_value;  // 8: its content before the operation changed it.
};
SHMHEAP_FORMAT_STRUCT(UndoEntry, 16);
SHMHEAP_FORMAT_FIELD(UndoEntry, old_value, 8);

}  // namespace shmheap::format

#endif  // SHMHEAP_FORMAT_UNDO_ENTRY_H_
