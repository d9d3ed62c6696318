// LockEngine with flock(2) locks: whole-file, per open file, independent of
// POSIX locks, non-atomic conversion, fairness, release of the open file.
#include <vector>

#include <gtest/gtest.h>
#include <lockd/lock_engine.hpp>

#include "tests/unit/lockd/engine_fixture.h"

namespace shmheap::lockd::testing {
namespace {

constexpr LockType kSh = LockType::kRead;
constexpr LockType kEx = LockType::kWrite;
constexpr LockType kUn = LockType::kUnlock;

class FlockTest : public EngineTest {
 protected:
  Status Try(std::uint64_t file, LockType t) { return engine_.Flock(0, kInode, file, t, false); }
  Status Wait(std::uint64_t id, std::uint64_t file, LockType t) {
    return engine_.Flock(id, kInode, file, t, true);
  }
};

TEST_F(FlockTest, SharedLocksOfDifferentFilesCoexistExclusiveDoesNot) {
  ASSERT_TRUE(Try(kF1, kSh).ok());
  ASSERT_TRUE(Try(kF2, kSh).ok());
  Status s = Try(kF3, kEx);
  EXPECT_EQ(s.code(), Code::kBusy);
  EXPECT_EQ(Locks(), (LockList{FlockOf(kF1, kSh), FlockOf(kF2, kSh)}));
}

TEST_F(FlockTest, ExclusiveWaitIsGrantedWhenTheSharedHoldersLeave) {
  ASSERT_TRUE(Try(kF1, kSh).ok());
  ASSERT_TRUE(Try(kF2, kSh).ok());
  ASSERT_EQ(Wait(1, kF3, kEx).code(), Code::kPending);
  EXPECT_EQ(engine_.BlockedBy(1), (Ids{kF1 | kFlockOwnerBit, kF2 | kFlockOwnerBit}));
  ASSERT_TRUE(Try(kF1, kUn).ok());
  EXPECT_TRUE(Done().empty());
  EXPECT_EQ(engine_.BlockedBy(1), (Ids{kF2 | kFlockOwnerBit}));
  engine_.ReleaseFile(kInode, kF2);
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  EXPECT_EQ(Locks(), (LockList{FlockOf(kF3, kEx)}));
}

TEST_F(FlockTest, AFileNeverConflictsWithItselfAndRepeatingIsANoOp) {
  ASSERT_TRUE(Try(kF1, kEx).ok());
  EXPECT_TRUE(Try(kF1, kEx).ok());
  EXPECT_TRUE(Wait(1, kF1, kEx).ok());
  EXPECT_TRUE(Try(kF1, kSh).ok());  // downgrade
  EXPECT_EQ(Locks(), (LockList{FlockOf(kF1, kSh)}));
  EXPECT_TRUE(Try(kF2, kUn).ok());  // nothing to unlock
  EXPECT_TRUE(Try(kF1, kUn).ok());
  EXPECT_TRUE(Locks().empty());
}

TEST_F(FlockTest, FlockAndPosixLocksAreIndependent) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, kEof)).ok());
  EXPECT_TRUE(Try(kF1, kEx).ok());
  EXPECT_TRUE(engine_.Setlk(kInode, Un(kA, 0, kEof)).ok());
  EXPECT_TRUE(engine_.Setlk(kInode, Wr(kB, 0, kEof)).ok());
  // Each kind still conflicts within itself.
  EXPECT_EQ(engine_.Setlk(kInode, Rd(kC, 5, 5)).code(), Code::kBusy);
  EXPECT_EQ(Try(kF2, kSh).code(), Code::kBusy);
  EXPECT_EQ(engine_.Getlk(kInode, Rd(kC, 0, 9)), Wr(kB, 0, kEof));
  EXPECT_EQ(Locks(), (LockList{Wr(kB, 0, kEof), FlockOf(kF1, kEx)}));
}

TEST_F(FlockTest, ConvertingToExclusiveIsNotAtomic) {
  ASSERT_TRUE(Try(kF1, kSh).ok());
  ASSERT_TRUE(Try(kF2, kSh).ok());
  // Linux: the shared lock is dropped first; the exclusive one then fails.
  EXPECT_EQ(Try(kF1, kEx).code(), Code::kBusy);
  EXPECT_EQ(Locks(), (LockList{FlockOf(kF2, kSh)}));
}

TEST_F(FlockTest, ConversionLetsAnEarlierWaiterGoFirst) {
  ASSERT_TRUE(Try(kF1, kSh).ok());
  ASSERT_EQ(Wait(1, kF2, kEx).code(), Code::kPending);
  // F1 upgrades: its shared lock goes, F2 (waiting longer) gets the file,
  // and F1 waits behind it.
  EXPECT_EQ(Wait(2, kF1, kEx).code(), Code::kPending);
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  EXPECT_EQ(Locks(), (LockList{FlockOf(kF2, kEx)}));
  ASSERT_TRUE(Try(kF2, kUn).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(2)}));
  EXPECT_EQ(Locks(), (LockList{FlockOf(kF1, kEx)}));
}

TEST_F(FlockTest, DowngradeWakesSharedWaiters) {
  ASSERT_TRUE(Try(kF1, kEx).ok());
  ASSERT_EQ(Wait(1, kF2, kSh).code(), Code::kPending);
  ASSERT_EQ(Wait(2, kF3, kSh).code(), Code::kPending);
  ASSERT_TRUE(Try(kF1, kSh).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1), Granted(2)}));
  EXPECT_EQ(Locks(), (LockList{FlockOf(kF1, kSh), FlockOf(kF2, kSh), FlockOf(kF3, kSh)}));
}

TEST_F(FlockTest, SharedRequestsQueueBehindAWaitingExclusiveOne) {
  ASSERT_TRUE(Try(kF1, kSh).ok());
  ASSERT_EQ(Wait(1, kF2, kEx).code(), Code::kPending);
  EXPECT_EQ(Try(kF3, kSh).code(), Code::kBusy);
  EXPECT_EQ(Wait(2, kF3, kSh).code(), Code::kPending);
  EXPECT_EQ(engine_.BlockedBy(2), (Ids{kF2 | kFlockOwnerBit}));
  ASSERT_TRUE(Try(kF1, kUn).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  ASSERT_TRUE(Try(kF2, kUn).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(2)}));
}

TEST_F(FlockTest, ReleaseFileDropsTheLockAndCancelsTheFilesWaits) {
  ASSERT_TRUE(Try(kF1, kEx).ok());
  ASSERT_EQ(Wait(1, kF2, kEx).code(), Code::kPending);
  ASSERT_EQ(Wait(2, kF3, kSh).code(), Code::kPending);
  engine_.ReleaseFile(kInode, kF2);
  EXPECT_EQ(Done(), (std::vector<Completed>{Interrupted(1)}));
  EXPECT_EQ(engine_.Waiting(kInode), (Ids{2}));
  engine_.ReleaseFile(kInode, kF1);
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(2)}));
  EXPECT_EQ(Locks(), (LockList{FlockOf(kF3, kSh)}));
}

TEST_F(FlockTest, CancelledFlockWaitLeavesNothingAndUnblocksOthers) {
  ASSERT_TRUE(Try(kF1, kSh).ok());
  ASSERT_EQ(Wait(1, kF2, kEx).code(), Code::kPending);
  ASSERT_EQ(Wait(2, kF3, kSh).code(), Code::kPending);
  engine_.Cancel(1);
  EXPECT_EQ(Done(), (std::vector<Completed>{Interrupted(1), Granted(2)}));
  EXPECT_EQ(Locks(), (LockList{FlockOf(kF1, kSh), FlockOf(kF3, kSh)}));
}

TEST_F(FlockTest, PosixUnlockDoesNotWakeFlockWaiters) {
  ASSERT_TRUE(Try(kF1, kEx).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_EQ(Wait(1, kF2, kEx).code(), Code::kPending);
  engine_.ReleaseOwner(kInode, kA);
  EXPECT_TRUE(Done().empty());
  EXPECT_EQ(engine_.Waiting(kInode), (Ids{1}));
}

}  // namespace
}  // namespace shmheap::lockd::testing
