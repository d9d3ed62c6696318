// LockEngine with POSIX record locks: F_SETLK answers, F_GETLK answers,
// F_SETLKW queuing and grant order (FIFO, no writer starvation), cancel,
// release on close (flush), and completion re-entrancy.
#include <lockd/lock_engine.hpp>

#include <cerrno>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/lockd/engine_fixture.h"

namespace shmheap::lockd::testing {
namespace {

// ---- F_SETLK ---------------------------------------------------------------

TEST_F(EngineTest, SetlkGrantsAndLocksReportsTheLock) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  EXPECT_EQ(Locks(), (LockList{Wr(kA, 0, 9)}));
  EXPECT_TRUE(Locks(kInode2).empty());
}

TEST_F(EngineTest, ConflictingSetlkIsBusyAndChangesNothing) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  Status s = engine_.Setlk(kInode, Rd(kB, 5, 14));
  EXPECT_EQ(s.code(), Code::kBusy);
  EXPECT_EQ(s.ToErrno(), EAGAIN);
  EXPECT_EQ(Locks(), (LockList{Wr(kA, 0, 9)}));
  EXPECT_TRUE(engine_.Setlk(kInode, Rd(kB, 10, 19)).ok());  // just past A's lock
}

TEST_F(EngineTest, ReadLocksOfDifferentOwnersShare) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 99)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kB, 50, 149)).ok());
  EXPECT_EQ(engine_.Setlk(kInode, Wr(kC, 120, 130)).code(), Code::kBusy);
  EXPECT_EQ(Locks(), (LockList{Rd(kA, 0, 99), Rd(kB, 50, 149)}));
}

TEST_F(EngineTest, AnOwnerNeverConflictsWithItself) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 5, 14)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 12, 20)).ok());
  EXPECT_EQ(Locks(), (LockList{Wr(kA, 0, 11), Rd(kA, 12, 20)}));
}

TEST_F(EngineTest, FailedUpgradeKeepsTheReadLock) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 99)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kB, 0, 99)).ok());
  EXPECT_EQ(engine_.Setlk(kInode, Wr(kA, 0, 99)).code(), Code::kBusy);
  EXPECT_EQ(Locks(), (LockList{Rd(kA, 0, 99), Rd(kB, 0, 99)}));
}

TEST_F(EngineTest, PartialUnlockLetsAnotherOwnerIntoTheHole) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 99)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 40, 59)).ok());
  EXPECT_TRUE(engine_.Setlk(kInode, Wr(kB, 40, 59)).ok());
  EXPECT_EQ(engine_.Setlk(kInode, Wr(kC, 59, 60)).code(), Code::kBusy);
  EXPECT_EQ(Locks(), (LockList{Wr(kA, 0, 39), Wr(kA, 60, 99), Wr(kB, 40, 59)}));
}

TEST_F(EngineTest, LocksToEofConflictWithEverythingPastTheirStart) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 100, kEof)).ok());
  EXPECT_EQ(engine_.Setlk(kInode, Rd(kB, 1ull << 62, 1ull << 62)).code(), Code::kBusy);
  EXPECT_EQ(engine_.Setlk(kInode, Rd(kB, kEof, kEof)).code(), Code::kBusy);
  EXPECT_TRUE(engine_.Setlk(kInode, Wr(kB, 0, 99)).ok());
}

TEST_F(EngineTest, UnlockAlwaysSucceeds) {
  EXPECT_TRUE(engine_.Setlk(kInode, Un(kA, 0, kEof)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kB, 0, 9)).ok());
  EXPECT_TRUE(engine_.Setlk(kInode, Un(kA, 0, kEof)).ok());  // B's lock is not A's to drop
  EXPECT_EQ(Locks(), (LockList{Wr(kB, 0, 9)}));
}

TEST_F(EngineTest, InvalidRequestsAreRejected) {
  EXPECT_EQ(engine_.Setlk(kInode, Wr(kA, 10, 9)).code(), Code::kInvalidArgument);
  EXPECT_EQ(engine_.Setlkw(1, kInode, Rd(kA, 10, 9)).code(), Code::kInvalidArgument);
  RecordLock bad = Wr(kA, 0, 9);
  bad.type = static_cast<LockType>(7);
  EXPECT_EQ(engine_.Setlk(kInode, bad).code(), Code::kInvalidArgument);
  EXPECT_EQ(engine_.Flock(1, kInode, kF1, static_cast<LockType>(7), false).code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(Locks().empty());
  EXPECT_TRUE(bridge_.calls.empty());
}

// ---- F_GETLK ---------------------------------------------------------------

TEST_F(EngineTest, GetlkReportsTheConflictingLockWithItsHolderPid) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 10, 19)).ok());
  auto got = engine_.Getlk(kInode, Wr(kB, 0, 99));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, Rd(kA, 10, 19));
  EXPECT_EQ(got->pid, PidOf(kA));
}

TEST_F(EngineTest, GetlkIsEmptyWhenTheLockCouldBeSet) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 10, 19)).ok());
  EXPECT_EQ(engine_.Getlk(kInode, Rd(kB, 0, 99)), std::nullopt);   // read/read
  EXPECT_EQ(engine_.Getlk(kInode, Wr(kA, 0, 99)), std::nullopt);   // own lock
  EXPECT_EQ(engine_.Getlk(kInode, Wr(kB, 20, 99)), std::nullopt);  // no overlap
  EXPECT_EQ(engine_.Getlk(kInode, Un(kB, 0, 99)), std::nullopt);   // F_UNLCK probe
  EXPECT_EQ(engine_.Getlk(kInode, Wr(kB, 19, 18)), std::nullopt);  // invalid
  EXPECT_EQ(engine_.Getlk(kInode2, Wr(kB, 0, 99)), std::nullopt);  // other inode
}

TEST_F(EngineTest, GetlkReportsTheLowestConflictingLock) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 50, 59)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kB, 10, 19)).ok());
  EXPECT_EQ(engine_.Getlk(kInode, Wr(kC, 0, 99)), Rd(kB, 10, 19));
  EXPECT_EQ(engine_.Getlk(kInode, Rd(kC, 0, 99)), Wr(kA, 50, 59));
}

TEST_F(EngineTest, GetlkConsidersGrantedPosixLocksOnly) {
  ASSERT_TRUE(engine_.Flock(0, kInode, kF1, LockType::kWrite, false).ok());
  EXPECT_EQ(engine_.Getlk(kInode, Wr(kB, 0, kEof)), std::nullopt);
  // A waiting writer makes F_SETLK of a reader fail (fairness), but F_GETLK
  // reports only granted locks.
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 9)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
  EXPECT_EQ(engine_.Getlk(kInode, Rd(kC, 0, 9)), std::nullopt);
  EXPECT_EQ(engine_.Setlk(kInode, Rd(kC, 0, 9)).code(), Code::kBusy);
}

// ---- F_SETLKW: queuing and grant order --------------------------------------

TEST_F(EngineTest, SetlkwGrantsAtOnceWhenNothingConflicts) {
  EXPECT_TRUE(engine_.Setlkw(1, kInode, Wr(kA, 0, 9)).ok());
  EXPECT_TRUE(Done().empty());
  EXPECT_TRUE(engine_.Waiting(kInode).empty());
  EXPECT_EQ(Locks(), (LockList{Wr(kA, 0, 9)}));
}

TEST_F(EngineTest, SetlkwQueuesAndIsGrantedWhenTheHolderUnlocks) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  EXPECT_EQ(engine_.Setlkw(1, kInode, Rd(kB, 5, 5)).code(), Code::kPending);
  EXPECT_EQ(engine_.Waiting(kInode), (Ids{1}));
  EXPECT_TRUE(Done().empty());
  EXPECT_EQ(Locks(), (LockList{Wr(kA, 0, 9)}));
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 0, 9)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  EXPECT_EQ(Locks(), (LockList{Rd(kB, 5, 5)}));
  EXPECT_TRUE(engine_.Waiting(kInode).empty());
}

TEST_F(EngineTest, WritersAreGrantedInArrivalOrder) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
  ASSERT_EQ(engine_.Setlkw(2, kInode, Wr(kC, 0, 9)).code(), Code::kPending);
  ASSERT_EQ(engine_.Setlkw(3, kInode, Wr(kD, 0, 9)).code(), Code::kPending);
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 0, 9)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kB, 0, 9)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(2)}));
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kC, 0, 9)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(3)}));
  EXPECT_EQ(Locks(), (LockList{Wr(kD, 0, 9)}));
}

TEST_F(EngineTest, CompatibleWaitersWakeTogetherInOrder) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Rd(kB, 0, 9)).code(), Code::kPending);
  ASSERT_EQ(engine_.Setlkw(2, kInode, Rd(kC, 0, 9)).code(), Code::kPending);
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 0, 9)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1), Granted(2)}));
  EXPECT_EQ(Locks(), (LockList{Rd(kB, 0, 9), Rd(kC, 0, 9)}));
}

TEST_F(EngineTest, ReadersQueueBehindAWaitingWriter) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 99)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 99)).code(), Code::kPending);
  // Compatible with every granted lock, but the writer came first.
  EXPECT_EQ(engine_.Setlk(kInode, Rd(kC, 0, 9)).code(), Code::kBusy);
  EXPECT_EQ(engine_.Setlkw(2, kInode, Rd(kC, 50, 59)).code(), Code::kPending);
  EXPECT_EQ(engine_.BlockedBy(2), (Ids{kB}));
  // Outside the writer's range readers pass.
  EXPECT_TRUE(engine_.Setlk(kInode, Rd(kD, 200, 300)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 0, 99)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kB, 0, 99)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(2)}));
}

TEST_F(EngineTest, ALaterWaiterOnADisjointRangeDoesNotWaitForAnEarlierOne) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 99)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
  ASSERT_EQ(engine_.Setlkw(2, kInode, Wr(kC, 50, 59)).code(), Code::kPending);
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 50, 99)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(2)}));
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 0, 49)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
}

TEST_F(EngineTest, AnOwnerMayRelockWhatItHoldsPastWaitersItBlocks) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 99)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 99)).code(), Code::kPending);
  // B waits for A anyway, so A re-locking, upgrading or downgrading its own
  // range cannot starve B; making A wait for B would deadlock.
  EXPECT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 49)).ok());
  EXPECT_TRUE(engine_.Setlkw(2, kInode, Wr(kA, 0, 99)).ok());
  EXPECT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 99)).ok());
  EXPECT_TRUE(Done().empty());
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 0, 99)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
}

TEST_F(EngineTest, AWaitingUpgradeKeepsTheReadLockAndBlocksNewReaders) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 99)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kB, 0, 99)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kA, 0, 99)).code(), Code::kPending);
  EXPECT_EQ(Locks(), (LockList{Rd(kA, 0, 99), Rd(kB, 0, 99)}));
  EXPECT_EQ(engine_.Setlk(kInode, Rd(kC, 0, 0)).code(), Code::kBusy);
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kB, 0, 99)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  EXPECT_EQ(Locks(), (LockList{Wr(kA, 0, 99)}));
}

TEST_F(EngineTest, AGrantedWaiterReplacesItsOwnersLocksOverItsRange) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kB, 15, 19)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kA, 5, 19)).code(), Code::kPending);
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kB, 0, kEof)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  EXPECT_EQ(Locks(), (LockList{Wr(kA, 0, 19)}));
}

TEST_F(EngineTest, AGrantThatDowngradesWakesAnEarlierWaiter) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kC, 15, 19)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Rd(kB, 0, 9)).code(), Code::kPending);   // waits for A
  ASSERT_EQ(engine_.Setlkw(2, kInode, Rd(kA, 0, 19)).code(), Code::kPending);  // waits for C
  // C leaves: A's request is granted, which turns A's write lock on [0, 9]
  // into a read lock, which lets the earlier waiter B in too.
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kC, 15, 19)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(2), Granted(1)}));
  EXPECT_EQ(Locks(), (LockList{Rd(kA, 0, 19), Rd(kB, 0, 9)}));
}

TEST_F(EngineTest, ADuplicateQueuedRequestIdIsRejected) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
  EXPECT_EQ(engine_.Setlkw(1, kInode, Wr(kC, 0, 9)).code(), Code::kInvalidArgument);
  EXPECT_EQ(engine_.Flock(1, kInode, kF1, LockType::kRead, true).code(), Code::kInvalidArgument);
  EXPECT_EQ(engine_.Waiting(kInode), (Ids{1}));
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 0, 9)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  // Once completed the id may be used again.
  EXPECT_EQ(engine_.Setlkw(1, kInode, Wr(kC, 0, 9)).code(), Code::kPending);
}

// ---- Cancel ----------------------------------------------------------------

TEST_F(EngineTest, CancelCompletesWithInterruptedAndLeavesNothingBehind) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
  engine_.Cancel(1);
  EXPECT_EQ(Done(), (std::vector<Completed>{Interrupted(1)}));
  EXPECT_TRUE(engine_.Waiting(kInode).empty());
  EXPECT_TRUE(engine_.BlockedBy(1).empty());
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 0, 9)).ok());
  EXPECT_TRUE(Done().empty());
  EXPECT_TRUE(Locks().empty());
  EXPECT_EQ(engine_.HeldMode(kInode), HeapMode::kNone);
}

TEST_F(EngineTest, CancellingAWaitingWriterWakesTheReadersBehindIt) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 9)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
  ASSERT_EQ(engine_.Setlkw(2, kInode, Rd(kC, 0, 9)).code(), Code::kPending);
  engine_.Cancel(1);
  EXPECT_EQ(Done(), (std::vector<Completed>{Interrupted(1), Granted(2)}));
  EXPECT_EQ(Locks(), (LockList{Rd(kA, 0, 9), Rd(kC, 0, 9)}));
}

TEST_F(EngineTest, CancelOfAnUnknownOrCompletedRequestIsANoOp) {
  engine_.Cancel(42);
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 0, 9)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  engine_.Cancel(1);  // too late: the lock stays granted
  EXPECT_TRUE(Done().empty());
  EXPECT_EQ(Locks(), (LockList{Wr(kB, 0, 9)}));
}

TEST_F(EngineTest, AbortCompletesWithTheGivenStatus) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
  engine_.Abort(1, Status::Deadlock("cycle through a library client"));
  EXPECT_EQ(Done(), (std::vector<Completed>{Completed{1, Code::kDeadlock}}));
  EXPECT_TRUE(engine_.Waiting(kInode).empty());
}

// ---- Release on close (FUSE flush) -------------------------------------------

TEST_F(EngineTest, ReleaseOwnerDropsItsLocksOnThatInodeOnly) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 20, 29)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kB, 20, 29)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode2, Wr(kA, 0, 9)).ok());
  engine_.ReleaseOwner(kInode, kA);
  EXPECT_EQ(Locks(), (LockList{Rd(kB, 20, 29)}));
  EXPECT_EQ(Locks(kInode2), (LockList{Wr(kA, 0, 9)}));
  engine_.ReleaseOwner(kInode, kA);  // nothing left: no-op
  engine_.ReleaseOwner(99, kA);      // unknown inode: no-op
  EXPECT_EQ(Locks(), (LockList{Rd(kB, 20, 29)}));
}

TEST_F(EngineTest, ReleaseOwnerWakesWhoWaitedForIt) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
  engine_.ReleaseOwner(kInode, kA);
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  EXPECT_EQ(Locks(), (LockList{Wr(kB, 0, 9)}));
}

TEST_F(EngineTest, ReleaseOwnerKeepsTheOwnersQueuedRequests) {
  // One thread of process A waits while another closes a descriptor.
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 9)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kB, 20, 29)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kA, 20, 29)).code(), Code::kPending);
  engine_.ReleaseOwner(kInode, kA);
  EXPECT_TRUE(Done().empty());
  EXPECT_EQ(engine_.Waiting(kInode), (Ids{1}));
  EXPECT_EQ(Locks(), (LockList{Wr(kB, 20, 29)}));
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kB, 20, 29)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  EXPECT_EQ(Locks(), (LockList{Wr(kA, 20, 29)}));
}

TEST_F(EngineTest, ReleaseOwnerAndReleaseFileKeepToTheirOwnLockKind) {
  // POSIX owner 101 and open file 101 are unrelated.
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kF1, 0, 9)).ok());
  ASSERT_TRUE(engine_.Flock(0, kInode, kF1, LockType::kWrite, false).ok());
  engine_.ReleaseOwner(kInode, kF1);
  EXPECT_EQ(Locks(), (LockList{FlockOf(kF1, LockType::kWrite)}));
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kF1, 0, 9)).ok());
  engine_.ReleaseFile(kInode, kF1);
  EXPECT_EQ(Locks(), (LockList{Wr(kF1, 0, 9)}));
}

// ---- Completions -------------------------------------------------------------

TEST(LockEngineCompletionTest, ACompletionMayCallBackIntoTheEngine) {
  FakeBridge bridge;
  LockEngine* engine_ptr = nullptr;
  std::vector<Completed> done;
  LockEngine engine(&bridge, [&](std::uint64_t id, Status s) {
    done.push_back({id, s.code()});
    // The granted waiter releases at once: runs without the engine's mutex.
    if (id == 1) {
      EXPECT_TRUE(engine_ptr->Setlk(kInode, Un(kB, 0, 9)).ok());
    }
  });
  engine_ptr = &engine;
  ASSERT_TRUE(engine.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_EQ(engine.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
  ASSERT_EQ(engine.Setlkw(2, kInode, Wr(kC, 0, 9)).code(), Code::kPending);
  ASSERT_TRUE(engine.Setlk(kInode, Un(kA, 0, 9)).ok());
  EXPECT_EQ(done, (std::vector<Completed>{Granted(1), Granted(2)}));
  EXPECT_EQ(engine.Locks(kInode), (LockList{Wr(kC, 0, 9)}));
}

TEST(LockEngineCompletionTest, WorksWithoutABridgeOrACallback) {
  LockEngine engine(nullptr, nullptr);
  ASSERT_TRUE(engine.Setlk(kInode, Wr(kA, 0, 9)).ok());
  EXPECT_EQ(engine.HeldMode(kInode), HeapMode::kWrite);
  ASSERT_EQ(engine.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
  ASSERT_TRUE(engine.Setlk(kInode, Un(kA, 0, 9)).ok());
  EXPECT_EQ(engine.Locks(kInode), (LockList{Wr(kB, 0, 9)}));
  engine.ReleaseOwner(kInode, kB);
  EXPECT_EQ(engine.HeldMode(kInode), HeapMode::kNone);
}

}  // namespace
}  // namespace shmheap::lockd::testing
