// Byte-range arithmetic for record locks: validity, overlap, adjacency,
// hull, subtraction (which splits a range in two), conversion from the
// (start, length) form with length 0 meaning "to end of file", and a
// printable form for logs.
//
// Ranges are inclusive at both ends, and end == kEof is unbounded, so
// [0, kEof] covers every offset and nothing here ever computes kEof + 1.
//
// Thread safety: pure functions on values.
#ifndef SHMHEAP_LOCKD_RANGE_H_
#define SHMHEAP_LOCKD_RANGE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include <lockd/lock_engine.hpp>
#include <shmheap/status.hpp>

namespace shmheap::lockd {

// The whole file, including any future growth.
inline constexpr Range kWholeFile{0, kEof};

// True if start <= end.
bool IsValid(const Range& r);

// True if a and b share at least one byte. REQUIRES: both valid.
bool Overlaps(const Range& a, const Range& b);

// True if a and b overlap or are adjacent (one ends right before the
// other starts), i.e. their union is one range. REQUIRES: both valid.
bool Touches(const Range& a, const Range& b);

// True if every byte of `inner` is in `outer`. REQUIRES: both valid.
bool Contains(const Range& outer, const Range& inner);

// The smallest range covering a and b. REQUIRES: both valid.
Range Hull(const Range& a, const Range& b);

// The parts of a range left after removing another: 0, 1 or 2 ranges in
// ascending order.
class RangePieces {
 public:
  void Add(const Range& r) { pieces_[count_++] = r; }
  std::size_t size() const { return count_; }
  const Range& operator[](std::size_t i) const { return pieces_[i]; }
  const Range* begin() const { return pieces_.data(); }
  const Range* end() const { return pieces_.data() + count_; }

 private:
  std::array<Range, 2> pieces_{};
  std::size_t count_ = 0;
};

// The bytes of `a` not in `cut`. Two pieces when `cut` lies strictly inside
// `a` (a split), none when `cut` covers `a`. REQUIRES: both valid.
RangePieces Subtract(const Range& a, const Range& cut);

// The range of `length` bytes from `start`; length 0 means to end of file.
// Errors: kInvalidArgument if start + length - 1 does not fit in 64 bits.
Result<Range> FromStartLength(std::uint64_t start, std::uint64_t length);

// "[start, end]" with "EOF" for kEof, for logs and test messages.
std::string ToString(const Range& r);

}  // namespace shmheap::lockd

#endif  // SHMHEAP_LOCKD_RANGE_H_
