// Arena: the allocator of a heap file, in the style of Mike Haertel's GNU
// malloc (which PUPS/P3 used): small requests share blocks carved into equal
// chunks of one size class; large ones take runs of whole blocks; free runs
// coalesce with their neighbours and sit in size bins; the file grows when no
// run fits. The per-block table (format/page_info.h) is itself arena memory
// and is rebuilt larger as the file grows.
//
// Every chunk starts with a 16-byte ChunkHeader; the offsets handed out point
// just past it ("data offsets").
//
// REQUIRES for every mutating method: the caller holds the heap mutex and will
// Commit() or lose the whole operation. The arena does no locking itself,
// knows nothing of names, and does file I/O only through BackingFile (growing
// the file, reserving disk blocks, punching holes).
#ifndef SHMHEAP_ARENA_H_
#define SHMHEAP_ARENA_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <shmheap/status.hpp>

#include "heap/src/format/chunk_header.h"
#include "heap/src/format/page_info.h"
#include "heap/src/space.h"
#include "heap/src/undo_log.h"

namespace shmheap {

class BackingFile;

struct ArenaStats {
  std::uint64_t file_size = 0;       // bytes the heap uses
  std::uint64_t max_size = 0;
  std::uint64_t arena_blocks = 0;    // blocks managed by the allocator
  std::uint64_t free_blocks = 0;     // in free runs
  std::uint64_t free_runs = 0;
  std::uint64_t largest_free_run = 0;  // blocks
  std::uint64_t small_blocks = 0;    // blocks carved into chunks
  std::uint64_t small_free_chunk_bytes = 0;  // free space inside small blocks
  std::uint64_t large_blocks = 0;    // blocks in allocated runs
  std::uint64_t allocations = 0;     // live chunks
  std::uint64_t chunk_bytes = 0;     // usable bytes of live chunks
  // 1 - chunk_bytes / occupied: space lost to headers and partly used small
  // blocks. (Heap::Stats refines it with objects' requested sizes.)
  double internal_fragmentation = 0;
  // 1 - largest_free_run / free_blocks: how scattered free space is.
  double external_fragmentation = 0;
};

// Per size class: chunks per block, and the constant of a division-free test
// for "offset is a multiple of the class size" (Lemire, Kaser and Kurz,
// "Faster remainder by direct computation", 2019: n % d == 0 exactly when
// n * c <= c - 1 in 64-bit arithmetic, c = 2^64 / d + 1, for every 32-bit n).
// A hardware division measured as a tenth of a named alloc+free.
struct SizeClassMath {
  std::uint64_t multiple_c;
  std::uint32_t per_block;
};
inline constexpr auto kSizeClassMath = [] {
  std::array<SizeClassMath, format::kNumSmallClasses> t{};
  for (std::size_t i = 0; i < t.size(); ++i) {
    t[i] = {~0ull / format::kSmallClassSizes[i] + 1, format::kBlockSize / format::kSmallClassSizes[i]};
  }
  return t;
}();
// True if `off` is a multiple of size class `cls`'s chunk size.
inline bool ClassMultiple(std::uint32_t off, int cls) {
  const std::uint64_t c = kSizeClassMath[static_cast<std::size_t>(cls)].multiple_c;
  return std::uint64_t{off} * c <= c - 1;
}

class Arena {
 public:
  Arena(const Space* space, UndoLog* log, BackingFile* file)
      : space_(space), log_(log), file_(file) {}

  // Lays out a fresh arena in a new file: marks blocks [0, first_block) as
  // system blocks, places the page-info table at first_block, and makes the
  // rest of `file_blocks` one free run. Unlogged (the file is not yet visible).
  static Status Format(const Space& space, std::uint32_t first_block, std::uint32_t file_blocks);

  // Allocates at least `size` bytes; the chunk header records `owner` (record
  // index + 1, or 0). Grows the file if needed. Returns the data offset.
  // Errors: kNoSpace (at max_size, or disk full), kCorruption.
  Result<std::uint64_t> Allocate(std::uint64_t size, std::uint64_t owner);

  // Frees the chunk whose data starts at `data_off` when the operation
  // commits (FlushFrees). Errors: kInvalidArgument if `data_off` is not the
  // data offset of an allocated chunk (or is already being freed).
  //
  // Why deferred: an operation may write "fresh" memory it allocated
  // without logging, because a rollback makes it unreachable again. Memory
  // the same operation freed is not fresh: a rollback makes it live again,
  // with whatever the unlogged writes left in it. Deferring every free of
  // committed memory to the end of the operation means an operation is
  // never handed memory it freed itself.
  Status Free(std::uint64_t data_off);
  // Performs the deferred frees (logged), then ApplyCounts. Called just
  // before commit.
  Status FlushFrees();
  // Stores the operation's changes to the superblock's chunk counts
  // (alloc_count, bytes_in_use), kept process-local until then: an
  // operation allocating or freeing several chunks logs each count once.
  // Every commit of an operation that may have allocated or freed goes
  // through FlushFrees or this.
  void ApplyCounts();
  // Forgets the deferred frees, holes and counts (the operation is being
  // rolled back).
  void DropFrees() {
    pending_.clear();
    holes_.clear();
    alloc_delta_ = 0;
    bytes_delta_ = 0;
  }
  // Gives the disk blocks of the large runs this operation freed back to the
  // file system (version-2 heaps). REQUIRES: the operation has committed and
  // the heap mutex is still held, so that nobody can have reallocated them.
  // Failure only costs disk space: it is logged, never returned.
  void PunchHoles();

  // Gives every wholly free small block (each class keeps one for cheap
  // reuse) back to the free runs. Runs before the file is grown.
  void Trim();

  // Grows the chunk at `data_off` in place to hold `size` bytes, taking the
  // free run after it (growing the file if the chunk ends it). kNoSpace if
  // it cannot grow in place (the caller moves the data instead).
  //
  // Version 3: new blocks at or past file offset `reserve_below` are not
  // reserved (the chunk is flagged kLargeRunHoles instead); the caller
  // reserves them with ReserveWithin as the object's size reaches them, or
  // writes them through the file descriptor before committing.
  // Returns false if there is no room to grow in place (nothing changed,
  // except perhaps a growth of the file, which leaves a consistent heap);
  // an error (ENOSPC reserving the blocks, corruption) fails the operation.
  Result<bool> Extend(std::uint64_t data_off, std::uint64_t size, std::uint64_t reserve_below = ~0ull);
  // Reserves disk for bytes [from, to) of the chunk at `data_off` if it is a
  // large chunk flagged kLargeRunHoles (else nothing to do). kNoSpace.
  Status ReserveWithin(std::uint64_t data_off, std::uint64_t from, std::uint64_t to);
  // True if the heap reserves lazily (version 3): see Grow and Extend.
  bool lazy_reserve() const { return space_->sb()->format_version >= 3; }
  // Shrinks a large chunk in place to the blocks `size` bytes need, freeing
  // the tail. No-op for small chunks.
  Status Shrink(std::uint64_t data_off, std::uint64_t size);

  // Validated header of the allocated chunk at `data_off` (nullptr if none).
  format::ChunkHeader* Header(std::uint64_t data_off) const;
  // Usable bytes of the allocated chunk at `data_off` (0 if not a chunk).
  std::uint64_t Capacity(std::uint64_t data_off) const;
  // Logged change of the owner recorded in a chunk header.
  void SetOwner(std::uint64_t data_off, std::uint64_t owner);

  // Adds `size` requested bytes to (or removes from) the accounting.
  void Account(std::int64_t delta_bytes);

  // Walks every block. Reports each broken invariant (tiling, kinds, bins,
  // small-block free lists, counts) into `problems`, and each allocated chunk
  // to `chunk` (data offset, capacity, owner) when given.
  struct ChunkVisitor {
    virtual void Chunk(std::uint64_t data_off, std::uint64_t capacity, std::uint64_t owner) = 0;
    virtual ~ChunkVisitor() = default;
  };
  void Check(std::vector<std::string>* problems, ChunkVisitor* chunk) const;

  ArenaStats Stats() const;

  // Size class for a chunk of `total` bytes (header included), or -1 if large.
  static int ClassFor(std::uint64_t total);

 private:
  // Inline (below the class): every allocation and free goes through them.
  format::PageInfo* Table() const;
  format::PageInfo* Info(std::uint32_t block) const;
  std::uint32_t FileBlocks() const;

  Result<std::uint64_t> AllocateSmall(int cls, std::uint64_t owner);
  Result<std::uint32_t> AllocateRun(std::uint32_t blocks);
  Status FreeSmall(std::uint32_t block, std::uint32_t in_block);
  // `holes`: the blocks are about to have their disk space punched out (the
  // merged run gets kFreeRunHoles).
  Status FreeRun(std::uint32_t head, std::uint32_t blocks, bool holes = false);
  // FreeRun for a deferred free of committed blocks: large enough runs are
  // queued for PunchHoles.
  Status FreeCommittedRun(std::uint32_t head, std::uint32_t blocks);
  // Reserves disk for blocks taken from a free run whose head had `flags`.
  Status ReserveIfHoles(std::uint8_t flags, std::uint32_t head, std::uint32_t blocks);
  // `lazy`: leave the new space unreserved (flagged kFreeRunHoles) in a
  // version-3 heap; Extend asks for it when the caller writes the blocks.
  // `*changed` (if given) becomes true once the heap's size is changed: a
  // failure after that leaves the operation to be rolled back.
  Status Grow(std::uint32_t min_blocks, bool lazy = false, bool* changed = nullptr);
  Status GrowTable(std::uint32_t old_blocks, std::uint32_t new_blocks, bool lazy);

  // Free-run bins.
  static std::uint32_t BinFor(std::uint32_t blocks);
  void BinInsert(std::uint32_t head, std::uint32_t blocks);
  void BinRemove(std::uint32_t head);
  void MarkFreeRun(std::uint32_t head, std::uint32_t blocks, std::uint8_t flags = 0);
  void MarkLargeRun(std::uint32_t head, std::uint32_t blocks, std::uint8_t flags = 0);
  // Small-class lists.
  void ClassPush(int cls, std::uint32_t block);
  void ClassRemove(int cls, std::uint32_t block);

  void WriteHeader(std::uint64_t chunk_off, std::uint64_t owner);
  Status FreeNow(std::uint64_t data_off);

  // Frees deferred to the end of the operation. Process-local; operations
  // of one process are serialised by the heap mutex, so one list suffices.
  struct PendingFree {
    bool chunk;          // a chunk (data offset in `at`) or a run of blocks
    std::uint64_t at;    // data offset, or first block
    std::uint32_t blocks;
  };
  std::vector<PendingFree> pending_;
  std::vector<PendingFree> flushing_;  // FlushFrees' spare buffer
  struct Hole {
    std::uint32_t head, blocks;
  };
  std::vector<Hole> holes_;  // runs freed by this operation, punched after commit
  bool punch_unsupported_ = false;
  // Changes to alloc_count and bytes_in_use not yet stored (ApplyCounts).
  void CountChunk(std::int64_t chunks, std::int64_t bytes) {
    alloc_delta_ += chunks;
    bytes_delta_ += bytes;
  }
  std::int64_t alloc_delta_ = 0;
  std::int64_t bytes_delta_ = 0;

  const Space* space_;
  UndoLog* log_;
  BackingFile* file_;
};

inline format::PageInfo* Arena::Table() const {
  const auto* sb = space_->sb();
  return space_->At<format::PageInfo>(sb->pageinfo_off, sb->pageinfo_count);
}

inline std::uint32_t Arena::FileBlocks() const {
  return static_cast<std::uint32_t>(space_->sb()->file_size >> format::kBlockShift);
}

inline format::PageInfo* Arena::Info(std::uint32_t block) const {
  if (block >= space_->sb()->pageinfo_count || block >= FileBlocks()) return nullptr;
  format::PageInfo* t = Table();
  return t ? t + block : nullptr;
}

inline format::ChunkHeader* Arena::Header(std::uint64_t data_off) const {
  constexpr std::uint64_t kHeader = sizeof(format::ChunkHeader);
  if (data_off < kHeader) return nullptr;
  const std::uint64_t chunk = data_off - kHeader;
  const auto b = static_cast<std::uint32_t>(chunk >> format::kBlockShift);
  const auto in = static_cast<std::uint32_t>(chunk & (format::kBlockSize - 1));
  format::PageInfo* info = Info(b);
  if (!info) return nullptr;
  if (info->kind == format::kPageSmall) {
    if (info->size_class >= format::kNumSmallClasses) return nullptr;
    const std::uint32_t csize = format::kSmallClassSizes[info->size_class];
    if (!ClassMultiple(in, info->size_class) || in + csize > format::kBlockSize) return nullptr;
  } else if (info->kind != format::kPageLargeHead || in != 0) {
    return nullptr;
  }
  auto* h = space_->At<format::ChunkHeader>(chunk);
  return (h && h->magic == format::kChunkMagic) ? h : nullptr;
}

}  // namespace shmheap

#endif  // SHMHEAP_ARENA_H_
