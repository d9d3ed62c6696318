// Arena::Check and Arena::Stats: read-only walks over every block.
//
// Check is what `shmheap check` relies on: runs must tile the arena exactly,
// every run's head and tail must agree, bins and class lists must hold exactly
// the free runs and the blocks with free chunks, free-chunk lists must be
// in-bounds and acyclic, and adjacent free runs must have been coalesced.
#include <algorithm>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "heap/src/arena.h"

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

std::string B(std::uint64_t b) { return "block " + std::to_string(b); }

// Walks the free list of one small block. Returns false (and reports) if it
// is broken; otherwise marks free chunks in `is_free`.
bool WalkSmallFreeList(const Space& space, std::uint32_t b, const PageInfo& info,
                       std::vector<bool>* is_free, std::vector<std::string>* problems) {
  const std::uint32_t csize = kSmallClassSizes[info.size_class];
  const std::uint32_t n = kBlockSize / csize;
  is_free->assign(n, false);
  std::uint32_t off = info.free_count ? info.count : kNoChunk;
  const std::byte* base = space.Bytes(std::uint64_t{b} << kBlockShift, kBlockSize);
  for (std::uint32_t i = 0; i < info.free_count; ++i) {
    if (off >= kBlockSize || off % csize != 0 || off / csize >= n || (*is_free)[off / csize]) {
      if (problems) problems->push_back(B(b) + ": free-chunk list broken at offset " + std::to_string(off));
      return false;
    }
    (*is_free)[off / csize] = true;
    std::memcpy(&off, base + off, 4);
  }
  if (off != kNoChunk && info.free_count != 0) {
    if (problems) problems->push_back(B(b) + ": free-chunk list longer than free_count");
    return false;
  }
  return true;
}

}  // namespace

void Arena::Check(std::vector<std::string>* problems, ChunkVisitor* visitor) const {
  auto* sb = space_->sb();
  const std::uint32_t nblocks = FileBlocks();
  const PageInfo* t = Table();
  if (!t || sb->pageinfo_count < nblocks) {
    problems->push_back("page table at offset " + std::to_string(sb->pageinfo_off) + " with " +
                        std::to_string(sb->pageinfo_count) + " entries does not cover the heap");
    return;
  }
  const auto table_head = static_cast<std::uint32_t>(sb->pageinfo_off >> kBlockShift);
  std::unordered_set<std::uint32_t> free_heads;
  std::vector<std::uint32_t> partial_small[kNumSmallClasses];
  std::uint64_t used_blocks = 0, allocs = 0, bytes = 0;
  std::vector<bool> is_free;
  bool prev_free = false;
  std::uint32_t b = 0;
  while (b < nblocks) {
    const PageInfo& in = t[b];
    const std::uint64_t n = in.count;
    bool is_free_run = false;
    switch (in.kind) {
      case format::kPageSystem:
        if (std::uint64_t{b} << kBlockShift >= sb->arena_start) problems->push_back(B(b) + ": system block inside the arena");
        b += 1;
        break;
      case format::kPageFreeHead:
      case format::kPageLargeHead: {
        is_free_run = in.kind == format::kPageFreeHead;
        if (n == 0 || b + n > nblocks) {
          problems->push_back(B(b) + ": run of " + std::to_string(n) + " blocks overruns the heap");
          return;  // cannot find the next run
        }
        if (n >= 2) {
          const PageInfo& tail = t[b + n - 1];
          if (is_free_run ? (tail.kind != format::kPageFreeTail || tail.count != n)
                          : (tail.kind != format::kPageLargeBody || tail.count != b)) {
            problems->push_back(B(b) + ": run tail at " + B(b + n - 1) + " does not match its head");
          }
        }
        if (is_free_run) {
          if (in.size_class & ~format::kFreeRunHoles) {
            problems->push_back(B(b) + ": free run with unknown flags " + std::to_string(in.size_class));
          }
          if (in.size_class && sb->format_version < 2) {
            problems->push_back(B(b) + ": free run flags in a version-1 heap");
          }
          if (prev_free) problems->push_back(B(b) + ": free run not coalesced with the one before it");
          free_heads.insert(b);
        } else {
          if (in.size_class & ~format::kLargeRunHoles) {
            problems->push_back(B(b) + ": large run with unknown flags " + std::to_string(in.size_class));
          }
          if (in.size_class && sb->format_version < 3) {
            problems->push_back(B(b) + ": large run flags in a version-" + std::to_string(sb->format_version) + " heap");
          }
          used_blocks += n;
          if (b != table_head) {
            auto* h = space_->At<ChunkHeader>(std::uint64_t{b} << kBlockShift);
            if (!h || h->magic != kChunkMagic) {
              problems->push_back(B(b) + ": allocated run without a chunk header");
            } else {
              ++allocs;
              bytes += (n << kBlockShift) - sizeof(ChunkHeader);
              if (visitor) visitor->Chunk((std::uint64_t{b} << kBlockShift) + sizeof(ChunkHeader),
                                          (n << kBlockShift) - sizeof(ChunkHeader), h->owner);
            }
          }
        }
        b += static_cast<std::uint32_t>(n);
        break;
      }
      case format::kPageSmall: {
        used_blocks += 1;
        if (in.size_class >= kNumSmallClasses) {
          problems->push_back(B(b) + ": bad size class " + std::to_string(in.size_class));
          b += 1;
          break;
        }
        const std::uint32_t csize = kSmallClassSizes[in.size_class];
        if (in.free_count > kBlockSize / csize) problems->push_back(B(b) + ": free_count too large");
        if (in.free_count > 0) partial_small[in.size_class].push_back(b);
        if (WalkSmallFreeList(*space_, b, in, &is_free, problems)) {
          for (std::uint32_t i = 0; i < is_free.size(); ++i) {
            if (is_free[i]) continue;
            std::uint64_t chunk = (std::uint64_t{b} << kBlockShift) + i * csize;
            auto* h = space_->At<ChunkHeader>(chunk);
            if (!h || h->magic != kChunkMagic) {
              problems->push_back(B(b) + ": chunk at +" + std::to_string(i * csize) + " neither free nor allocated");
              continue;
            }
            ++allocs;
            bytes += csize - sizeof(ChunkHeader);
            if (visitor) visitor->Chunk(chunk + sizeof(ChunkHeader), csize - sizeof(ChunkHeader), h->owner);
          }
        }
        b += 1;
        break;
      }
      default:
        problems->push_back(B(b) + ": unexpected block kind " + std::to_string(in.kind) + " at a run boundary");
        return;
    }
    prev_free = is_free_run;
  }
  // Bins hold exactly the free runs.
  std::uint64_t in_bins = 0;
  for (std::uint32_t bin = 0; bin < kNumRunBins; ++bin) {
    std::uint32_t prev = 0;
    for (std::uint32_t h = sb->run_bins[bin]; h != 0; h = t[h].next) {
      if (h >= nblocks || !free_heads.count(h)) {
        problems->push_back("bin " + std::to_string(bin) + " holds " + B(h) + ", which is not a free run");
        break;
      }
      if (BinFor(t[h].count) != bin) problems->push_back(B(h) + " is in the wrong bin");
      if (t[h].prev != prev) problems->push_back(B(h) + ": bin back-link is wrong");
      if (++in_bins > free_heads.size()) {
        problems->push_back("bin " + std::to_string(bin) + " has a cycle");
        break;
      }
      prev = h;
    }
  }
  if (in_bins != free_heads.size()) {
    problems->push_back(std::to_string(free_heads.size()) + " free runs but " + std::to_string(in_bins) + " in bins");
  }
  // Class lists hold exactly the small blocks with free chunks.
  for (std::uint32_t c = 0; c < kNumSmallClasses; ++c) {
    std::unordered_set<std::uint32_t> expect(partial_small[c].begin(), partial_small[c].end());
    std::uint64_t seen = 0;
    for (std::uint32_t h = sb->small_heads[c]; h != 0; h = t[h].next) {
      if (h >= nblocks || !expect.count(h)) {
        problems->push_back("size class " + std::to_string(kSmallClassSizes[c]) + " lists " + B(h) +
                            ", which has no free chunk of that class");
        break;
      }
      if (++seen > expect.size()) break;
    }
    if (seen != expect.size()) {
      problems->push_back("size class " + std::to_string(kSmallClassSizes[c]) + ": " + std::to_string(expect.size()) +
                          " blocks with free chunks but " + std::to_string(seen) + " listed");
    }
  }
  if (allocs != sb->alloc_count) {
    problems->push_back("superblock counts " + std::to_string(sb->alloc_count) + " allocations, found " +
                        std::to_string(allocs));
  }
  if (used_blocks != sb->blocks_in_use) {
    problems->push_back("superblock counts " + std::to_string(sb->blocks_in_use) + " used blocks, found " +
                        std::to_string(used_blocks));
  }
  if (bytes != sb->bytes_in_use) {
    problems->push_back("superblock counts " + std::to_string(sb->bytes_in_use) + " bytes in chunks, found " +
                        std::to_string(bytes));
  }
}

ArenaStats Arena::Stats() const {
  ArenaStats s;
  auto* sb = space_->sb();
  s.file_size = sb->file_size;
  s.max_size = sb->max_size;
  const std::uint32_t nblocks = FileBlocks();
  const PageInfo* t = Table();
  if (!t) return s;
  s.arena_blocks = nblocks - (sb->arena_start >> kBlockShift);
  for (std::uint32_t b = 0; b < nblocks;) {
    const PageInfo& in = t[b];
    std::uint32_t step = 1;
    if (in.kind == format::kPageFreeHead) {
      s.free_blocks += in.count;
      s.free_runs += 1;
      s.largest_free_run = std::max<std::uint64_t>(s.largest_free_run, in.count);
      step = in.count;
    } else if (in.kind == format::kPageLargeHead) {
      s.large_blocks += in.count;
      step = in.count;
    } else if (in.kind == format::kPageSmall && in.size_class < kNumSmallClasses) {
      s.small_blocks += 1;
      s.small_free_chunk_bytes += std::uint64_t{in.free_count} * kSmallClassSizes[in.size_class];
    }
    if (step == 0) break;  // corrupt; Check reports it
    b += step;
  }
  s.allocations = sb->alloc_count;
  s.chunk_bytes = sb->bytes_in_use;
  std::uint64_t occupied = (s.small_blocks + s.large_blocks) << kBlockShift;
  if (occupied) s.internal_fragmentation = 1.0 - static_cast<double>(s.chunk_bytes) / static_cast<double>(occupied);
  if (s.free_blocks) {
    s.external_fragmentation = 1.0 - static_cast<double>(s.largest_free_run) / static_cast<double>(s.free_blocks);
  }
  return s;
}

}  // namespace shmheap
