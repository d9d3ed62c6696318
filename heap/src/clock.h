// Wall-clock time in nanoseconds, for object times (atime, mtime, ctime,
// attach time). Monotonic time for waits is MonotonicNs (shared_mutex.h).
#ifndef SHMHEAP_CLOCK_H_
#define SHMHEAP_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace shmheap {

inline std::int64_t ClockNs(clockid_t clock) {
  struct timespec ts {};
  clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// CLOCK_REALTIME_COARSE: object times have a clock tick's precision, as the
// kernel's own file systems stamp theirs (current_time()), and cost a few
// nanoseconds instead of a full clock read on every allocate and free.
inline std::int64_t NowNs() { return ClockNs(CLOCK_REALTIME_COARSE); }

}  // namespace shmheap

#endif  // SHMHEAP_CLOCK_H_
