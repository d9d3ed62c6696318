// FUSE node ids (fs/src/node_id.h): each part comes back out, the root and
// heap directories never collide with objects, a reused inode number with a
// new generation gives a new node id, and an inode number the layout cannot
// hold gives no node id rather than another object's.
#include "fs/src/node_id.h"

#include <gtest/gtest.h>

namespace shmheap::fs {
namespace {

TEST(NodeId, EveryPartComesBackOut) {
  const std::uint64_t node = ObjectNode(kMaxSlot, kMaxInode, 0x123456789);
  EXPECT_EQ(SlotOf(node), kMaxSlot);
  EXPECT_EQ(InodeOf(node), kMaxInode);
  EXPECT_TRUE(GenerationFits(node, 0x123456789));
  EXPECT_FALSE(GenerationFits(node, 0x12345678A));
  EXPECT_EQ(SlotOf(HeapNode(7)), 7u);
  EXPECT_EQ(InodeOf(HeapNode(7)), 0u);
}

TEST(NodeId, AReusedInodeNumberGetsANewNodeId) {
  EXPECT_NE(ObjectNode(3, 42, 100), ObjectNode(3, 42, 101));
  EXPECT_NE(ObjectNode(3, 42, 100), ObjectNode(3, 43, 100));
  EXPECT_NE(ObjectNode(3, 42, 100), ObjectNode(4, 42, 100));
  // Only generations 2^20 apart share one (node_id.h says when that matters).
  EXPECT_EQ(ObjectNode(3, 42, 100), ObjectNode(3, 42, 100 + (kGenerationMask + 1)));
}

TEST(NodeId, DirectoriesAndObjectsNeverCollide) {
  for (std::uint64_t gen : {std::uint64_t{0}, std::uint64_t{1}, kGenerationMask}) {
    EXPECT_NE(ObjectNode(1, 1, gen), kRootNode);
    EXPECT_NE(ObjectNode(1, 1, gen), HeapNode(1));
    EXPECT_NE(InodeOf(ObjectNode(1, 1, gen)), 0u);
  }
  EXPECT_NE(HeapNode(1), kRootNode);
}

TEST(NodeId, AnInodeNumberPastTheLayoutHasNoNodeId) {
  EXPECT_EQ(ObjectNode(1, kMaxInode + 1, 5), 0u);
  EXPECT_EQ(ObjectNode(1, 0, 5), 0u);
  EXPECT_NE(ObjectNode(1, kMaxInode, 5), 0u);
}

}  // namespace
}  // namespace shmheap::fs
