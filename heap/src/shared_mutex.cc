// Futex helpers and the robust HeapMutex.
#include "heap/src/shared_mutex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "heap/src/log.h"

namespace shmheap {

namespace {
std::atomic_ref<std::uint32_t> Word(std::uint32_t* w) { return std::atomic_ref<std::uint32_t>(*w); }
}  // namespace

void CpuRelax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

std::int64_t MonotonicNs() {
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool FutexWait(std::uint32_t* word, std::uint32_t expected, std::int64_t timeout_ns) {
  struct timespec ts {};
  struct timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
    tsp = &ts;
  }
  // Not FUTEX_PRIVATE_FLAG: the word is in a MAP_SHARED file mapping and the
  // waiters are in other processes. The kernel keys it by inode and offset.
  long r = ::syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, nullptr, 0);
  return !(r == -1 && errno == ETIMEDOUT);
}

void FutexWake(std::uint32_t* word, int n) {
  ::syscall(SYS_futex, word, FUTEX_WAKE, n, nullptr, nullptr, 0);
}

Status HeapMutex::Lock() { return LockFor(-1); }

Status HeapMutex::LockFor(std::int64_t timeout_ns, bool self_is_stale) {
  auto w = Word(word_);
  std::uint32_t expected = 0;
  if (w.compare_exchange_strong(expected, self_, std::memory_order_acquire)) return Status::Ok();
  for (int i = 0; i < 64; ++i) {
    CpuRelax();
    expected = 0;
    if (w.load(std::memory_order_relaxed) == 0 &&
        w.compare_exchange_strong(expected, self_, std::memory_order_acquire)) {
      return Status::Ok();
    }
  }
  const std::int64_t deadline = timeout_ns < 0 ? -1 : MonotonicNs() + timeout_ns;
  std::int64_t next_check = MonotonicNs() + kDeadCheckIntervalNs;
  for (;;) {
    std::uint32_t cur = w.load(std::memory_order_relaxed);
    if ((cur & ~kWaiters) == 0) {
      // Keep the waiters bit: others may still sleep on the word.
      if (w.compare_exchange_strong(cur, self_ | kWaiters, std::memory_order_acquire)) return Status::Ok();
      continue;
    }
    if (!(cur & kWaiters)) {
      if (!w.compare_exchange_strong(cur, cur | kWaiters, std::memory_order_relaxed)) continue;
      cur |= kWaiters;
    }
    std::int64_t now = MonotonicNs();
    if (now >= next_check) {
      std::uint32_t owner = (cur & ~kWaiters) - 1;
      const bool dead = owner + 1 == self_ ? self_is_stale : (is_dead_ && is_dead_(owner));
      if (dead) {
        if (w.compare_exchange_strong(cur, self_ | kWaiters, std::memory_order_acquire)) {
          Log()->warn("heap mutex: owner in client slot {} died holding it; taking over", owner);
          return Status::OwnerDead("heap mutex owner died");
        }
        continue;
      }
      next_check = now + kDeadCheckIntervalNs;
    }
    if (deadline >= 0 && now >= deadline) return Status::TimedOut("heap mutex");
    std::int64_t sleep = next_check - now;
    if (deadline >= 0 && deadline - now < sleep) sleep = deadline - now;
    FutexWait(word_, cur, sleep);
  }
}

void HeapMutex::Unlock() {
  std::uint32_t prev = Word(word_).exchange(0, std::memory_order_release);
  if (prev & kWaiters) FutexWake(word_, 1);
}

std::int64_t HeapMutex::OwnerSlot() const {
  std::uint32_t cur = Word(word_).load(std::memory_order_relaxed) & ~kWaiters;
  return cur == 0 ? -1 : static_cast<std::int64_t>(cur) - 1;
}

}  // namespace shmheap

