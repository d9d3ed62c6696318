// Range arithmetic: inclusive ends, adjacency, splitting, kEof, and the
// (start, length) form.
#include "lockd/src/range.h"

#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/lockd/engine_fixture.h"

namespace shmheap::lockd {
namespace {

std::vector<Range> Pieces(const Range& a, const Range& cut) {
  RangePieces p = Subtract(a, cut);
  return std::vector<Range>(p.begin(), p.end());
}

TEST(RangeTest, ValidWhenStartNotAfterEnd) {
  EXPECT_TRUE(IsValid(Range{0, 0}));
  EXPECT_TRUE(IsValid(Range{5, kEof}));
  EXPECT_FALSE(IsValid(Range{10, 9}));
}

TEST(RangeTest, OverlapIsInclusiveAtBothEnds) {
  EXPECT_TRUE(Overlaps(Range{0, 9}, Range{9, 20}));
  EXPECT_TRUE(Overlaps(Range{9, 20}, Range{0, 9}));
  EXPECT_FALSE(Overlaps(Range{0, 9}, Range{10, 20}));
  EXPECT_TRUE(Overlaps(Range{5, 5}, Range{5, 5}));
  EXPECT_TRUE(Overlaps(Range{0, 100}, Range{40, 50}));
  EXPECT_TRUE(Overlaps(Range{100, kEof}, Range{kEof, kEof}));
  EXPECT_FALSE(Overlaps(Range{100, kEof}, Range{0, 99}));
}

TEST(RangeTest, AdjacentRangesTouchWithoutOverlapping) {
  EXPECT_TRUE(Touches(Range{0, 9}, Range{10, 19}));
  EXPECT_TRUE(Touches(Range{10, 19}, Range{0, 9}));
  EXPECT_FALSE(Touches(Range{0, 9}, Range{11, 19}));
  EXPECT_TRUE(Touches(Range{0, kEof - 1}, Range{kEof, kEof}));
  EXPECT_TRUE(Touches(Range{10, kEof}, Range{0, 9}));
}

TEST(RangeTest, TouchesNeverWrapsAroundAtEof) {
  // kEof + 1 would be 0: an unbounded range must not "touch" offset 0.
  EXPECT_FALSE(Touches(Range{5, kEof}, Range{0, 3}));
  EXPECT_FALSE(Touches(Range{0, 3}, Range{5, kEof}));
  EXPECT_TRUE(Touches(Range{0, kEof}, Range{0, 0}));
}

TEST(RangeTest, SubtractFromTheMiddleSplitsInTwo) {
  EXPECT_EQ(Pieces(Range{0, 99}, Range{40, 59}), (std::vector<Range>{{0, 39}, {60, 99}}));
}

TEST(RangeTest, SubtractAtEitherEndLeavesOnePiece) {
  EXPECT_EQ(Pieces(Range{0, 99}, Range{0, 49}), (std::vector<Range>{{50, 99}}));
  EXPECT_EQ(Pieces(Range{0, 99}, Range{50, 200}), (std::vector<Range>{{0, 49}}));
  EXPECT_EQ(Pieces(Range{10, 19}, Range{0, 10}), (std::vector<Range>{{11, 19}}));
}

TEST(RangeTest, SubtractCoveringOrDisjoint) {
  EXPECT_TRUE(Pieces(Range{10, 19}, Range{10, 19}).empty());
  EXPECT_TRUE(Pieces(Range{10, 19}, Range{0, kEof}).empty());
  EXPECT_EQ(Pieces(Range{10, 19}, Range{20, 29}), (std::vector<Range>{{10, 19}}));
}

TEST(RangeTest, SubtractKeepsEofAndNeverWraps) {
  EXPECT_EQ(Pieces(Range{0, kEof}, Range{10, 19}), (std::vector<Range>{{0, 9}, {20, kEof}}));
  EXPECT_EQ(Pieces(Range{0, kEof}, Range{10, kEof}), (std::vector<Range>{{0, 9}}));
  EXPECT_EQ(Pieces(Range{0, kEof}, Range{0, 0}), (std::vector<Range>{{1, kEof}}));
  EXPECT_EQ(Pieces(Range{0, kEof}, Range{kEof, kEof}), (std::vector<Range>{{0, kEof - 1}}));
}

TEST(RangeTest, HullAndContains) {
  EXPECT_EQ(Hull(Range{10, 19}, Range{0, 4}), (Range{0, 19}));
  EXPECT_EQ(Hull(Range{10, kEof}, Range{0, 4}), (Range{0, kEof}));
  EXPECT_TRUE(Contains(Range{0, kEof}, Range{5, 10}));
  EXPECT_TRUE(Contains(Range{5, 10}, Range{5, 10}));
  EXPECT_FALSE(Contains(Range{5, 10}, Range{5, 11}));
}

TEST(RangeTest, FromStartLengthZeroMeansToEndOfFile) {
  auto r = FromStartLength(100, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (Range{100, kEof}));
  EXPECT_EQ(*FromStartLength(0, 1), (Range{0, 0}));
  EXPECT_EQ(*FromStartLength(10, 10), (Range{10, 19}));
}

TEST(RangeTest, FromStartLengthRejectsRangesPastTheLargestOffset) {
  EXPECT_EQ(FromStartLength(kEof - 1, 2).code(), Code::kInvalidArgument);
  EXPECT_EQ(FromStartLength(1, kEof).code(), Code::kInvalidArgument);
  EXPECT_EQ(*FromStartLength(0, kEof), (Range{0, kEof - 1}));
  EXPECT_EQ(*FromStartLength(5, kEof - 5), (Range{5, kEof - 1}));
}

TEST(RangeTest, ToStringNamesEof) {
  EXPECT_EQ(ToString(Range{3, 7}), "[3, 7]");
  EXPECT_EQ(ToString(Range{3, kEof}), "[3, EOF]");
}

}  // namespace
}  // namespace shmheap::lockd
