// Arena: size classes, runs, coalescing, growth, rollback and Check.
#include "heap/src/arena.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

#include "heap/src/backing_file.h"
#include "heap/src/mapping.h"
#include "heap/src/recovery.h"
#include "tests/support/test_support.h"

namespace shmheap {
namespace {

class ArenaTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(64ull << 20); }

  void Open(std::uint64_t max) {
    auto f = BackingFile::CreateAtomically(dir_.File("a.heap"), 0600,
                                           [&](BackingFile& bf) { return FormatHeap(bf, 0, max); });
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    file_ = std::move(*f);
    auto m = Mapping::Map(file_.fd(), max, true);
    ASSERT_TRUE(m.ok());
    map_ = std::move(*m);
    space_ = std::make_unique<Space>(map_.base(), max, &file_, kDefaultInitialSize);
    log_ = std::make_unique<UndoLog>(space_.get());
    arena_ = std::make_unique<Arena>(space_.get(), log_.get(), &file_);
  }

  std::vector<std::string> Check() {
    std::vector<std::string> problems;
    arena_->Check(&problems, nullptr);
    return problems;
  }

  // Commits as HeapImpl::Op does: deferred frees first (growth may free
  // the old page table).
  std::uint64_t Alloc(std::uint64_t n) {
    auto r = arena_->Allocate(n, 0);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(arena_->FlushFrees().ok());
    log_->Commit();
    return r.ok() ? *r : 0;
  }
  // Frees take effect when the operation commits (Arena::FlushFrees).
  void FreeIt(std::uint64_t off) {
    EXPECT_TRUE(arena_->Free(off).ok());
    EXPECT_TRUE(arena_->FlushFrees().ok());
    log_->Commit();
  }

  testing::TempDir dir_;
  BackingFile file_;
  Mapping map_;
  std::unique_ptr<Space> space_;
  std::unique_ptr<UndoLog> log_;
  std::unique_ptr<Arena> arena_;
};

// The division-free multiple test the allocator validates chunk offsets
// with must agree with % for every class and every offset a block (and a
// corrupt 32-bit link) can hold.
TEST(SizeClassMathTest, MultipleTestAgreesWithRemainder) {
  for (int c = 0; c < static_cast<int>(format::kNumSmallClasses); ++c) {
    const std::uint32_t d = format::kSmallClassSizes[c];
    EXPECT_EQ(kSizeClassMath[static_cast<std::size_t>(c)].per_block, format::kBlockSize / d);
    for (std::uint32_t n = 0; n <= 4 * format::kBlockSize; ++n) {
      ASSERT_EQ(ClassMultiple(n, c), n % d == 0) << "class " << d << ", offset " << n;
    }
    for (std::uint32_t n : {0xFFFFFFFFu, 0xFFFFFFFFu - 0xFFFFFFFFu % d, 0x80000000u, 0xFFFF0000u}) {
      ASSERT_EQ(ClassMultiple(n, c), n % d == 0) << "class " << d << ", offset " << n;
    }
  }
}

TEST_F(ArenaTest, FreshArenaIsConsistent) { EXPECT_TRUE(Check().empty()); }

TEST_F(ArenaTest, SmallSizesShareABlockAndAreSixteenAligned) {
  std::uint64_t a = Alloc(10), b = Alloc(10);
  EXPECT_EQ(a % 16, 0u);
  EXPECT_EQ(a >> format::kBlockShift, b >> format::kBlockShift);
  EXPECT_EQ(arena_->Capacity(a), 16u);
  EXPECT_TRUE(Check().empty());
}

TEST_F(ArenaTest, FreedChunkIsReusedBySameSizeClass) {
  std::uint64_t a = Alloc(100);
  Alloc(100);
  FreeIt(a);
  EXPECT_EQ(Alloc(100), a);
}

TEST_F(ArenaTest, LargeAllocationsTakeWholeBlockRuns) {
  std::uint64_t a = Alloc(100000);
  EXPECT_EQ((a - 16) % format::kBlockSize, 0u);
  EXPECT_GE(arena_->Capacity(a), 100000u);
  EXPECT_TRUE(Check().empty());
}

TEST_F(ArenaTest, AdjacentFreeRunsCoalesce) {
  std::uint64_t a = Alloc(40000), b = Alloc(40000), c = Alloc(40000);
  Alloc(10);  // keeps the tail from merging with the rest of the arena
  FreeIt(a);
  FreeIt(c);
  FreeIt(b);  // must merge with both neighbours
  EXPECT_TRUE(Check().empty());
  std::uint64_t big = Alloc(3 * 40000);
  EXPECT_EQ(big, a);
}

// Disk bytes of the heap file.
std::uint64_t DiskBytes(const BackingFile& f) {
  auto b = f.AllocatedBytes();
  EXPECT_TRUE(b.ok());
  return b.ok() ? *b : 0;
}

TEST_F(ArenaTest, FreedLargeRunGivesItsDiskSpaceBack) {
  constexpr std::uint64_t kSize = 8ull << 20;
  std::uint64_t a = Alloc(kSize);
  std::memset(space_->Bytes(a, kSize), 0x5A, kSize);
  Alloc(10);  // keeps the run from merging with the free rest of the arena
  const std::uint64_t before = DiskBytes(file_);
  FreeIt(a);
  arena_->PunchHoles();
  EXPECT_LE(DiskBytes(file_) + kSize - (64 << 10), before) << "an 8 MiB free must give back nearly 8 MiB";
  EXPECT_TRUE(Check().empty());
  // The run reads as zeros, as free space may; a chunk header is not there.
  EXPECT_EQ(std::to_integer<int>(space_->Bytes(a, 1)[0]), 0);
}

TEST_F(ArenaTest, ReusingPunchedBlocksReservesThemAgain) {
  constexpr std::uint64_t kSize = 8ull << 20;
  std::uint64_t a = Alloc(kSize);
  std::memset(space_->Bytes(a, kSize), 0x5A, kSize);
  Alloc(10);
  FreeIt(a);
  arena_->PunchHoles();
  const std::uint64_t punched = DiskBytes(file_);
  // Two allocations split the punched run; both parts are reserved before
  // anyone can store into them (a full disk is ENOSPC here, not SIGBUS).
  std::uint64_t b = Alloc(3ull << 20), c = Alloc(3ull << 20);
  EXPECT_GE(DiskBytes(file_), punched + (6ull << 20));
  EXPECT_GE(b, a - 16);
  EXPECT_LT(c, a + kSize);
  std::memset(space_->Bytes(b, 3ull << 20), 1, 3ull << 20);
  std::memset(space_->Bytes(c, 3ull << 20), 2, 3ull << 20);
  EXPECT_TRUE(Check().empty());
}

TEST_F(ArenaTest, SmallFreesAndRolledBackFreesPunchNothing) {
  std::uint64_t a = Alloc(8ull << 20);
  std::memset(space_->Bytes(a, 8ull << 20), 0x5A, 8ull << 20);
  std::uint64_t small = Alloc(100000);  // 25 blocks: below the punch threshold
  std::memset(space_->Bytes(small, 100000), 0x5A, 100000);
  Alloc(10);
  const std::uint64_t before = DiskBytes(file_);
  FreeIt(small);
  arena_->PunchHoles();
  EXPECT_EQ(DiskBytes(file_), before);
  // A free in an operation that is rolled back keeps its data and its disk.
  ASSERT_TRUE(arena_->Free(a).ok());
  ASSERT_TRUE(arena_->FlushFrees().ok());
  arena_->DropFrees();
  ASSERT_TRUE(log_->Rollback().ok());
  arena_->PunchHoles();
  EXPECT_EQ(DiskBytes(file_), before);
  EXPECT_EQ(std::to_integer<int>(space_->Bytes(a, 8ull << 20)[(8ull << 20) - 1]), 0x5A);
  EXPECT_TRUE(Check().empty());
}

TEST_F(ArenaTest, VersionOneHeapNeverPunches) {
  space_->sb()->format_version = 1;  // as a file made by the previous library
  std::uint64_t a = Alloc(8ull << 20);
  std::memset(space_->Bytes(a, 8ull << 20), 0x5A, 8ull << 20);
  Alloc(10);
  const std::uint64_t before = DiskBytes(file_);
  FreeIt(a);
  arena_->PunchHoles();
  EXPECT_EQ(DiskBytes(file_), before) << "a version-1 library would not re-reserve punched blocks";
  EXPECT_TRUE(Check().empty());
}

TEST_F(ArenaTest, GrowsTheFileAndThePageTable) {
  std::vector<std::uint64_t> offs;
  for (int i = 0; i < 64; ++i) offs.push_back(Alloc(256 * 1024));  // 16 MiB total: forces table growth
  EXPECT_GT(space_->sb()->file_size, 16ull << 20);
  EXPECT_TRUE(Check().empty());
  for (auto o : offs) FreeIt(o);
  EXPECT_TRUE(Check().empty());
}

TEST_F(ArenaTest, RefusesToGrowPastMaximum) {
  auto r = arena_->Allocate(100ull << 20, 0);
  EXPECT_EQ(r.code(), Code::kNoSpace);
  ASSERT_TRUE(log_->Rollback().ok());
  EXPECT_TRUE(Check().empty());
}

TEST_F(ArenaTest, RollbackUndoesAPartialOperation) {
  std::uint64_t keep = Alloc(500);
  auto before = space_->sb()->alloc_count;
  ASSERT_TRUE(arena_->Allocate(5000, 0).ok());
  ASSERT_TRUE(arena_->Allocate(50, 0).ok());
  ASSERT_TRUE(arena_->Free(keep).ok());
  arena_->DropFrees();
  auto undone = log_->Rollback();  // as if the process died before committing
  ASSERT_TRUE(undone.ok());
  EXPECT_GT(*undone, 0u);
  EXPECT_EQ(space_->sb()->alloc_count, before);
  EXPECT_NE(arena_->Header(keep), nullptr);
  EXPECT_TRUE(Check().empty());
}

TEST_F(ArenaTest, MemoryFreedInAnOperationIsNotReusedByIt) {
  std::uint64_t a = Alloc(100);
  std::memcpy(space_->Bytes(a, 4), "live", 4);
  ASSERT_TRUE(arena_->Free(a).ok());
  EXPECT_EQ(arena_->Free(a).code(), Code::kInvalidArgument) << "freed twice in one operation";
  auto b = arena_->Allocate(100, 0);
  ASSERT_TRUE(b.ok());
  EXPECT_NE(*b, a) << "an operation must not get back memory it freed: a rollback revives it";
  std::memset(space_->Bytes(*b, 100), 0, 100);  // the unlogged "fresh memory" write
  arena_->DropFrees();
  ASSERT_TRUE(log_->Rollback().ok());
  EXPECT_EQ(std::memcmp(space_->Bytes(a, 4), "live", 4), 0);
  EXPECT_TRUE(Check().empty());
}

TEST_F(ArenaTest, FreeOfAForeignOffsetIsRejected) {
  std::uint64_t a = Alloc(100);
  EXPECT_EQ(arena_->Free(a + 8).code(), Code::kInvalidArgument);
  EXPECT_EQ(arena_->Free(12345678).code(), Code::kInvalidArgument);
  FreeIt(a);
  EXPECT_EQ(arena_->Free(a).code(), Code::kInvalidArgument);  // double free
  ASSERT_TRUE(log_->Rollback().ok());
  EXPECT_TRUE(Check().empty());
}

TEST_F(ArenaTest, RandomMixStaysConsistent) {
  std::mt19937 rng(7);
  std::map<std::uint64_t, std::uint64_t> live;
  for (int i = 0; i < 20000; ++i) {
    if (live.empty() || rng() % 3 != 0) {
      std::uint64_t n = rng() % 4 == 0 ? rng() % 70000 : rng() % 600;
      auto r = arena_->Allocate(n, 0);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_TRUE(arena_->FlushFrees().ok());
      log_->Commit();
      std::memset(space_->Bytes(*r, n), 0xAB, n);  // writing must not break metadata
      live[*r] = n;
    } else {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      FreeIt(it->first);
      live.erase(it);
    }
  }
  EXPECT_TRUE(Check().empty());
  for (auto& [o, n] : live) FreeIt(o);
  arena_->Trim();  // releases the one empty block each class keeps
  ASSERT_TRUE(arena_->FlushFrees().ok());
  log_->Commit();
  auto problems = Check();
  EXPECT_TRUE(problems.empty()) << problems.front();
  ArenaStats s = arena_->Stats();
  EXPECT_EQ(s.allocations, 1u) << "only the name index table, allocated at format time, remains";
  // Free space may only be split by the two live internal runs: the name
  // index table and the page table (which moved when the file grew).
  EXPECT_LE(s.free_runs, 3u) << "everything freed must coalesce";
}

}  // namespace
}  // namespace shmheap
