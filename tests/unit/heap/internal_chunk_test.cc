// The heap's own chunks (the name index table, record segments, hold-table
// segments) live in the arena next to user allocations. A pointer to one of
// them is not an allocation of the caller's, so Free and Realloc must refuse
// it, and the invariant check must notice if one was freed anyway.
#include <gtest/gtest.h>

#include <shmheap/heap.hpp>
#include <string>

#include "heap/src/format/superblock.h"
#include "tests/support/heap_test_util.h"

namespace shmheap {
namespace {

// Regression (fixed): heap/src/heap_objects.cc HeapImpl::Free (and Realloc) treat every
// chunk with owner 0 as anonymous memory, so Free(base + index_table) frees
// the live name index: the check still passes (CheckSpace does not verify
// that the superblock's index table and record segments are allocated
// chunks), and the next allocations overwrite the index (855 problems after
// 2000 allocations). See the report.
TEST(InternalChunkTest, FreeOfTheNameIndexTableIsRejected) {
  testing::ShmDir dir;
  Options o;
  o.mode = OpenMode::kCreate;
  auto h = Heap::Open(dir.File("i.heap"), o);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  Heap& heap = **h;
  ASSERT_TRUE(heap.Allocate("a", 10).ok());
  const auto* sb = reinterpret_cast<const format::Superblock*>(heap.base());
  EXPECT_EQ(heap.Free(heap.base() + sb->index_table).code(), Code::kInvalidArgument);
  EXPECT_EQ(heap.Realloc(heap.base() + sb->record_segments[0], 10).code(), Code::kInvalidArgument);
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(heap.Allocate("n" + std::to_string(i), 8).ok());
  EXPECT_TRUE(heap.Find("a").ok());
  EXPECT_TRUE(heap.CheckAttached().empty());
}

}  // namespace
}  // namespace shmheap
