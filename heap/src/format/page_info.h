// PageInfo: one 16-byte entry per arena block, GNU-malloc style ("heapinfo").
//
// The table is itself a run of blocks in the arena, found through
// Superblock::pageinfo_off/pageinfo_count. When the file grows past the blocks
// the table covers, a larger table is built in the new space, then published
// with one logged store (the old run is freed in the same operation).
//
// Block kinds:
//  - kSystem: superblock, undo log, client table. Never allocated or freed.
//  - kFreeHead/kFreeTail: a free run of `count` blocks. The head carries the
//    bin links; a run of 2+ blocks also marks its last block kFreeTail with the
//    same count, so a block freed just after it can find the head and coalesce.
//  - kLargeHead/kLargeBody: an allocated run of `count` blocks (body entries hold
//    the head block number in `count`).
//  - kSmall: a block carved into equal chunks of small class `size_class`.
//    `free_count` chunks are free, threaded through `first_free` (byte offset
//    within the block of the first free chunk; kNoChunk = none).
//    Version 2: the head's `size_class` byte holds flags (kFreeRunHoles);
//    any other bit is kCorruption. Version 1 files keep it 0.
//  - kInterior: interior blocks of a free run (content irrelevant). Set so that
//    check() can verify that runs tile the arena.
// Written only under the heap mutex, through the undo log.
#ifndef SHMHEAP_FORMAT_PAGE_INFO_H_
#define SHMHEAP_FORMAT_PAGE_INFO_H_

#include "heap/src/format/common.h"

namespace shmheap::format {

enum PageKind : std::uint8_t {
  kPageUnused = 0,  // beyond file_size
  kPageSystem = 1,
  kPageFreeHead = 2,
  kPageFreeTail = 3,
  kPageLargeHead = 4,
  kPageLargeBody = 5,
  kPageSmall = 6,
  kPageInterior = 7,
};

inline constexpr std::uint32_t kNoChunk = 0xFFFFFFFFu;

// Free-run head flag (in `size_class`): some blocks of the run were given
// back to the file system (hole punched) after a large free. Whoever
// allocates blocks from such a run reserves them again (fallocate) first.
// Coalescing ORs the flags; a split keeps them on both parts.
inline constexpr std::uint8_t kFreeRunHoles = 1;
// Large-run head flag (in `size_class`, version 3): blocks of the run past
// its owner's size may be holes (never reserved: grown space is reserved as
// it is handed out, and a chunk's growth margin only as its size reaches
// it). Freeing such blocks gives a run flagged kFreeRunHoles.
inline constexpr std::uint8_t kLargeRunHoles = 1;

struct PageInfo {
  std::uint8_t kind;         // 0: PageKind. Unknown value: kCorruption.
  std::uint8_t size_class;   // 1: kSmall: index into kSmallClassSizes.
  std::uint16_t free_count;  // 2: kSmall: free chunks in the block.
  std::uint32_t count;       // 4: free/large runs: blocks in the run (>= 1).
                             //    kLargeBody: head block number. kSmall: first_free.
  std::uint32_t prev;        // 8: free run / small block: previous in its list (0 = none).
  std::uint32_t next;        // 12: next in its list (0 = none).
};
SHMHEAP_FORMAT_STRUCT(PageInfo, 16);
SHMHEAP_FORMAT_FIELD(PageInfo, count, 4);
SHMHEAP_FORMAT_FIELD(PageInfo, prev, 8);
SHMHEAP_FORMAT_FIELD(PageInfo, next, 12);

// Small size classes, in bytes, including the 16-byte ChunkHeader. Requests
// whose size plus header exceeds the last class take a run of whole blocks.
inline constexpr std::uint32_t kSmallClassSizes[] = {
    32,  48,  64,  80,  96,  112, 128, 144, 160, 176, 192,  224,
    256, 288, 320, 368, 448, 512, 576, 672, 816, 1024, 1360, 2048};
static_assert(sizeof(kSmallClassSizes) / sizeof(kSmallClassSizes[0]) == 24);
inline constexpr std::uint32_t kMaxSmallChunk = 2048;

}  // namespace shmheap::format

#endif  // SHMHEAP_FORMAT_PAGE_INFO_H_
