// Arena implementation. See arena.h for the model and format/page_info.h for
// the per-block table. Every value read from the table or from a chunk is
// validated before it is used as an index or offset; a bad one yields
// kCorruption and the operation (not yet committed) is abandoned.
#include "heap/src/arena.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "heap/src/backing_file.h"
#include "heap/src/log.h"

namespace shmheap {

using format::ChunkHeader;
using format::kBlockShift;
using format::kBlockSize;
using format::kChunkMagic;
using format::kNoChunk;
using format::kNumRunBins;
using format::kNumSmallClasses;
using format::kSmallClassSizes;
using format::PageInfo;

namespace {

constexpr std::uint64_t kHeader = sizeof(ChunkHeader);
constexpr std::uint32_t kMinGrowBlocks = 256;  // 1 MiB
constexpr int kMaxBinScan = 64;                // best-fit candidates looked at per log bin
// Frees of at least this many blocks (256 KiB) give their disk space back:
// a hole punch costs a system call under the heap mutex, and for small runs
// the next allocation would only have to reserve them again.
constexpr std::uint32_t kPunchMinBlocks = 64;
// A free run flagged kFreeRunHoles of at most this many blocks (256 KiB) is
// reserved whole when blocks are taken from it (see AllocateRun).
constexpr std::uint32_t kReserveWholeRunBlocks = 64;

std::uint32_t ClassSize(int cls) { return kSmallClassSizes[cls]; }
std::uint32_t ChunksPerBlock(int cls) { return kSizeClassMath[static_cast<std::size_t>(cls)].per_block; }
std::uint64_t TableBlocks(std::uint64_t entries) {
  return (entries * sizeof(PageInfo) + kBlockSize - 1) / kBlockSize;
}

Status Corrupt(const std::string& what) { return Status::Corruption("arena: " + what); }

}  // namespace

int Arena::ClassFor(std::uint64_t total) {
  if (total > format::kMaxSmallChunk) return -1;
  // 24 classes: a binary search is not worth it.
  for (int c = 0; c < static_cast<int>(kNumSmallClasses); ++c) {
    if (total <= kSmallClassSizes[c]) return c;
  }
  return -1;
}

std::uint32_t Arena::BinFor(std::uint32_t blocks) {
  if (blocks <= 32) return blocks - 1;
  std::uint32_t log2 = 31 - static_cast<std::uint32_t>(__builtin_clz(blocks));
  return std::min<std::uint32_t>(kNumRunBins - 1, 32 + (log2 - 5));
}

// ---------------------------------------------------------------- formatting

Status Arena::Format(const Space& space, std::uint32_t first_block, std::uint32_t file_blocks) {
  auto* sb = space.sb();
  std::uint64_t entries = std::max<std::uint64_t>(file_blocks, 1024);
  std::uint32_t tblocks = static_cast<std::uint32_t>(TableBlocks(entries));
  if (first_block + tblocks + 1 > file_blocks) return Status::InvalidArgument("heap too small");
  sb->pageinfo_off = std::uint64_t{first_block} << kBlockShift;
  sb->pageinfo_count = entries;
  auto* t = space.At<PageInfo>(sb->pageinfo_off, entries);
  if (!t) return Status::InvalidArgument("heap too small for its page table");
  std::memset(t, 0, entries * sizeof(PageInfo));
  for (std::uint32_t b = 0; b < first_block; ++b) t[b] = PageInfo{format::kPageSystem, 0, 0, 1, 0, 0};
  t[first_block] = PageInfo{format::kPageLargeHead, 0, 0, tblocks, 0, 0};
  if (tblocks >= 2) t[first_block + tblocks - 1] = PageInfo{format::kPageLargeBody, 0, 0, first_block, 0, 0};
  // The table run has no chunk header: it is reached only through the superblock.
  std::uint32_t head = first_block + tblocks;
  std::uint32_t n = file_blocks - head;
  t[head] = PageInfo{format::kPageFreeHead, 0, 0, n, 0, 0};
  if (n >= 2) t[head + n - 1] = PageInfo{format::kPageFreeTail, 0, 0, n, 0, 0};
  std::memset(sb->run_bins, 0, sizeof(sb->run_bins));
  std::memset(sb->small_heads, 0, sizeof(sb->small_heads));
  sb->run_bins[BinFor(n)] = head;
  sb->blocks_in_use = tblocks;
  return Status::Ok();
}

// ------------------------------------------------------------ list helpers

void Arena::BinInsert(std::uint32_t head, std::uint32_t blocks) {
  auto* sb = space_->sb();
  std::uint32_t bin = BinFor(blocks);
  std::uint32_t old = sb->run_bins[bin];
  PageInfo* h = Info(head);
  log_->Set(h->prev, 0u);
  log_->Set(h->next, old);
  if (PageInfo* o = old ? Info(old) : nullptr) log_->Set(o->prev, head);
  log_->Set(sb->run_bins[bin], head);
}

void Arena::BinRemove(std::uint32_t head) {
  auto* sb = space_->sb();
  PageInfo* h = Info(head);
  std::uint32_t prev = h->prev, next = h->next;
  if (PageInfo* p = prev ? Info(prev) : nullptr) {
    log_->Set(p->next, next);
  } else {
    log_->Set(sb->run_bins[BinFor(h->count)], next);
  }
  if (PageInfo* n = next ? Info(next) : nullptr) log_->Set(n->prev, prev);
}

void Arena::ClassPush(int cls, std::uint32_t block) {
  auto* sb = space_->sb();
  std::uint32_t old = sb->small_heads[cls];
  PageInfo* b = Info(block);
  log_->Set(b->prev, 0u);
  log_->Set(b->next, old);
  if (PageInfo* o = old ? Info(old) : nullptr) log_->Set(o->prev, block);
  log_->Set(sb->small_heads[cls], block);
}

void Arena::ClassRemove(int cls, std::uint32_t block) {
  auto* sb = space_->sb();
  PageInfo* b = Info(block);
  std::uint32_t prev = b->prev, next = b->next;
  if (PageInfo* p = prev ? Info(prev) : nullptr) {
    log_->Set(p->next, next);
  } else {
    log_->Set(sb->small_heads[cls], next);
  }
  if (PageInfo* n = next ? Info(next) : nullptr) log_->Set(n->prev, prev);
  log_->Set(b->prev, 0u);
  log_->Set(b->next, 0u);
}

void Arena::MarkFreeRun(std::uint32_t head, std::uint32_t blocks, std::uint8_t flags) {
  PageInfo* h = Info(head);
  log_->LogRange(h, sizeof(PageInfo));
  *h = PageInfo{format::kPageFreeHead, flags, 0, blocks, 0, 0};
  if (blocks >= 2) {
    PageInfo* t = Info(head + blocks - 1);
    log_->LogRange(t, sizeof(PageInfo));
    *t = PageInfo{format::kPageFreeTail, 0, 0, blocks, 0, 0};
  }
}

void Arena::MarkLargeRun(std::uint32_t head, std::uint32_t blocks, std::uint8_t flags) {
  PageInfo* h = Info(head);
  log_->LogRange(h, sizeof(PageInfo));
  *h = PageInfo{format::kPageLargeHead, flags, 0, blocks, 0, 0};
  if (blocks >= 2) {
    PageInfo* t = Info(head + blocks - 1);
    log_->LogRange(t, sizeof(PageInfo));
    *t = PageInfo{format::kPageLargeBody, 0, 0, head, 0, 0};
  }
}

void Arena::WriteHeader(std::uint64_t chunk_off, std::uint64_t owner) {
  auto* h = space_->At<ChunkHeader>(chunk_off);
  // Only the first word means anything in a free chunk (a small chunk's
  // free-list link; magic 0 otherwise), so only it needs restoring if the
  // allocation is rolled back: `owner` is written directly.
  log_->LogRange(h, 8);
  h->magic = kChunkMagic;
  h->flags = 0;
  h->owner = owner;
}

// -------------------------------------------------------------- allocation

Result<std::uint64_t> Arena::Allocate(std::uint64_t size, std::uint64_t owner) {
  std::uint64_t max = space_->sb()->max_size;
  if (size > max) return Status::NoSpace("allocation of " + std::to_string(size) + " bytes exceeds heap maximum");
  std::uint64_t total = size + kHeader;
  int cls = ClassFor(total);
  if (cls >= 0) return AllocateSmall(cls, owner);
  std::uint64_t blocks = (total + kBlockSize - 1) >> kBlockShift;
  if (blocks > 0xFFFFFFFFull) return Status::NoSpace("allocation too large");
  auto head = AllocateRun(static_cast<std::uint32_t>(blocks));
  if (!head.ok()) return head.status();
  std::uint64_t chunk = std::uint64_t{*head} << kBlockShift;
  WriteHeader(chunk, owner);
  auto* sb = space_->sb();
  log_->Set(sb->blocks_in_use, sb->blocks_in_use + blocks);
  CountChunk(1, static_cast<std::int64_t>((blocks << kBlockShift) - kHeader));
  return chunk + kHeader;
}

Result<std::uint64_t> Arena::AllocateSmall(int cls, std::uint64_t owner) {
  auto* sb = space_->sb();
  const std::uint32_t csize = ClassSize(cls);
  std::uint32_t b = sb->small_heads[cls];
  if (b == 0) {
    auto run = AllocateRun(1);
    if (!run.ok()) return run.status();
    b = *run;
    // Thread every chunk onto the block's free list. The block was free until
    // this operation, so these stores need no logging.
    std::byte* base = space_->Bytes(std::uint64_t{b} << kBlockShift, kBlockSize);
    const std::uint32_t n = ChunksPerBlock(cls);
    for (std::uint32_t i = 0; i < n; ++i) {
      std::uint32_t link = i + 1 < n ? (i + 1) * csize : kNoChunk;
      std::memcpy(base + i * csize, &link, 4);
    }
    PageInfo* info = Info(b);
    log_->LogRange(info, sizeof(PageInfo));
    *info = PageInfo{format::kPageSmall, static_cast<std::uint8_t>(cls), static_cast<std::uint16_t>(n), 0, 0, 0};
    ClassPush(cls, b);
    log_->Set(sb->blocks_in_use, sb->blocks_in_use + 1);
  }
  PageInfo* info = Info(b);
  if (!info || info->kind != format::kPageSmall || info->size_class != cls || info->free_count == 0 ||
      info->count >= kBlockSize || !ClassMultiple(info->count, cls) || info->count + csize > kBlockSize) {
    return Corrupt("small-class list of " + std::to_string(csize) + " bytes points at bad block " + std::to_string(b));
  }
  std::uint64_t chunk = (std::uint64_t{b} << kBlockShift) + info->count;
  std::uint32_t next;
  std::memcpy(&next, space_->Bytes(chunk, 4), 4);
  bool last = info->free_count == 1;
  if (last ? next != kNoChunk : (next >= kBlockSize || !ClassMultiple(next, cls) || next + csize > kBlockSize)) {
    return Corrupt("free-chunk link " + std::to_string(next) + " in block " + std::to_string(b));
  }
  log_->Set(info->count, next);
  log_->Set(info->free_count, static_cast<std::uint16_t>(info->free_count - 1));
  if (last) ClassRemove(cls, b);
  WriteHeader(chunk, owner);
  CountChunk(1, csize - kHeader);
  return chunk + kHeader;
}

Result<std::uint32_t> Arena::AllocateRun(std::uint32_t blocks) {
  auto* sb = space_->sb();
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::uint32_t nblocks = FileBlocks();
    std::uint32_t best = 0, best_count = 0;
    for (std::uint32_t bin = BinFor(blocks); bin < kNumRunBins && best == 0; ++bin) {
      std::uint32_t h = sb->run_bins[bin];
      for (int seen = 0; h != 0 && seen < kMaxBinScan; ++seen) {
        PageInfo* info = Info(h);
        if (!info || info->kind != format::kPageFreeHead || info->count == 0 ||
            std::uint64_t{h} + info->count > nblocks || BinFor(info->count) != bin) {
          return Corrupt("free-run bin " + std::to_string(bin) + " holds bad block " + std::to_string(h));
        }
        if (info->count >= blocks && (best == 0 || info->count < best_count)) {
          best = h;
          best_count = info->count;
          if (bin < 32 || info->count == blocks) break;  // exact-size bins: first is best
        }
        h = info->next;
      }
    }
    if (best != 0) {
      std::uint8_t flags = Info(best)->size_class;
      // A small flagged run is reserved whole, once: its remainder then
      // serves later allocations without a system call each.
      const bool whole = (flags & format::kFreeRunHoles) && best_count <= kReserveWholeRunBlocks;
      SHMHEAP_RETURN_IF_ERROR(ReserveIfHoles(flags, best, whole ? best_count : blocks));
      if (whole) flags = static_cast<std::uint8_t>(flags & ~format::kFreeRunHoles);
      BinRemove(best);
      if (best_count > blocks) {
        MarkFreeRun(best + blocks, best_count - blocks, flags);
        BinInsert(best + blocks, best_count - blocks);
      }
      MarkLargeRun(best, blocks);
      return best;
    }
    if (attempt == 0) Trim();
    if (attempt == 1) SHMHEAP_RETURN_IF_ERROR(Grow(blocks));
  }
  return Status::NoSpace("no free run after growth");
}

void Arena::Trim() {
  auto* sb = space_->sb();
  for (std::uint32_t c = 0; c < kNumSmallClasses; ++c) {
    std::uint32_t b = sb->small_heads[c];
    for (int seen = 0; b != 0 && seen < 1 << 20; ++seen) {
      PageInfo* info = Info(b);
      if (!info || info->kind != format::kPageSmall) return;  // corrupt: Check reports it
      std::uint32_t next = info->next;
      if (info->free_count == ChunksPerBlock(static_cast<int>(c))) {
        // Its free-chunk links are committed metadata: freed at commit (see
        // Free). Until then it is in no list, so nothing hands it out.
        ClassRemove(static_cast<int>(c), b);
        log_->Set(sb->blocks_in_use, sb->blocks_in_use - 1);
        pending_.push_back(PendingFree{false, b, 1});
      }
      b = next;
    }
  }
}

// -------------------------------------------------------------------- growth

Status Arena::Grow(std::uint32_t min_blocks, bool lazy_wanted, bool* changed) {
  auto* sb = space_->sb();
  const std::uint64_t old_blocks = FileBlocks();
  const std::uint64_t max_blocks = std::min(sb->max_size, space_->window()) >> kBlockShift;
  std::uint64_t want = std::max<std::uint64_t>({min_blocks, old_blocks / 8, kMinGrowBlocks});
  std::uint64_t entries = sb->pageinfo_count;
  // A page table that ends the heap moves to the new end, so that the new
  // space joins whatever precedes the table (typically a growing object).
  const bool table_at_end = (sb->pageinfo_off >> kBlockShift) + TableBlocks(entries) == old_blocks;
  std::uint64_t table_blocks = table_at_end ? TableBlocks(entries) : 0;
  std::uint64_t new_blocks = old_blocks + want;
  // A larger page table, if needed, takes the last new blocks.
  while (new_blocks + table_blocks > entries) {
    entries = std::max(entries * 2, new_blocks + table_blocks);
    table_blocks = TableBlocks(entries);
  }
  new_blocks += table_blocks;
  if (new_blocks > max_blocks) {
    new_blocks = max_blocks;
    if (new_blocks < old_blocks + table_blocks + min_blocks) {
      return Status::NoSpace("heap is at its maximum size of " + std::to_string(sb->max_size) + " bytes");
    }
  }
  if (new_blocks > 0xFFFFFFFFull) return Status::NoSpace("heap block numbers exhausted");
  // Growth for a write through the file descriptor (Extend's caller) leaves
  // the new space unreserved in a version-3 heap: a free run flagged
  // kFreeRunHoles, reserved as it is handed out, or written by that caller.
  // Reserving it here made tmpfs zero every page that a write through the
  // mount then overwrote: a fifth of a sequential write's time. Other growth
  // reserves at once, as before: flagged space costs every allocation from
  // it a system call (5600 fallocate calls instead of 40 in heap_bench's
  // allocation mix when all growth was lazy).
  const bool lazy = lazy_wanted && lazy_reserve();
  if (lazy_reserve()) {
    // The file may already be longer than the heap, with holes: a rolled-
    // back lazy growth leaves its length. Reserve from the heap's end.
    SHMHEAP_RETURN_IF_ERROR(file_->ExtendTo(new_blocks << kBlockShift));
    if (!lazy) {
      SHMHEAP_RETURN_IF_ERROR(file_->Reserve(old_blocks << kBlockShift, (new_blocks - old_blocks) << kBlockShift));
    } else if (table_blocks) {
      // The page table's new blocks are written at once (GrowTable): reserve
      // them before anything is committed to the new size.
      SHMHEAP_RETURN_IF_ERROR(file_->Reserve((new_blocks - table_blocks) << kBlockShift, table_blocks << kBlockShift));
    }
  } else {
    SHMHEAP_RETURN_IF_ERROR(file_->GrowTo(new_blocks << kBlockShift));
  }
  log_->LogRange(&sb->file_size, 8);
  AtomicField(sb->file_size).store(new_blocks << kBlockShift, std::memory_order_release);
  if (changed) *changed = true;
  Log()->debug("arena grown from {} to {} blocks{}", old_blocks, new_blocks,
               table_blocks ? " with a new page table" : "");
  if (table_blocks) {
    return GrowTable(static_cast<std::uint32_t>(old_blocks), static_cast<std::uint32_t>(new_blocks), lazy);
  }
  return FreeRun(static_cast<std::uint32_t>(old_blocks), static_cast<std::uint32_t>(new_blocks - old_blocks), lazy);
}

Status Arena::GrowTable(std::uint32_t old_blocks, std::uint32_t new_blocks, bool lazy) {
  auto* sb = space_->sb();
  const std::uint64_t old_entries = sb->pageinfo_count;
  std::uint64_t entries = old_entries;
  while (entries < new_blocks) entries *= 2;
  const auto tblocks = static_cast<std::uint32_t>(TableBlocks(entries));
  // (Also used to move a same-size table that ended the heap to the new end.)
  // The new table goes at the END of the new space, so the free space lies
  // right after the heap's last chunk: a growing object at the end of the
  // heap extends in place instead of being copied.
  const std::uint32_t table_head = new_blocks - tblocks;
  PageInfo* old_table = Table();
  auto* t = space_->At<PageInfo>(std::uint64_t{table_head} << kBlockShift, entries);
  if (!old_table || !t || old_blocks + tblocks > new_blocks) return Corrupt("cannot place a grown page table");
  const std::uint32_t old_head = static_cast<std::uint32_t>(sb->pageinfo_off >> kBlockShift);
  const std::uint32_t old_tblocks = static_cast<std::uint32_t>(TableBlocks(old_entries));
  // A lazy growth reserved Grow's estimate of the table's blocks; make sure
  // of all of them (a no-op when the estimate was right).
  if (lazy) SHMHEAP_RETURN_IF_ERROR(ReserveIfHoles(format::kFreeRunHoles, table_head, tblocks));
  // Build the new table while nothing references it (unlogged), then publish.
  std::memcpy(t, old_table, old_entries * sizeof(PageInfo));
  std::memset(t + old_entries, 0, (entries - old_entries) * sizeof(PageInfo));
  t[table_head] = PageInfo{format::kPageLargeHead, 0, 0, tblocks, 0, 0};
  if (tblocks >= 2) t[new_blocks - 1] = PageInfo{format::kPageLargeBody, 0, 0, table_head, 0, 0};
  const std::uint32_t rest = table_head - old_blocks;
  if (rest) {
    // Marked as allocated for now; FreeRun below frees it (coalescing with
    // a free run before it) once the table is published.
    t[old_blocks] = PageInfo{format::kPageLargeHead, 0, 0, rest, 0, 0};
    if (rest >= 2) t[table_head - 1] = PageInfo{format::kPageLargeBody, 0, 0, old_blocks, 0, 0};
  }
  // The offset first: a kill between the two stores then leaves the new
  // (larger) table with the old count, which lies inside the heap.
  log_->Set(sb->pageinfo_off, std::uint64_t{table_head} << kBlockShift);
  log_->Set(sb->pageinfo_count, entries);
  log_->Set(sb->blocks_in_use, sb->blocks_in_use + tblocks - old_tblocks);
  if (rest) SHMHEAP_RETURN_IF_ERROR(FreeRun(old_blocks, rest, lazy));  // new space: free at once
  // The old table stays a (now unreferenced) allocated run until commit: a
  // rollback republishes it, so nothing may overwrite it before then.
  pending_.push_back(PendingFree{false, old_head, old_tblocks});
  return Status::Ok();
}

// ------------------------------------------------------ in-place resizing

Result<bool> Arena::Extend(std::uint64_t data_off, std::uint64_t size, std::uint64_t reserve_below) {
  if (!Header(data_off)) return Status::InvalidArgument("not an allocated chunk");
  const auto b = static_cast<std::uint32_t>((data_off - kHeader) >> kBlockShift);
  PageInfo* info = Info(b);
  if (info->kind == format::kPageSmall) {
    return size + kHeader <= ClassSize(info->size_class);
  }
  const std::uint64_t want = (size + kHeader + kBlockSize - 1) >> kBlockShift;
  const std::uint32_t have = info->count;
  if (want <= have) return true;
  if (want > 0xFFFFFFFFull) return false;
  const auto need = static_cast<std::uint32_t>(want - have);
  const std::uint32_t next = b + have;
  PageInfo* q = nullptr;
  for (int attempt = 0;; ++attempt) {
    q = next < FileBlocks() ? Info(next) : nullptr;
    const std::uint32_t avail = (q && q->kind == format::kPageFreeHead) ? q->count : 0;
    if (avail >= need) break;
    // Growth makes room here only if nothing but free space (and the page
    // table, which Grow moves) lies between this chunk and the end.
    auto* sb = space_->sb();
    const std::uint64_t end = std::uint64_t{next} + avail;
    const std::uint64_t table = sb->pageinfo_off >> kBlockShift;
    const bool at_end = end == FileBlocks() ||
                        (end == table && table + TableBlocks(sb->pageinfo_count) == FileBlocks());
    if (attempt > 0 || !at_end) return false;  // no room in place
    // A growth that failed before changing anything (the heap is at its
    // maximum size, the disk is full) only means no room here; the caller
    // may still move the data into free space elsewhere.
    bool changed = false;
    Status grown = Grow(need - avail, reserve_below != ~0ull, &changed);
    if (!grown.ok()) {
      if (changed) return grown;
      return false;
    }
  }
  const std::uint32_t free_count = q->count;
  const std::uint8_t flags = q->size_class;
  // Blocks wholly at or past reserve_below stay unreserved (version 3).
  // Reserve first, so that a failure leaves nothing changed. A full disk
  // is then only "no room here": the caller may ask for less (no margin) or
  // move the data into space that is already reserved.
  std::uint64_t reserved_to = std::uint64_t{next} + need;
  if (lazy_reserve() && reserve_below != ~0ull) {
    reserved_to = std::clamp<std::uint64_t>((reserve_below + kBlockSize - 1) >> kBlockShift, next, reserved_to);
  }
  if (reserved_to > next) {
    Status reserved = ReserveIfHoles(flags, next, static_cast<std::uint32_t>(reserved_to - next));
    if (reserved.code() == Code::kNoSpace) return false;
    SHMHEAP_RETURN_IF_ERROR(reserved);
  }
  const bool skipped = reserved_to < std::uint64_t{next} + need && (flags & format::kFreeRunHoles);
  BinRemove(next);
  if (free_count > need) {
    MarkFreeRun(next + need, free_count - need, flags);
    BinInsert(next + need, free_count - need);
  }
  // (Info(b) afresh: Grow may have moved the page table.)
  MarkLargeRun(b, have + need,
               static_cast<std::uint8_t>(Info(b)->size_class | (skipped ? format::kLargeRunHoles : 0)));
  auto* sb = space_->sb();
  log_->Set(sb->blocks_in_use, sb->blocks_in_use + need);
  log_->Set(sb->bytes_in_use, sb->bytes_in_use + (std::uint64_t{need} << kBlockShift));
  return true;
}

Status Arena::Shrink(std::uint64_t data_off, std::uint64_t size) {
  if (!Header(data_off)) return Status::InvalidArgument("not an allocated chunk");
  const auto b = static_cast<std::uint32_t>((data_off - kHeader) >> kBlockShift);
  PageInfo* info = Info(b);
  if (info->kind == format::kPageSmall) return Status::Ok();
  const std::uint64_t want = std::max<std::uint64_t>(1, (size + kHeader + kBlockSize - 1) >> kBlockShift);
  const std::uint32_t have = info->count;
  if (want >= have) return Status::Ok();
  const auto keep = static_cast<std::uint32_t>(want);
  const std::uint8_t flags = info->size_class;  // kLargeRunHoles stays on both parts
  MarkLargeRun(b, keep, flags);
  MarkLargeRun(b + keep, have - keep, flags);  // held aside, freed at commit (see Free)
  auto* sb = space_->sb();
  log_->Set(sb->blocks_in_use, sb->blocks_in_use - (have - keep));
  log_->Set(sb->bytes_in_use, sb->bytes_in_use - (std::uint64_t{have - keep} << kBlockShift));
  pending_.push_back(PendingFree{false, b + keep, have - keep});
  return Status::Ok();
}

// --------------------------------------------------------------------- free

std::uint64_t Arena::Capacity(std::uint64_t data_off) const {
  if (!Header(data_off)) return 0;
  PageInfo* info = Info(static_cast<std::uint32_t>((data_off - kHeader) >> kBlockShift));
  if (info->kind == format::kPageSmall) return ClassSize(info->size_class) - kHeader;
  return (std::uint64_t{info->count} << kBlockShift) - kHeader;
}

void Arena::SetOwner(std::uint64_t data_off, std::uint64_t owner) {
  if (ChunkHeader* h = Header(data_off)) log_->Set(h->owner, owner);
}

Status Arena::Free(std::uint64_t data_off) {
  if (!Header(data_off)) return Status::InvalidArgument("offset " + std::to_string(data_off) + " is not an allocated chunk");
  for (const PendingFree& p : pending_) {
    if (p.chunk && p.at == data_off) return Status::InvalidArgument("chunk freed twice");
  }
  pending_.push_back(PendingFree{true, data_off, 0});
  return Status::Ok();
}

Status Arena::FlushFrees() {
  // Later frees may coalesce with earlier ones; order does not matter.
  // Two buffers swapped back and forth keep their capacity: no allocation
  // per operation.
  flushing_.clear();
  flushing_.swap(pending_);
  for (const PendingFree& p : flushing_) {
    SHMHEAP_RETURN_IF_ERROR(p.chunk ? FreeNow(p.at) : FreeCommittedRun(static_cast<std::uint32_t>(p.at), p.blocks));
  }
  flushing_.clear();
  ApplyCounts();
  return Status::Ok();
}

void Arena::ApplyCounts() {
  auto* sb = space_->sb();
  if (alloc_delta_ != 0) log_->Set(sb->alloc_count, sb->alloc_count + static_cast<std::uint64_t>(alloc_delta_));
  if (bytes_delta_ != 0) log_->Set(sb->bytes_in_use, sb->bytes_in_use + static_cast<std::uint64_t>(bytes_delta_));
  alloc_delta_ = 0;
  bytes_delta_ = 0;
}

Status Arena::FreeNow(std::uint64_t data_off) {
  ChunkHeader* h = Header(data_off);
  if (!h) return Status::Corruption("deferred free of " + std::to_string(data_off) + " is no longer a chunk");
  const std::uint64_t chunk = data_off - kHeader;
  const auto b = static_cast<std::uint32_t>(chunk >> kBlockShift);
  PageInfo* info = Info(b);
  auto* sb = space_->sb();
  if (info->kind == format::kPageSmall) {
    CountChunk(-1, -static_cast<std::int64_t>(ClassSize(info->size_class) - kHeader));
    return FreeSmall(b, static_cast<std::uint32_t>(chunk & (kBlockSize - 1)));
  }
  const std::uint32_t n = info->count;
  if (n == 0 || std::uint64_t{b} + n > FileBlocks()) return Corrupt("large run at block " + std::to_string(b));
  log_->Set(h->magic, 0u);
  log_->Set(sb->blocks_in_use, sb->blocks_in_use - n);
  CountChunk(-1, -static_cast<std::int64_t>((std::uint64_t{n} << kBlockShift) - kHeader));
  return FreeCommittedRun(b, n);
}

Status Arena::FreeSmall(std::uint32_t block, std::uint32_t in_block) {
  PageInfo* info = Info(block);
  const int cls = info->size_class;
  const std::uint32_t n = ChunksPerBlock(cls);
  if (info->free_count >= n) return Corrupt("small block " + std::to_string(block) + " over-freed");
  const std::uint64_t chunk = (std::uint64_t{block} << kBlockShift) + in_block;
  auto* word = space_->At<std::uint64_t>(chunk);
  const bool was_full = info->free_count == 0;
  log_->Set(*word, std::uint64_t{info->free_count == 0 ? kNoChunk : info->count});
  log_->Set(info->count, in_block);
  log_->Set(info->free_count, static_cast<std::uint16_t>(info->free_count + 1));
  if (was_full) ClassPush(cls, block);
  // Give a wholly free block back to the runs unless it is the only block
  // of its class with free chunks (keeps alloc/free of one chunk cheap).
  if (info->free_count == n && (info->prev != 0 || info->next != 0)) {
    ClassRemove(cls, block);
    auto* sb = space_->sb();
    log_->Set(sb->blocks_in_use, sb->blocks_in_use - 1);
    return FreeRun(block, 1);
  }
  return Status::Ok();
}

Status Arena::FreeCommittedRun(std::uint32_t head, std::uint32_t blocks) {
  const bool punch = blocks >= kPunchMinBlocks && !punch_unsupported_ && space_->sb()->format_version >= 2;
  if (punch) holes_.push_back(Hole{head, blocks});
  // A run whose blocks may be holes (kLargeRunHoles) stays flagged when free.
  const PageInfo* info = Info(head);
  const bool holes = info && info->kind == format::kPageLargeHead && (info->size_class & format::kLargeRunHoles);
  return FreeRun(head, blocks, punch || holes);
}

Status Arena::ReserveWithin(std::uint64_t data_off, std::uint64_t from, std::uint64_t to) {
  if (from >= to || !Header(data_off)) return Status::Ok();
  const auto b = static_cast<std::uint32_t>((data_off - kHeader) >> kBlockShift);
  const PageInfo* info = Info(b);
  if (info->kind != format::kPageLargeHead || !(info->size_class & format::kLargeRunHoles)) return Status::Ok();
  const std::uint64_t end = (std::uint64_t{b} + info->count) << kBlockShift;
  const std::uint64_t lo = (data_off + from) & ~std::uint64_t{kBlockSize - 1};
  const std::uint64_t hi = std::min(end, (data_off + to + kBlockSize - 1) & ~std::uint64_t{kBlockSize - 1});
  if (lo >= hi) return Status::Ok();
  return ReserveIfHoles(format::kFreeRunHoles, static_cast<std::uint32_t>(lo >> kBlockShift),
                        static_cast<std::uint32_t>((hi - lo) >> kBlockShift));
}

Status Arena::ReserveIfHoles(std::uint8_t flags, std::uint32_t head, std::uint32_t blocks) {
  if (!(flags & format::kFreeRunHoles)) return Status::Ok();
  Status s = file_->Reserve(std::uint64_t{head} << kBlockShift, std::uint64_t{blocks} << kBlockShift);
  // WithContext keeps the errno: a quota (EDQUOT) stays itself at the mount.
  if (s.code() == Code::kNoSpace) {
    return s.WithContext("no disk space to reuse " + std::to_string(blocks) + " freed blocks");
  }
  return s;
}

void Arena::PunchHoles() {
  for (const Hole& h : holes_) {
    Status s = file_->PunchHole(std::uint64_t{h.head} << kBlockShift, std::uint64_t{h.blocks} << kBlockShift);
    if (s.ok()) continue;
    if (s.code() == Code::kNotSupported) {
      punch_unsupported_ = true;
      Log()->info("{}; freed space stays allocated in the heap file", s.message());
      break;
    }
    Log()->warn("arena: {}", s.ToString());
  }
  holes_.clear();
}

Status Arena::FreeRun(std::uint32_t head, std::uint32_t blocks, bool holes) {
  const std::uint32_t nblocks = FileBlocks();
  std::uint32_t start = head, len = blocks;
  std::uint8_t flags = holes ? format::kFreeRunHoles : 0;
  if (PageInfo* p = head > 0 ? Info(head - 1) : nullptr) {
    if (p->kind == format::kPageFreeTail || (p->kind == format::kPageFreeHead && p->count == 1)) {
      std::uint32_t c = p->count;
      if (c == 0 || c > head) return Corrupt("free run before block " + std::to_string(head));
      std::uint32_t ph = head - c;
      PageInfo* pi = Info(ph);
      if (!pi || pi->kind != format::kPageFreeHead || pi->count != c) {
        return Corrupt("free run tail at block " + std::to_string(head - 1) + " has no head");
      }
      BinRemove(ph);
      flags |= pi->size_class;
      start = ph;
      len += c;
    }
  }
  if (std::uint64_t{head} + blocks < nblocks) {
    PageInfo* q = Info(head + blocks);
    if (q && q->kind == format::kPageFreeHead) {
      if (q->count == 0 || std::uint64_t{head} + blocks + q->count > nblocks) {
        return Corrupt("free run at block " + std::to_string(head + blocks));
      }
      BinRemove(head + blocks);
      flags |= q->size_class;
      len += q->count;
    }
  }
  MarkFreeRun(start, len, flags);
  BinInsert(start, len);
  return Status::Ok();
}

}  // namespace shmheap
