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

// CLOCK_REALTIME.
inline std::int64_t NowNs() { return ClockNs(CLOCK_REALTIME); }

// CLOCK_REALTIME_COARSE: a tick's precision for a few nanoseconds, for
// times stamped on hot paths (write-unlock).
inline std::int64_t CoarseNowNs() { return ClockNs(CLOCK_REALTIME_COARSE); }

}  // namespace shmheap

#endif  // SHMHEAP_CLOCK_H_
