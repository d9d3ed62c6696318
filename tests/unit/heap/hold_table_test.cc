// HoldTable::Index: the process-local (record, owner) -> hold entry index
// behind every lock and unlock. Checked against std::map under random
// insert/erase sequences that exercise growth, wrap-around and the
// backward-shift deletion.
#include "heap/src/hold_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <utility>
#include <vector>

namespace shmheap {
namespace {

using Key = HoldTable::Key;

TEST(HoldIndexTest, EmptyIndexFindsNothing) {
  HoldTable::Index index;
  EXPECT_EQ(index.Find(Key{1, 1}), nullptr);
  index.Erase(Key{1, 1});  // erasing an absent key is a no-op
  EXPECT_EQ(index.Find(Key{1, 1}), nullptr);
}

TEST(HoldIndexTest, SameRecordDifferentOwnersAreDistinct) {
  std::vector<format::HoldEntry> entries(3);
  HoldTable::Index index;
  index.Insert(Key{7, 1}, &entries[0]);
  index.Insert(Key{7, 2}, &entries[1]);
  index.Insert(Key{8, 1}, &entries[2]);
  EXPECT_EQ(index.Find(Key{7, 1}), &entries[0]);
  EXPECT_EQ(index.Find(Key{7, 2}), &entries[1]);
  EXPECT_EQ(index.Find(Key{8, 1}), &entries[2]);
  index.Erase(Key{7, 1});
  EXPECT_EQ(index.Find(Key{7, 1}), nullptr);
  EXPECT_EQ(index.Find(Key{7, 2}), &entries[1]);
  index.Clear();
  EXPECT_EQ(index.Find(Key{8, 1}), nullptr);
}

TEST(HoldIndexTest, RandomInsertEraseMatchesAMap) {
  std::vector<format::HoldEntry> entries(4096);
  HoldTable::Index index;
  std::map<std::pair<std::uint64_t, std::uint64_t>, format::HoldEntry*> model;
  std::mt19937_64 rng(42);
  std::size_t next = 0;
  for (int step = 0; step < 200'000; ++step) {
    // Few distinct keys, so runs collide and erase shifts entries often.
    const Key k{1 + rng() % 3000, rng() % 3};
    auto it = model.find({k.record, k.owner});
    if (it == model.end() && model.size() < entries.size() && rng() % 2) {
      format::HoldEntry* e = &entries[next++ % entries.size()];
      index.Insert(k, e);
      model[{k.record, k.owner}] = e;
    } else if (it != model.end()) {
      index.Erase(k);
      model.erase(it);
    }
    if (step % 1000 == 0) {
      for (const auto& [key, e] : model) ASSERT_EQ(index.Find(Key{key.first, key.second}), e) << "step " << step;
    }
    auto m = model.find({k.record, k.owner});
    ASSERT_EQ(index.Find(k), m == model.end() ? nullptr : m->second);
  }
  for (const auto& [key, e] : model) EXPECT_EQ(index.Find(Key{key.first, key.second}), e);
}

}  // namespace
}  // namespace shmheap
