// Space: the limit refresh (the only slow path of bounds checking).
#include "heap/src/space.h"

#include "heap/src/backing_file.h"

namespace shmheap {

bool Space::Refresh(std::uint64_t end) const {
  std::uint64_t sb_size = AtomicField(sb()->file_size).load(std::memory_order_acquire);
  if (sb_size <= limit_.load(std::memory_order_acquire) || sb_size > window_) return false;
  auto real = file_->Size();
  if (!real.ok() || *real < sb_size) return false;
  std::uint64_t cur = limit_.load(std::memory_order_relaxed);
  while (cur < sb_size && !limit_.compare_exchange_weak(cur, sb_size, std::memory_order_acq_rel)) {
  }
  return end <= sb_size;
}

}  // namespace shmheap
