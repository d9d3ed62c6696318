// Deadlock detection: the path search over a wait-for graph, and the
// engine refusing (kDeadlock) a wait that would close a cycle, leaving
// every lock and waiter as it was.
#include "lockd/src/deadlock.h"

#include <cerrno>
#include <map>
#include <vector>

#include <gtest/gtest.h>
#include <lockd/lock_engine.hpp>

#include "tests/unit/lockd/engine_fixture.h"

namespace shmheap::lockd {
namespace {

Holder P(std::uint64_t id) { return Holder{LockSpace::kPosix, id}; }
Holder F(std::uint64_t id) { return Holder{LockSpace::kFlock, id}; }

// A wait-for graph given as adjacency lists.
class Graph {
 public:
  void Edge(Holder from, Holder to) { edges_[from].push_back(to); }
  std::optional<std::vector<Holder>> Path(std::vector<Holder> from, Holder target) const {
    return FindPath(from, target, [this](const Holder& n, std::vector<Holder>* out) {
      ++visits_;
      auto it = edges_.find(n);
      if (it != edges_.end()) out->insert(out->end(), it->second.begin(), it->second.end());
    });
  }
  mutable int visits_ = 0;

 private:
  std::map<Holder, std::vector<Holder>> edges_;
};

TEST(FindPathTest, FindsTheShortestPathToTheTarget) {
  Graph g;
  g.Edge(P(2), P(3));
  g.Edge(P(3), P(1));
  g.Edge(P(2), P(4));
  g.Edge(P(4), P(5));
  g.Edge(P(5), P(1));
  auto path = g.Path({P(2)}, P(1));
  ASSERT_TRUE(path.has_value());
  EXPECT_EQ(*path, (std::vector<Holder>{P(2), P(3), P(1)}));
}

TEST(FindPathTest, NoPathMeansNoDeadlock) {
  Graph g;
  g.Edge(P(2), P(3));
  g.Edge(P(3), P(4));
  EXPECT_EQ(g.Path({P(2)}, P(1)), std::nullopt);
  EXPECT_EQ(g.Path({}, P(1)), std::nullopt);
}

TEST(FindPathTest, TerminatesOnCyclesThatDoNotIncludeTheTarget) {
  Graph g;
  g.Edge(P(2), P(3));
  g.Edge(P(3), P(2));
  g.Edge(P(3), P(3));
  EXPECT_EQ(g.Path({P(2), P(3)}, P(1)), std::nullopt);
  EXPECT_EQ(g.visits_, 2);  // each node expanded once
}

TEST(FindPathTest, ABlockerThatIsTheTargetIsAPathOfOne) {
  Graph g;
  EXPECT_EQ(g.Path({P(1)}, P(1)), (std::vector<Holder>{P(1)}));
}

TEST(FindPathTest, FlockFilesAndPosixOwnersWithEqualIdsAreDifferentNodes) {
  Graph g;
  g.Edge(F(7), P(1));
  g.Edge(P(7), P(2));
  EXPECT_EQ(g.Path({P(7)}, P(1)), std::nullopt);
  EXPECT_EQ(g.Path({F(7)}, P(1)), (std::vector<Holder>{F(7), P(1)}));
}

}  // namespace

namespace testing {
namespace {

using DeadlockTest = EngineTest;

TEST_F(DeadlockTest, TwoOwnersWaitingForEachOther) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kB, 10, 19)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kA, 10, 19)).code(), Code::kPending);
  Status s = engine_.Setlkw(2, kInode, Wr(kB, 0, 9));
  EXPECT_EQ(s.code(), Code::kDeadlock);
  EXPECT_EQ(s.ToErrno(), EDEADLK);
  // Nothing changed: B keeps its lock and is not queued; A still waits.
  EXPECT_EQ(engine_.Waiting(kInode), (Ids{1}));
  EXPECT_EQ(Locks(), (LockList{Wr(kA, 0, 9), Wr(kB, 10, 19)}));
  EXPECT_EQ(engine_.BlockedBy(1), (Ids{kB}));
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kB, 10, 19)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
}

TEST_F(DeadlockTest, ThreeOwnersInACycle) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kB, 10, 19)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kC, 20, 29)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kA, 10, 19)).code(), Code::kPending);  // A -> B
  ASSERT_EQ(engine_.Setlkw(2, kInode, Wr(kB, 20, 29)).code(), Code::kPending);  // B -> C
  EXPECT_EQ(engine_.Setlkw(3, kInode, Rd(kC, 5, 5)).code(), Code::kDeadlock);   // C -> A
  EXPECT_EQ(engine_.Waiting(kInode), (Ids{1, 2}));
  // Releasing C unwinds the chain.
  engine_.ReleaseOwner(kInode, kC);
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(2)}));
  engine_.ReleaseOwner(kInode, kB);
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
}

TEST_F(DeadlockTest, ACycleAcrossTwoInodes) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode2, Wr(kB, 0, 9)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode2, Wr(kA, 0, 9)).code(), Code::kPending);
  EXPECT_EQ(engine_.Setlkw(2, kInode, Wr(kB, 0, 9)).code(), Code::kDeadlock);
}

TEST_F(DeadlockTest, TwoReadersUpgradingTheSameRange) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 99)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kB, 0, 99)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kA, 0, 99)).code(), Code::kPending);
  EXPECT_EQ(engine_.Setlkw(2, kInode, Wr(kB, 0, 99)).code(), Code::kDeadlock);
  // B gives up its read lock instead, and A's upgrade goes through.
  ASSERT_TRUE(engine_.Setlk(kInode, Un(kB, 0, 99)).ok());
  EXPECT_EQ(Done(), (std::vector<Completed>{Granted(1)}));
  EXPECT_EQ(Locks(), (LockList{Wr(kA, 0, 99)}));
}

TEST_F(DeadlockTest, QueuingBehindAWaiterCountsAsWaitingForIt) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 9)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);  // B -> A
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kC, 20, 29)).ok());
  ASSERT_EQ(engine_.Setlkw(2, kInode, Wr(kA, 20, 29)).code(), Code::kPending);  // A -> C
  // C's read is compatible with A's read lock but must queue behind B's
  // waiting write: C -> B -> A -> C.
  EXPECT_EQ(engine_.Setlkw(3, kInode, Rd(kC, 0, 9)).code(), Code::kDeadlock);
}

TEST_F(DeadlockTest, AChainWithoutACycleWaits) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kB, 0, 9)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kC, 10, 19)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 10, 19)).code(), Code::kPending);  // B -> C
  EXPECT_EQ(engine_.Setlkw(2, kInode, Wr(kA, 0, 19)).code(), Code::kPending);   // A -> B, C
  EXPECT_EQ(engine_.BlockedBy(2), (Ids{kB, kC}));
}

TEST_F(DeadlockTest, BlockedByListsHoldersAndTheWaitersQueuedAhead) {
  ASSERT_TRUE(engine_.Setlk(kInode, Rd(kA, 0, 9)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
  ASSERT_EQ(engine_.Setlkw(2, kInode, Rd(kC, 0, 9)).code(), Code::kPending);
  ASSERT_EQ(engine_.Setlkw(3, kInode, Wr(kD, 5, 5)).code(), Code::kPending);
  EXPECT_EQ(engine_.BlockedBy(1), (Ids{kA}));
  EXPECT_EQ(engine_.BlockedBy(2), (Ids{kB}));
  EXPECT_EQ(engine_.BlockedBy(3), (Ids{kA, kB, kC}));
  EXPECT_FALSE(engine_.WaitingOnHeap(3));
  EXPECT_TRUE(engine_.BlockedBy(99).empty());
}

TEST_F(DeadlockTest, ARefusedRequestCanBeRetriedOnceTheCycleIsGone) {
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kA, 0, 9)).ok());
  ASSERT_TRUE(engine_.Setlk(kInode, Wr(kB, 10, 19)).ok());
  ASSERT_EQ(engine_.Setlkw(1, kInode, Wr(kA, 10, 19)).code(), Code::kPending);
  ASSERT_EQ(engine_.Setlkw(2, kInode, Wr(kB, 0, 9)).code(), Code::kDeadlock);
  engine_.Cancel(1);  // A gives up (EINTR)
  EXPECT_EQ(Done(), (std::vector<Completed>{Interrupted(1)}));
  EXPECT_EQ(engine_.Setlkw(2, kInode, Wr(kB, 0, 9)).code(), Code::kPending);
}

}  // namespace
}  // namespace testing
}  // namespace shmheap::lockd
