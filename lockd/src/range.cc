// Byte-range arithmetic (see range.h). Every "+ 1" and "- 1" below is
// guarded so that kEof and offset 0 never wrap around.
//
// Thread safety: pure functions on values.
#include "lockd/src/range.h"

#include <algorithm>

namespace shmheap::lockd {

bool IsValid(const Range& r) { return r.start <= r.end; }

bool Overlaps(const Range& a, const Range& b) { return a.start <= b.end && b.start <= a.end; }

bool Touches(const Range& a, const Range& b) {
  if (Overlaps(a, b)) return true;
  // Disjoint: adjacent if the lower one ends right before the higher starts.
  // The lower one cannot end at kEof (it would overlap), so + 1 is safe.
  const Range& lo = a.start < b.start ? a : b;
  const Range& hi = a.start < b.start ? b : a;
  return lo.end + 1 == hi.start;
}

bool Contains(const Range& outer, const Range& inner) {
  return outer.start <= inner.start && inner.end <= outer.end;
}

Range Hull(const Range& a, const Range& b) {
  return Range{std::min(a.start, b.start), std::max(a.end, b.end)};
}

RangePieces Subtract(const Range& a, const Range& cut) {
  RangePieces out;
  if (!Overlaps(a, cut)) {
    out.Add(a);
    return out;
  }
  // cut.start > a.start >= 0, so cut.start - 1 does not wrap; cut.end <
  // a.end <= kEof, so cut.end + 1 does not wrap.
  if (a.start < cut.start) out.Add(Range{a.start, cut.start - 1});
  if (cut.end < a.end) out.Add(Range{cut.end + 1, a.end});
  return out;
}

Result<Range> FromStartLength(std::uint64_t start, std::uint64_t length) {
  if (length == 0) return Range{start, kEof};
  // The last byte is start + length - 1; it must not pass the largest
  // offset. kEof itself is a valid last byte only by meaning "unbounded",
  // which a finite length cannot, so it is rejected too.
  if (length - 1 >= kEof - start) {
    return Status::InvalidArgument("lock range past the largest file offset");
  }
  return Range{start, start + (length - 1)};
}

std::string ToString(const Range& r) {
  std::string out = "[" + std::to_string(r.start) + ", ";
  out += r.end == kEof ? std::string("EOF") : std::to_string(r.end);
  out += "]";
  return out;
}

}  // namespace shmheap::lockd
