// WaitQueue: FIFO order, removal, and the fairness rule (which earlier
// waiters a request must queue behind).
#include "lockd/src/wait_queue.h"

#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/lockd/engine_fixture.h"

namespace shmheap::lockd {
namespace {

using testing::kA;
using testing::kB;
using testing::kC;

LockRequest Posix(std::uint64_t id, std::uint64_t owner, LockType t, std::uint64_t start,
                  std::uint64_t end) {
  return LockRequest{id, Holder{LockSpace::kPosix, owner}, t, Range{start, end}, 1};
}
LockRequest Flock(std::uint64_t id, std::uint64_t file, LockType t) {
  return LockRequest{id, Holder{LockSpace::kFlock, file}, t, Range{0, kEof}, 0};
}
constexpr LockType kR = LockType::kRead;
constexpr LockType kW = LockType::kWrite;

std::vector<std::uint64_t> Ids(const WaitQueue& q) {
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 0; i < q.size(); ++i) ids.push_back(q[i].id);
  return ids;
}

std::vector<Holder> Ahead(const WaitQueue& q, const LockRequest& req, std::size_t before,
                          bool holder_blocks = false) {
  std::vector<Holder> out;
  q.HoldersAhead(
      req, before, [&](const LockRequest&) { return holder_blocks; }, &out);
  return out;
}

TEST(WaitQueueTest, KeepsArrivalOrderThroughRemovals) {
  WaitQueue q;
  q.Push(Posix(1, kA, kW, 0, 9));
  q.Push(Posix(2, kB, kW, 0, 9));
  q.Push(Posix(3, kC, kW, 0, 9));
  EXPECT_EQ(q.Find(2), 1u);
  EXPECT_EQ(q.Find(9), std::nullopt);
  EXPECT_EQ(q.Erase(1).id, 2u);
  EXPECT_EQ(Ids(q), (std::vector<std::uint64_t>{1, 3}));
  q.Push(Posix(4, kB, kR, 0, 9));
  EXPECT_EQ(Ids(q), (std::vector<std::uint64_t>{1, 3, 4}));
}

TEST(WaitQueueTest, EraseIfRemovesMatchesInOrder) {
  WaitQueue q;
  q.Push(Flock(1, 101, kW));
  q.Push(Flock(2, 102, kW));
  q.Push(Flock(3, 101, kR));
  std::vector<LockRequest> removed;
  q.EraseIf([](const LockRequest& w) { return w.holder.id == 101; }, &removed);
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[0].id, 1u);
  EXPECT_EQ(removed[1].id, 3u);
  EXPECT_EQ(Ids(q), (std::vector<std::uint64_t>{2}));
}

TEST(WaitQueueTest, RequestsConflictOnlyInOneSpaceBetweenHoldersWithAWrite) {
  EXPECT_TRUE(RequestsConflict(Posix(1, kA, kW, 0, 9), Posix(2, kB, kR, 9, 19)));
  EXPECT_FALSE(RequestsConflict(Posix(1, kA, kR, 0, 9), Posix(2, kB, kR, 0, 9)));
  EXPECT_FALSE(RequestsConflict(Posix(1, kA, kW, 0, 9), Posix(2, kB, kW, 10, 19)));
  EXPECT_FALSE(RequestsConflict(Posix(1, kA, kW, 0, 9), Posix(2, kA, kW, 0, 9)));
  // POSIX owner 101 and flock file 101 are different holders in different
  // spaces: never in conflict.
  EXPECT_FALSE(RequestsConflict(Posix(1, 101, kW, 0, kEof), Flock(2, 102, kW)));
  EXPECT_TRUE(RequestsConflict(Flock(1, 101, kR), Flock(2, 102, kW)));
}

TEST(WaitQueueTest, ANewRequestQueuesBehindEarlierConflictingWaitersOnly) {
  WaitQueue q;
  q.Push(Posix(1, kA, kW, 0, 9));      // conflicts with a read of [5, 15]
  q.Push(Posix(2, kB, kR, 10, 19));    // read/read: no
  q.Push(Posix(3, kB, kW, 100, 199));  // no overlap
  const LockRequest req = Posix(4, kC, kR, 5, 15);
  EXPECT_EQ(Ahead(q, req, q.size()), (std::vector<Holder>{Holder{LockSpace::kPosix, kA}}));
  // Only waiters before `before` count.
  EXPECT_TRUE(Ahead(q, req, 0).empty());
  // The exception: a waiter already blocked by the requester is passed.
  EXPECT_TRUE(Ahead(q, req, q.size(), /*holder_blocks=*/true).empty());
}

}  // namespace
}  // namespace shmheap::lockd
