// Process-shared locking primitives on 32-bit words inside the heap file:
// futex wait/wake, and HeapMutex, the robust mutex that serialises metadata
// changes.
//
// Why not pthread_mutex_t with PTHREAD_MUTEX_ROBUST: its size and layout
// differ between i386 and x86_64 (and between libc versions), and heaps must
// be shared by 32-bit and 64-bit processes. A futex word works for both.
//
// Owner death: the word holds the owner's client slot + 1. A waiter sleeps in
// bounded steps (kDeadCheckInterval); after each it asks whether the owner's
// client is dead (its OFD liveness lock is gone). If so it takes the mutex
// over with one CAS and Lock() returns kOwnerDead: the caller must roll back
// the dead owner's half-done operation (the undo log) before going on. This is
// the only place that decides a heap-mutex owner is dead.
//
// The mutex is not recursive. All threads of one process share a client slot,
// so a waiter never declares a thread of its own process dead.
#ifndef SHMHEAP_SHARED_MUTEX_H_
#define SHMHEAP_SHARED_MUTEX_H_

#include <cstdint>
#include <functional>

#include <shmheap/status.hpp>

namespace shmheap {

// Sleeps while *word == expected, at most timeout_ns (< 0: no limit).
// Returns false on timeout. Spurious wake-ups are possible.
bool FutexWait(std::uint32_t* word, std::uint32_t expected, std::int64_t timeout_ns);
// Wakes up to n waiters sleeping on word.
void FutexWake(std::uint32_t* word, int n);

// Monotonic clock in nanoseconds.
std::int64_t MonotonicNs();

// How often a waiter checks whether a lock owner has died.
inline constexpr std::int64_t kDeadCheckIntervalNs = 50'000'000;

// Returns true if the client in `slot` is known to be dead.
using IsClientDeadFn = std::function<bool(std::uint32_t slot)>;

class HeapMutex {
 public:
  static constexpr std::uint32_t kWaiters = 0x80000000u;

  // REQUIRES: word points into the mapped heap and stays valid for this
  // object's lifetime; self_slot is this process's client slot.
  HeapMutex(std::uint32_t* word, std::uint32_t self_slot, IsClientDeadFn is_dead)
      : word_(word), self_(self_slot + 1), is_dead_(std::move(is_dead)) {}

  // Blocks until the mutex is held. Returns Ok, or kOwnerDead when it was
  // taken over from a dead owner (the mutex is then held, and the caller must
  // recover). Never fails otherwise.
  Status Lock();
  // Like Lock but gives up with kTimedOut after timeout_ns. With
  // `self_is_stale` (only while attaching, when no thread of this process
  // can hold the mutex yet) a word naming our own slot is a leftover of a
  // process that died holding it with the same slot, and is taken over.
  Status LockFor(std::int64_t timeout_ns, bool self_is_stale = false);
  // REQUIRES: held by this process.
  void Unlock();
  // The slot that holds the mutex, or -1 when free.
  std::int64_t OwnerSlot() const;

 private:
  std::uint32_t* word_;
  std::uint32_t self_;
  IsClientDeadFn is_dead_;
};

// Spins briefly, for short critical sections held by other processes.
void CpuRelax() noexcept;

}  // namespace shmheap

#endif  // SHMHEAP_SHARED_MUTEX_H_
