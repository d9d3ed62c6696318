// ObjectRecord: the persistent description of one object (the object table),
// and IndexEntry: one slot of the name index (name -> record).
//
// Records live in segments found through Superblock::record_segments; segment
// k holds kRecordSeg0 << k records, so record index r never moves and is the
// object's persistent inode number (r + 1). A free record keeps its generation;
// reuse bumps it from Superblock::next_generation, so (inode, generation) is
// never reused while the heap exists.
//
// Concurrency: all fields except `lock_word`, `wake_seq` and `version` are
// written under the heap mutex through the undo log. `lock_word` is the
// object-lock state word (heap/src/object_lock.h); `version` is atomic.
#ifndef SHMHEAP_FORMAT_RECORD_H_
#define SHMHEAP_FORMAT_RECORD_H_

#include "heap/src/format/common.h"

namespace shmheap::format {

inline constexpr std::uint64_t kRecordSeg0 = 256;
inline constexpr std::uint32_t kMaxNameLen = 255;
inline constexpr std::uint32_t kMaxTypeLen = 255;

enum RecordState : std::uint32_t {
  kRecordFree = 0,    // on the free-record list
  kRecordLive = 1,    // named object, present in the index
  kRecordOrphan = 2,  // unlinked but still referenced (open, locked); freed on last release
};

struct ObjectRecord {
  std::uint32_t state;       // 0: RecordState. Other values: kCorruption.
  std::uint32_t lock_word;   // 4: object-lock state (atomic; see object_lock.h).
  std::uint64_t generation;  // 8: bumped on every reuse of this record.
  std::uint64_t data_off;    // 16: file offset of the user data (chunk + 16), 0 = none.
  std::uint64_t size;        // 24: object size in bytes (<= capacity).
  std::uint64_t capacity;    // 32: usable bytes at data_off.
  std::uint64_t version;     // 40: atomic; bumped on write-unlock, resize, replace.
  std::uint64_t name_off;    // 48: file offset of the name bytes (own chunk).
  std::uint32_t name_len;    // 56: 1..kMaxNameLen.
  std::uint32_t name_hash;   // 60: low 32 bits of HashName(name).
  std::uint64_t type_off;    // 64: file offset of the type string, 0 = none.
  std::uint32_t type_len;    // 72: 0..kMaxTypeLen.
  std::uint32_t mode;        // 76: st_mode permission and type bits.
  std::uint32_t uid;         // 80
  std::uint32_t gid;         // 84
  std::int64_t atime_ns;     // 88: CLOCK_REALTIME nanoseconds.
  std::int64_t mtime_ns;     // 96
  std::int64_t ctime_ns;     // 104
  std::uint64_t link;        // 112: free: next free record index + 1 (0 = end).
                             //      live/orphan: offset of the xattr block (0 = none).
  std::uint32_t refs;        // 120: open references (ObjectRef) across all clients.
  std::uint32_t wake_seq;    // 124: futex word lock waiters sleep on.
};
SHMHEAP_FORMAT_STRUCT(ObjectRecord, 128);
SHMHEAP_FORMAT_FIELD(ObjectRecord, lock_word, 4);
SHMHEAP_FORMAT_FIELD(ObjectRecord, generation, 8);
SHMHEAP_FORMAT_FIELD(ObjectRecord, data_off, 16);
SHMHEAP_FORMAT_FIELD(ObjectRecord, version, 40);
SHMHEAP_FORMAT_FIELD(ObjectRecord, name_off, 48);
SHMHEAP_FORMAT_FIELD(ObjectRecord, name_hash, 60);
SHMHEAP_FORMAT_FIELD(ObjectRecord, type_off, 64);
SHMHEAP_FORMAT_FIELD(ObjectRecord, mode, 76);
SHMHEAP_FORMAT_FIELD(ObjectRecord, atime_ns, 88);
SHMHEAP_FORMAT_FIELD(ObjectRecord, link, 112);
SHMHEAP_FORMAT_FIELD(ObjectRecord, refs, 120);
SHMHEAP_FORMAT_FIELD(ObjectRecord, wake_seq, 124);

// IndexEntry: a 64-bit word in the open-addressing name index.
//   0                 empty
//   1                 tombstone (deleted)
//   otherwise         bits 0..39: record index + 1; bits 40..63: top 24 bits of the hash
// The table's capacity is a power of two; linear probing from hash & (cap - 1).
using IndexEntry = std::uint64_t;
inline constexpr IndexEntry kIndexEmpty = 0;
inline constexpr IndexEntry kIndexTombstone = 1;
inline constexpr std::uint64_t kIndexRecordMask = (1ull << 40) - 1;
inline constexpr std::uint64_t kMaxRecords = kIndexRecordMask - 2;

}  // namespace shmheap::format

#endif  // SHMHEAP_FORMAT_RECORD_H_
