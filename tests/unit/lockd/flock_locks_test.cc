// FlockLockSet: one whole-file lock per open file; shared locks coexist,
// an exclusive lock conflicts with every other file's lock, never with the
// same file's.
#include "lockd/src/flock_locks.h"

#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/lockd/engine_fixture.h"

namespace shmheap::lockd {
namespace {

using testing::FlockOf;
using testing::kF1;
using testing::kF2;
using testing::kF3;
constexpr LockType kSh = LockType::kRead;
constexpr LockType kEx = LockType::kWrite;

std::vector<std::uint64_t> Conflicting(const FlockLockSet& set, std::uint64_t file, LockType t) {
  std::vector<std::uint64_t> out;
  set.ConflictingFiles(file, t, &out);
  return out;
}

TEST(FlockLockSetTest, SetFindRemove) {
  FlockLockSet set;
  EXPECT_EQ(set.Find(kF1), std::nullopt);
  set.Set(kF1, kSh);
  EXPECT_EQ(set.Find(kF1), kSh);
  set.Set(kF1, kEx);  // replaces
  EXPECT_EQ(set.Find(kF1), kEx);
  EXPECT_TRUE(set.Remove(kF1));
  EXPECT_FALSE(set.Remove(kF1));
  EXPECT_TRUE(set.empty());
}

TEST(FlockLockSetTest, SharedLocksCoexistExclusiveConflictsWithOtherFilesOnly) {
  FlockLockSet set;
  set.Set(kF1, kSh);
  set.Set(kF2, kSh);
  EXPECT_TRUE(Conflicting(set, kF3, kSh).empty());
  EXPECT_EQ(Conflicting(set, kF3, kEx), (std::vector<std::uint64_t>{kF1, kF2}));
  EXPECT_EQ(Conflicting(set, kF1, kEx), (std::vector<std::uint64_t>{kF2}));
  set.Set(kF1, kEx);
  EXPECT_EQ(Conflicting(set, kF3, kSh), (std::vector<std::uint64_t>{kF1}));
  EXPECT_EQ(Conflicting(set, kF3, kEx), (std::vector<std::uint64_t>{kF1, kF2}));
  EXPECT_TRUE(set.HolderBlocks(kF1, kSh));
  EXPECT_FALSE(set.HolderBlocks(kF2, kSh));
  EXPECT_TRUE(set.HolderBlocks(kF2, kEx));
  EXPECT_FALSE(set.HolderBlocks(kF3, kEx));
}

TEST(FlockLockSetTest, ModeIsTheStrongestLockHeld) {
  FlockLockSet set;
  EXPECT_EQ(set.Mode(), HeapMode::kNone);
  set.Set(kF1, kSh);
  EXPECT_EQ(set.Mode(), HeapMode::kRead);
  set.Set(kF2, kEx);
  EXPECT_EQ(set.Mode(), HeapMode::kWrite);
  set.Remove(kF2);
  EXPECT_EQ(set.Mode(), HeapMode::kRead);
}

TEST(FlockLockSetTest, LocksAreReportedAsWholeFileWithTheFlockOwnerBit) {
  FlockLockSet set;
  set.Set(kF2, kEx);
  set.Set(kF1, kSh);
  std::vector<RecordLock> all;
  set.AppendTo(&all);
  EXPECT_EQ(all, (std::vector<RecordLock>{FlockOf(kF1, kSh), FlockOf(kF2, kEx)}));
  EXPECT_EQ(all[0].owner, kF1 | (1ull << 63));
  EXPECT_EQ(all[0].range, (Range{0, kEof}));
}

}  // namespace
}  // namespace shmheap::lockd
