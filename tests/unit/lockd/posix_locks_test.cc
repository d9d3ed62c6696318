// PosixLockSet: one owner's locks replace each other over a range (split,
// merge, upgrade, downgrade, partial unlock); owners conflict with each
// other; the first conflict (F_GETLK) and the aggregate mode.
#include "lockd/src/posix_locks.h"

#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/lockd/engine_fixture.h"

namespace shmheap::lockd {
namespace {

using testing::kA;
using testing::kB;
using testing::kC;
using LockList = std::vector<RecordLock>;
constexpr LockType kR = LockType::kRead;
constexpr LockType kW = LockType::kWrite;
constexpr LockType kU = LockType::kUnlock;

RecordLock L(LockType t, std::uint64_t start, std::uint64_t end, std::uint64_t owner = kA,
             std::uint32_t pid = 1) {
  return RecordLock{t, Range{start, end}, owner, pid};
}

class PosixLockSetTest : public ::testing::Test {
 protected:
  void Set(LockType t, std::uint64_t start, std::uint64_t end, std::uint64_t owner = kA,
           std::uint32_t pid = 1) {
    set_.Apply(owner, t, Range{start, end}, pid);
  }
  LockList Of(std::uint64_t owner = kA) const { return set_.OwnerLocks(owner); }
  std::vector<std::uint64_t> Conflicting(std::uint64_t owner, LockType t, std::uint64_t start,
                                         std::uint64_t end) const {
    std::vector<std::uint64_t> out;
    set_.ConflictingOwners(owner, t, Range{start, end}, &out);
    return out;
  }
  PosixLockSet set_;
};

TEST_F(PosixLockSetTest, AdjacentLocksOfTheSameTypeMerge) {
  Set(kR, 0, 9);
  Set(kR, 10, 19);
  EXPECT_EQ(Of(), (LockList{L(kR, 0, 19)}));
}

TEST_F(PosixLockSetTest, OverlappingAndBridgingLocksMerge) {
  Set(kW, 0, 9);
  Set(kW, 5, 14);
  EXPECT_EQ(Of(), (LockList{L(kW, 0, 14)}));
  Set(kW, 20, 29);
  Set(kW, 15, 19);  // fills the gap: one lock
  EXPECT_EQ(Of(), (LockList{L(kW, 0, 29)}));
}

TEST_F(PosixLockSetTest, DifferentTypesOrAGapKeepLocksApart) {
  Set(kR, 0, 9);
  Set(kW, 10, 19);
  Set(kR, 21, 29);
  EXPECT_EQ(Of(), (LockList{L(kR, 0, 9), L(kW, 10, 19), L(kR, 21, 29)}));
}

TEST_F(PosixLockSetTest, UnlockInTheMiddleSplitsALock) {
  Set(kW, 0, 99);
  Set(kU, 40, 59);
  EXPECT_EQ(Of(), (LockList{L(kW, 0, 39), L(kW, 60, 99)}));
}

TEST_F(PosixLockSetTest, UnlockToEofTrimsAndUnlockingEverythingForgetsTheOwner) {
  Set(kR, 0, kEof);
  Set(kU, 100, kEof);
  EXPECT_EQ(Of(), (LockList{L(kR, 0, 99)}));
  Set(kU, 0, kEof);
  EXPECT_TRUE(Of().empty());
  EXPECT_TRUE(set_.empty());
}

TEST_F(PosixLockSetTest, UnlockOfAnUnheldRangeChangesNothing) {
  Set(kW, 10, 19);
  Set(kU, 20, 29);
  Set(kU, 0, 9, kB);
  EXPECT_EQ(Of(), (LockList{L(kW, 10, 19)}));
  EXPECT_TRUE(Of(kB).empty());
}

TEST_F(PosixLockSetTest, UpgradingPartOfAReadLockSplitsIt) {
  Set(kR, 0, 99);
  Set(kW, 40, 59);
  EXPECT_EQ(Of(), (LockList{L(kR, 0, 39), L(kW, 40, 59), L(kR, 60, 99)}));
}

TEST_F(PosixLockSetTest, UpgradingAWholeLockReplacesIt) {
  Set(kR, 0, 99);
  Set(kW, 0, 99);
  EXPECT_EQ(Of(), (LockList{L(kW, 0, 99)}));
}

TEST_F(PosixLockSetTest, DowngradingPartOfAWriteLock) {
  Set(kW, 0, 99);
  Set(kR, 0, 49);
  EXPECT_EQ(Of(), (LockList{L(kR, 0, 49), L(kW, 50, 99)}));
}

TEST_F(PosixLockSetTest, DowngradeMergesWithTheNeighbouringReadLock) {
  Set(kR, 0, 9);
  Set(kW, 10, 19);
  Set(kR, 10, 19);
  EXPECT_EQ(Of(), (LockList{L(kR, 0, 19)}));
}

TEST_F(PosixLockSetTest, ALockSpanningSeveralReplacesAndTrimsThem) {
  Set(kR, 0, 9);
  Set(kW, 20, 29);
  Set(kR, 40, 49);
  Set(kW, 5, 45);
  EXPECT_EQ(Of(), (LockList{L(kR, 0, 4), L(kW, 5, 45), L(kR, 46, 49)}));
}

TEST_F(PosixLockSetTest, ANewLockTakesTheNewPidAndSplitPiecesKeepTheirs) {
  Set(kW, 0, 99, kA, 1);
  Set(kR, 10, 19, kA, 2);
  EXPECT_EQ(Of(), (LockList{L(kW, 0, 9, kA, 1), L(kR, 10, 19, kA, 2), L(kW, 20, 99, kA, 1)}));
  Set(kW, 10, 14, kA, 3);  // merges with [0, 9] into one lock of pid 3
  EXPECT_EQ(Of(), (LockList{L(kW, 0, 14, kA, 3), L(kR, 15, 19, kA, 2), L(kW, 20, 99, kA, 1)}));
}

TEST_F(PosixLockSetTest, OwnersAreIndependent) {
  Set(kW, 0, 9, kA);
  Set(kW, 0, 9, kB);  // the set does not police conflicts; the engine does
  Set(kU, 0, 9, kA);
  EXPECT_TRUE(Of(kA).empty());
  EXPECT_EQ(Of(kB), (LockList{L(kW, 0, 9, kB)}));
}

TEST_F(PosixLockSetTest, ConflictsNeedOverlapAWriteAndAnotherOwner) {
  Set(kR, 0, 9, kA);
  Set(kW, 20, 29, kB);
  EXPECT_EQ(Conflicting(kC, kW, 5, 25), (std::vector<std::uint64_t>{kA, kB}));
  EXPECT_EQ(Conflicting(kC, kR, 5, 25), (std::vector<std::uint64_t>{kB}));
  EXPECT_TRUE(Conflicting(kC, kR, 0, 9).empty());    // read/read
  EXPECT_TRUE(Conflicting(kC, kW, 10, 19).empty());  // no overlap
  EXPECT_TRUE(Conflicting(kA, kW, 0, 9).empty());    // own lock
  EXPECT_EQ(Conflicting(kA, kR, 0, 29), (std::vector<std::uint64_t>{kB}));
  EXPECT_TRUE(set_.HolderBlocks(kB, kR, Range{25, 25}));
  EXPECT_FALSE(set_.HolderBlocks(kA, kR, Range{0, 9}));
  EXPECT_TRUE(set_.HolderBlocks(kA, kW, Range{9, 9}));
  EXPECT_FALSE(set_.HolderBlocks(kC, kW, Range{0, kEof}));
}

TEST_F(PosixLockSetTest, FirstConflictHasTheLowestStartAndTheHolderPid) {
  Set(kW, 50, 59, kA, 100);
  Set(kR, 10, 19, kB, 200);
  EXPECT_EQ(set_.FirstConflict(kC, kW, Range{0, 99}), L(kR, 10, 19, kB, 200));
  EXPECT_EQ(set_.FirstConflict(kC, kR, Range{0, 99}), L(kW, 50, 59, kA, 100));
  EXPECT_EQ(set_.FirstConflict(kA, kR, Range{50, 59}), std::nullopt);
  EXPECT_EQ(set_.FirstConflict(kC, kW, Range{20, 49}), std::nullopt);
}

TEST_F(PosixLockSetTest, FirstConflictReportsTheHeldRangeNotTheProbe) {
  Set(kW, 0, kEof, kB, 7);
  EXPECT_EQ(set_.FirstConflict(kA, kR, Range{500, 600}), L(kW, 0, kEof, kB, 7));
}

TEST_F(PosixLockSetTest, FirstConflictBreaksTiesByOwner) {
  Set(kR, 10, 19, kB, 2);
  Set(kR, 10, 29, kA, 1);
  EXPECT_EQ(set_.FirstConflict(kC, kW, Range{0, 99}), L(kR, 10, 29, kA, 1));
}

TEST_F(PosixLockSetTest, ModeIsTheStrongestLockHeld) {
  EXPECT_EQ(set_.Mode(), HeapMode::kNone);
  Set(kR, 0, 9, kA);
  EXPECT_EQ(set_.Mode(), HeapMode::kRead);
  Set(kW, 100, 109, kB);
  EXPECT_EQ(set_.Mode(), HeapMode::kWrite);
  Set(kR, 100, 109, kB);
  EXPECT_EQ(set_.Mode(), HeapMode::kRead);
}

TEST_F(PosixLockSetTest, RemoveOwnerDropsAllOfItsLocksAndOnlyThose) {
  Set(kR, 0, 9, kA);
  Set(kW, 20, 29, kA);
  Set(kR, 0, 9, kB);
  EXPECT_TRUE(set_.RemoveOwner(kA));
  EXPECT_FALSE(set_.RemoveOwner(kA));
  EXPECT_TRUE(Of(kA).empty());
  LockList all;
  set_.AppendTo(&all);
  EXPECT_EQ(all, (LockList{L(kR, 0, 9, kB)}));
}

}  // namespace
}  // namespace shmheap::lockd
