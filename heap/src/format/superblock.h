// The superblock: block 0 of every heap file.
//
// It identifies the file (magic, version, byte-order mark, UUID), records the
// geometry (file size, maximum size, where every region starts), holds the
// heap mutex that serialises all metadata changes, the undo-log fill count,
// and the roots of the allocator, the record table and the name index.
//
// Concurrency: fields marked "heap mutex" are written only by the holder of
// `heap_mutex` and only through the undo log (heap/src/undo_log.h), so a
// kill -9 at any instant is rolled back by the next holder. Fields marked
// "atomic" are read without the mutex through std::atomic_ref.
//
// Format version 2 (version 1 files are read and written as version 1: see
// kFormatVersion). No libc type (pthread_mutex_t, ...) is stored anywhere in
// the file: locks are plain 32-bit futex words, so the file does not depend on
// the libc ABI and i386 and x86_64 processes can share it.
#ifndef SHMHEAP_FORMAT_SUPERBLOCK_H_
#define SHMHEAP_FORMAT_SUPERBLOCK_H_

#include "heap/src/format/common.h"

namespace shmheap::format {

inline constexpr std::uint64_t kMagic = 0x3150414548484D53ull;  // "SMHHEAP1" LE
// Version 2 adds one flag to free-run PageInfo heads (kFreeRunHoles: the run
// may contain punched holes whose disk blocks must be reserved again before
// the blocks are handed out). A version-1 file has that byte zero
// everywhere, so this library opens it unchanged and never punches holes in
// it (an older library would not re-reserve them); new heaps are version 2.
inline constexpr std::uint32_t kFormatVersion = 3;
inline constexpr std::uint32_t kOldestFormatVersion = 1;
inline constexpr std::uint32_t kByteOrderMark = 0x01020304u;
inline constexpr std::uint32_t kNumSmallClasses = 24;
inline constexpr std::uint32_t kNumRunBins = 64;
inline constexpr std::uint32_t kNumRecordSegments = 32;
inline constexpr std::uint32_t kMaxClients = 1024;
inline constexpr std::uint32_t kUndoCapacity = 8192;  // entries of 16 bytes

// Clean-close flag values.
inline constexpr std::uint32_t kStateOpen = 0;         // attached, or crashed
inline constexpr std::uint32_t kStateCleanClose = 1;   // last client detached cleanly

struct Superblock {
  // --- identity (written once at creation) ---
  std::uint64_t magic;             // 0: kMagic. Anything else: not a heap (kCorruption).
  std::uint32_t format_version;    // 8: kOldestFormatVersion..kFormatVersion. Other: kVersionMismatch.
  std::uint32_t byte_order_mark;   // 12: kByteOrderMark as written by the creator.
  std::uint32_t block_size;        // 16: kBlockSize.
  std::uint32_t superblock_size;   // 20: sizeof(Superblock) == kBlockSize.
  std::uint8_t uuid[16];           // 24: random at creation; names the heap.
  std::uint64_t create_time_ns;    // 40: CLOCK_REALTIME at creation.
  // --- geometry ---
  std::uint64_t file_size;         // 48: atomic; heap mutex. Bytes in use by the heap,
                                   //     a multiple of kBlockSize, <= max_size, <= the
                                   //     real file size. Grows only.
  std::uint64_t max_size;          // 56: fixed at creation; file_size never exceeds it.
  std::uint64_t undo_off;          // 64: offset of the undo log (kUndoCapacity entries).
  std::uint64_t client_table_off;  // 72: offset of kMaxClients ClientSlot entries.
  std::uint64_t arena_start;       // 80: first block managed by the allocator.
  // --- state ---
  std::uint32_t clean_state;       // 88: kStateOpen / kStateCleanClose (heap mutex).
  std::uint32_t heap_mutex;        // 92: futex word, see heap/src/shared_mutex.h.
  std::uint32_t undo_count;        // 96: atomic; entries of the undo log in use.
  std::uint32_t index_seq;         // 100: atomic seqlock: odd while the index changes.
  std::uint64_t mutation_seq;      // 104: atomic, never logged; bumped under the heap mutex
                                   //     by each commit or rollback of a non-empty undo log.
  // --- allocator (heap mutex) ---
  std::uint64_t pageinfo_off;      // 112: offset of the PageInfo table (a run it describes).
  std::uint64_t pageinfo_count;    // 120: entries in that table (blocks it covers).
  std::uint32_t small_heads[kNumSmallClasses];  // 128: per class, first page with free
                                   //     blocks (block number, 0 = none).
  std::uint32_t run_bins[kNumRunBins];  // 224: per bin, first free run (block number, 0 = none).
  std::uint64_t bytes_in_use;      // 480: user bytes currently allocated (requested sizes).
  std::uint64_t blocks_in_use;     // 488: allocated arena blocks (small pages count whole).
  std::uint64_t alloc_count;       // 496: live allocations (named and anonymous).
  // --- records (heap mutex) ---
  std::uint64_t record_segments[kNumRecordSegments];  // 504: segment k holds
                                   //     (kRecordSeg0 << k) records; 0 = not allocated.
  std::uint64_t record_high;       // 760: record indexes ever handed out.
  std::uint64_t record_free;       // 768: head of the free-record list (index + 1; 0 = none).
  std::uint64_t records_live;      // 776: named objects plus orphans.
  std::uint64_t next_generation;   // 784: next generation number (starts at 1, never reused).
  // --- name index (heap mutex; read lock-free under index_seq) ---
  std::uint64_t index_table;       // 792: data offset of the table (IndexEntry[index_capacity]).
  std::uint64_t index_live;        // 800: live entries.
  std::uint64_t index_tombstones;  // 808: deleted entries not yet purged.
  // --- misc ---
  std::uint64_t heap_id;           // 816: persistent small id chosen at creation (random).
  std::uint64_t recoveries;        // 824: times recovery rolled back an operation.
  std::uint64_t index_capacity;    // 832: entries in the index table, a power of two >= 1024.
  std::uint32_t client_high;       // 840: atomic; highest client slot ever used + 1 (scans of the
                                   //     client table stop here). Only grows. <= kMaxClients.
  std::uint32_t reserved0;         // 844: zero.
  std::uint8_t reserved[kBlockSize - 848];  // zero
};
SHMHEAP_FORMAT_STRUCT(Superblock, kBlockSize);
SHMHEAP_FORMAT_FIELD(Superblock, format_version, 8);
SHMHEAP_FORMAT_FIELD(Superblock, uuid, 24);
SHMHEAP_FORMAT_FIELD(Superblock, file_size, 48);
SHMHEAP_FORMAT_FIELD(Superblock, max_size, 56);
SHMHEAP_FORMAT_FIELD(Superblock, undo_off, 64);
SHMHEAP_FORMAT_FIELD(Superblock, client_table_off, 72);
SHMHEAP_FORMAT_FIELD(Superblock, arena_start, 80);
SHMHEAP_FORMAT_FIELD(Superblock, clean_state, 88);
SHMHEAP_FORMAT_FIELD(Superblock, heap_mutex, 92);
SHMHEAP_FORMAT_FIELD(Superblock, undo_count, 96);
SHMHEAP_FORMAT_FIELD(Superblock, index_seq, 100);
SHMHEAP_FORMAT_FIELD(Superblock, mutation_seq, 104);
SHMHEAP_FORMAT_FIELD(Superblock, pageinfo_off, 112);
SHMHEAP_FORMAT_FIELD(Superblock, small_heads, 128);
SHMHEAP_FORMAT_FIELD(Superblock, run_bins, 224);
SHMHEAP_FORMAT_FIELD(Superblock, bytes_in_use, 480);
SHMHEAP_FORMAT_FIELD(Superblock, record_segments, 504);
SHMHEAP_FORMAT_FIELD(Superblock, record_high, 760);
SHMHEAP_FORMAT_FIELD(Superblock, next_generation, 784);
SHMHEAP_FORMAT_FIELD(Superblock, index_table, 792);
SHMHEAP_FORMAT_FIELD(Superblock, heap_id, 816);
SHMHEAP_FORMAT_FIELD(Superblock, recoveries, 824);
SHMHEAP_FORMAT_FIELD(Superblock, index_capacity, 832);
SHMHEAP_FORMAT_FIELD(Superblock, client_high, 840);

}  // namespace shmheap::format

#endif  // SHMHEAP_FORMAT_SUPERBLOCK_H_
