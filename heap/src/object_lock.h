// ObjectLocks: per-object READ/WRITE locks shared by every process attached
// to a heap, owned by owner tokens rather than threads, robust against owners
// that die.
//
// Each object's lock state is one 32-bit word (format/lock_slot.h). To change
// it, a client takes the word's *section*: a CAS that writes its client slot
// into the word's top bits. Inside the section it updates the state and its
// own hold entry, then releases the section with one store of the new state.
// Because a client's hold entries for an object change only inside that
// object's section, the lock state can always be recomputed from the hold
// tables of the live clients: that is what a contender does when it finds the
// section owned by a dead client (Recount).
//
// Waiting: a waiter marks the word kLockWaiters and records what it wants in
// its hold entry (for deadlock detection), then sleeps on the record's
// wake_seq futex in bounded steps, reaping dead clients between steps, so a
// lock held by a process that died is released within kDeadCheckIntervalNs.
// Writers waiting set kLockWriterWaiting so new readers queue behind them.
//
// Lock order: heap mutex -> object section -> HoldTable::mu(). Never take the
// heap mutex inside a section.
#ifndef SHMHEAP_OBJECT_LOCK_H_
#define SHMHEAP_OBJECT_LOCK_H_

#include <atomic>
#include <cstdint>
#include <functional>

#include <shmheap/status.hpp>

#include "heap/src/client_table.h"
#include "heap/src/format/lock_slot.h"
#include "heap/src/format/record.h"
#include "heap/src/hold_table.h"
#include "heap/src/records.h"

namespace shmheap {

class ObjectLocks {
 public:
  struct Hooks {
    // Grows this client's hold table (takes the heap mutex).
    std::function<Status()> reserve_holds;
    // Reaps dead clients (takes the heap mutex).
    std::function<void()> reap;
  };

  ObjectLocks(const Space* space, RecordTable* records, ClientTable* clients, HoldTable* holds,
              std::uint32_t self_slot, Hooks hooks)
      : space_(space), records_(records), clients_(clients), holds_(holds), self_(self_slot),
        hooks_(std::move(hooks)) {}

  struct Grant {
    std::uint64_t data_off = 0;  // the version the hold pins
    std::uint64_t size = 0;
  };

  // Acquires `mode` (kHoldRead / kHoldWrite) on record `index` for `owner`.
  // `generation` must match the record's (else kStale). deadline_ns: < 0
  // waits forever, 0 only tries, > 0 is an absolute CLOCK_MONOTONIC time.
  // `cancel`, if given, is polled while waiting (kInterrupted).
  // Re-locking by the holder nests; READ -> WRITE by the sole reader upgrades.
  // Errors: kBusy (try), kTimedOut, kDeadlock, kInterrupted, kStale, kNoSpace.
  Result<Grant> Lock(std::uint64_t index, std::uint64_t generation, std::uint64_t owner,
                     format::HoldMode mode, std::int64_t deadline_ns,
                     const std::atomic<bool>* cancel = nullptr);

  struct Release {
    bool released = false;        // the hold is gone (not just one nesting level)
    std::uint64_t retired = 0;    // a retired version this hold pinned (maybe freeable)
    bool orphan = false;          // the record is an orphan (maybe freeable)
  };
  // Releases one nesting level. kInvalidArgument if `owner` holds no lock.
  // A release with `retired` set must be followed by RetiredHandled() once
  // the caller has freed it or found it still pinned (HeapImpl::AfterRelease).
  Result<Release> Unlock(std::uint64_t index, std::uint64_t owner);
  // Turns a WRITE hold into a READ hold. kInvalidArgument if not WRITE-held.
  Status Downgrade(std::uint64_t index, std::uint64_t owner);

  // Pins the current data version for `owner` (a pin token, never a lock owner).
  Result<Grant> Pin(std::uint64_t index, std::uint64_t generation, std::uint64_t owner);
  Result<Release> Unpin(std::uint64_t index, std::uint64_t owner);

  // Releases of this process whose retired version is not yet dealt with:
  // the hold is gone, the free (under the heap mutex) still to come. The
  // invariant check tolerates an unpinned retired chunk only while some
  // release may be in this state.
  void RetiredHandled() noexcept { retiring_.fetch_sub(1, std::memory_order_release); }
  bool RetiringAny() const noexcept { return retiring_.load(std::memory_order_acquire) != 0; }

  // Section primitives, also used by the heap for changes that must exclude
  // lock-state edits (replace, resize, delete). Enter returns the state bits.
  std::uint32_t Enter(format::ObjectRecord& r, std::uint64_t index);
  void Exit(format::ObjectRecord& r, std::uint32_t state, bool wake);

  // Describes the lock state for map_show: "-", "R2", "W", "W+R"...
  static std::string Describe(std::uint32_t word);

  // Recomputes the state of record `index` from live clients' holds; the
  // dead clients' lock holds become plain pins (the reaper drops those).
  // REQUIRES: inside the record's section.
  std::uint32_t Recount(std::uint64_t index);

 private:
  // The retired version a hold being released pinned (one the record no
  // longer points at), counted in retiring_; 0 if none.
  // REQUIRES: inside the record's section, the hold's count just reached 0.
  std::uint64_t TakeRetired(const format::HoldEntry& e, const format::ObjectRecord& r);
  bool WouldDeadlock(std::uint64_t index, std::uint64_t owner, format::HoldMode want);
  void CancelWait(format::ObjectRecord& r, std::uint64_t index, std::uint64_t owner);

  const Space* space_;
  RecordTable* records_;
  ClientTable* clients_;
  HoldTable* holds_;
  std::uint32_t self_;
  Hooks hooks_;
  std::atomic<std::uint32_t> retiring_{0};
};

}  // namespace shmheap

#endif  // SHMHEAP_OBJECT_LOCK_H_
