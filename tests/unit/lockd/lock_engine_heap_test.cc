// LockEngine and the heap object lock: TryAcquire exactly when the
// aggregate mode of the file locks rises, Reduce exactly when it falls,
// and requests refused by the heap (a library client holds the object
// lock) failing with kBusy or waiting until RetryHeap.
#include <vector>

#include <gtest/gtest.h>
#include <lockd/lock_engine.hpp>

#include "tests/unit/lockd/engine_fixture.h"

namespace shmheap::lockd::testing {
namespace {

using Calls = std::vector<BridgeCall>;
constexpr HeapMode kNone = HeapMode::kNone;
constexpr HeapMode kRead = HeapMode::kRead;
constexpr HeapMode kWrite = HeapMode::kWrite;

using HeapTest = EngineTest;

TEST_F(HeapTest, TryAcquireIsCalledOnlyWhenTheAggregateRises) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 9)).ok());
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kRead)}));
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kB, 20, 29)).ok());  // still read
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 10, 15)).ok());  // still read
  EXPECT_TRUE(bridge_.Take().empty());
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kWrite)}));
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kB, 40, 49)).ok());  // still write
  EXPECT_TRUE(bridge_.Take().empty());
  EXPECT_EQ(engine_.HeldMode(kInode), kWrite);
  EXPECT_EQ(engine_.HeldMode(kInode2), kNone);
}

TEST_F(HeapTest, ReduceFollowsTheAggregateDownWriteReadNone) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kWrite)}));
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 9)).ok());
  EXPECT_EQ(bridge_.Take(), (Calls{Reduce(kRead)}));
  EXPECT_EQ(engine_.HeldMode(kInode), kRead);
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 0, 9)).ok());
  EXPECT_EQ(bridge_.Take(), (Calls{Reduce(kNone)}));
  EXPECT_EQ(engine_.HeldMode(kInode), kNone);
}

TEST_F(HeapTest, ReleasingOneOfSeveralLocksReducesOnlyWhenTheAggregateFalls) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kB, 20, 29)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kC, 40, 49)).ok());
  bridge_.Take();
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 0, 9)).ok());
  EXPECT_TRUE(bridge_.Take().empty());
  engine_.ReleaseOwner(kInode, kB);
  EXPECT_EQ(bridge_.Take(), (Calls{Reduce(kRead)}));
  engine_.ReleaseOwner(kInode, kC);
  EXPECT_EQ(bridge_.Take(), (Calls{Reduce(kNone)}));
}

TEST_F(HeapTest, UnlockingNothingCallsNothing) {
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 0, kEof)).ok());
  ASSERT_TRUE(engine_.Flock(0, kInode, kF1, LockType::kUnlock, false).ok());
  engine_.ReleaseOwner(kInode, kA);
  engine_.ReleaseFile(kInode, kF1);
  engine_.RetryHeap(kInode);
  EXPECT_TRUE(bridge_.calls.empty());
}

TEST_F(HeapTest, ALibraryWriterMakesSetlkBusyAndLeavesNothingHeld) {
  bridge_.library = kWrite;
  Status s = engine_.Setlk(kInode, Rd(kA, 0, 9));
  EXPECT_EQ(s.code(), Code::kBusy);
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kRead)}));
  EXPECT_TRUE(Locks().empty());
  EXPECT_EQ(engine_.HeldMode(kInode), kNone);
}

TEST_F(HeapTest, ALibraryReaderAllowsReadersButRefusesAnUpgrade) {
  bridge_.library = kRead;
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 9)).ok());
  EXPECT_EQ(engine_.Setlk(kInode, Wr(kA, 0, 9)).code(), Code::kBusy);
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kRead), Acquire(kWrite)}));
  // POSIX upgrades are atomic: the read lock and the heap read lock stay.
  EXPECT_EQ(Locks(), (LockList{Rd(kA, 0, 9)}));
  EXPECT_EQ(engine_.HeldMode(kInode), kRead);
}

TEST_F(HeapTest, SetlkwWaitsForTheHeapAndRetryHeapGrantsIt) {
  bridge_.library = kWrite;
  ASSERT_EQ(engine_.Setlkw(1, kInode, Rd(kA, 0, 9)).code(), Code::kPending);
  EXPECT_TRUE(engine_.WaitingOnHeap(1));
  EXPECT_TRUE(engine_.BlockedBy(1).empty());
  EXPECT_EQ(engine_.Waiting(kInode), (Ids{1}));
  engine_.RetryHeap(kInode);  // the library client still holds it
  EXPECT_TRUE(Done().empty());
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kRead), Acquire(kRead)}));
  bridge_.library = kNone;
  engine_.RetryHeap(kInode);
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kRead)}));
  EXPECT_EQ(Locks(), (LockList{Rd(kA, 0, 9)}));
  EXPECT_EQ(engine_.HeldMode(kInode), kRead);
  EXPECT_FALSE(engine_.WaitingOnHeap(1));
}

TEST_F(HeapTest, ARefusedModeIsAskedForOncePerSettle) {
  bridge_.library = kRead;
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kA, 0, 9)).code(), Code::kPending);
  ASSERT_EQ(engine_.Setlkw(2, kInode, Wr(kB, 20, 29)).code(), Code::kPending);
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kC, 40, 49)).ok());  // read is compatible
  bridge_.Take();
  engine_.RetryHeap(kInode);
  // One refusal of write covers both writers.
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kWrite)}));
  bridge_.library = kNone;
  engine_.RetryHeap(kInode);
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1), Granted(2)}));
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kWrite)}));
}

TEST_F(HeapTest, ReadersQueueBehindAWriterWaitingForTheHeap) {
  bridge_.library = kRead;
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kA, 0, 9)).code(), Code::kPending);
  bridge_.Take();
  EXPECT_EQ(engine_.Setlk(kInode, Rd(kB, 0, 9)).code(), Code::kBusy);
  EXPECT_TRUE(bridge_.Take().empty());  // refused by fairness, before the heap
  EXPECT_TRUE(engine_.Setlk(kInode, Rd(kB, 20, 29)).ok());
  // B's read is granted; the settle after it retries A's write at the heap
  // (still refused). A still waits only for the heap.
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kRead), Acquire(kWrite)}));
  EXPECT_TRUE(engine_.WaitingOnHeap(1));
  EXPECT_EQ(Locks(), (LockList{Rd(kB, 20, 29)}));
}

TEST_F(HeapTest, FlockAndPosixLocksShareOneAggregate) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 9)).ok());
  ASSERT_TRUE(engine_.Flock(0, kInode, kF1, LockType::kWrite, false).ok());
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kRead), Acquire(kWrite)}));
  engine_.ReleaseFile(kInode, kF1);
  EXPECT_EQ(bridge_.Take(), (Calls{Reduce(kRead)}));
  engine_.ReleaseOwner(kInode, kA);
  EXPECT_EQ(bridge_.Take(), (Calls{Reduce(kNone)}));
}

TEST_F(HeapTest, FlockConversionAsksForWriteWithoutReleasingTheHeapFirst) {
  ASSERT_TRUE(engine_.Flock(0, kInode, kF1, LockType::kRead, false).ok());
  ASSERT_TRUE(engine_.Flock(0, kInode, kF1, LockType::kWrite, false).ok());
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kRead), Acquire(kWrite)}));
  EXPECT_EQ(engine_.HeldMode(kInode), kWrite);
}

TEST_F(HeapTest, AFailedFlockConversionLosesTheLockAndReleasesTheHeap) {
  bridge_.library = kRead;
  ASSERT_TRUE(engine_.Flock(0, kInode, kF1, LockType::kRead, false).ok());
  EXPECT_EQ(engine_.Flock(0, kInode, kF1, LockType::kWrite, false).code(), Code::kBusy);
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kRead), Acquire(kWrite), Reduce(kNone)}));
  EXPECT_TRUE(Locks().empty());
}

TEST_F(HeapTest, ABridgeErrorOtherThanBusyIsReturnedAndNothingQueues) {
  bridge_.error = Status::IOError("heap gone", 5);
  EXPECT_EQ(engine_.Setlk(kInode, Wr(kA, 0, 9)).code(), Code::kIOError);
  EXPECT_EQ(engine_.Setlkw(1, kInode, Wr(kA, 0, 9)).code(), Code::kIOError);
  EXPECT_TRUE(engine_.Waiting(kInode).empty());
  EXPECT_TRUE(Locks().empty());
}

TEST_F(HeapTest, CancellingAHeapWaiterCallsNothingMore) {
  bridge_.library = kWrite;
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kA, 0, 9)).code(), Code::kPending);
  bridge_.Take();
  engine_.Cancel(1);
  EXPECT_EQ(Done(), (std::vector<Completed>{Interrupted(1)}));
  EXPECT_TRUE(bridge_.Take().empty());
  EXPECT_EQ(engine_.HeldMode(kInode), kNone);
}

TEST_F(HeapTest, AGrantedWaiterThatRaisesTheAggregateAsksTheHeap) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 9)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
  bridge_.Take();
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kA, 0, 9)).ok());
  // The reader's release and the writer's grant happen in one call: the
  // heap lock goes straight from read to write, never through none.
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kWrite)}));
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
}

TEST_F(HeapTest, InodesAreIndependent) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode2, Rd(kA, 0, 9)).ok());
  EXPECT_EQ(bridge_.Take(), (Calls{Acquire(kWrite, kInode), Acquire(kRead, kInode2)}));
  engine_.ReleaseOwner(kInode, kA);
  EXPECT_EQ(bridge_.Take(), (Calls{Reduce(kNone, kInode)}));
  EXPECT_EQ(engine_.HeldMode(kInode2), kRead);
}

}  // namespace
}  // namespace shmheap::lockd::testing
