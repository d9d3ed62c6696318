// HoldTable: this process's view of its own hold table (format/lock_slot.h),
// and ForEachHold, the scan any process may run over any client's table.
//
// Lookup goes through a process-local hash index from (record, owner) to the
// entry (open addressing: a lock and its unlock insert and erase a key, and
// must not allocate); the shared segments are only ever appended to, so
// entries never move and another process scanning them (recount after a
// crash, the reaper, deadlock detection) sees each entry in one place.
//
// Thread safety: HoldTable is guarded by its own mutex (mu_), which is the
// innermost lock: it is taken inside object-lock sections and under the heap
// mutex, and no other lock is taken while it is held. Growth (Reserve) needs
// the heap mutex and must be called without mu_ held.
#ifndef SHMHEAP_HOLD_TABLE_H_
#define SHMHEAP_HOLD_TABLE_H_

#include <cstdint>
#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

#include <shmheap/status.hpp>

#include "heap/src/arena.h"
#include "heap/src/format/lock_slot.h"

namespace shmheap {

// Hold entries are shared memory that other threads and processes read
// while their client changes them: every access outside that client's
// HoldTable::mu() is a relaxed atomic (LoadRelaxed/StoreRelaxed, space.h).
// Each field is read on its own, so a scan may see an entry half-updated;
// scans that need a stable view of an object's entries hold that object's
// lock section.

// Calls fn(entry) for every non-empty entry in the hold table of `slot`.
// Safe at any time; entries may change while being read (callers that need a
// stable view hold the relevant object's lock section).
// A template, not std::function: scans run inside every free and lock, and
// must not allocate.
template <typename Fn>
void ForEachHold(const Space& space, const format::ClientSlot& slot, Fn&& fn);

class HoldTable {
 public:
  HoldTable(const Space* space, format::ClientSlot* slot) : space_(space), slot_(slot) {}

  struct Key {
    std::uint64_t record;  // record index + 1
    std::uint64_t owner;
    bool operator==(const Key&) const = default;
  };

  // The entry for key, or nullptr.
  format::HoldEntry* Find(Key key);
  // The entry for key, inserting an empty one (mode 0, count 0) if needed.
  // Returns nullptr when no free slot is left: call Reserve and retry.
  // `logged`: write the new key through the undo log (heap-mutex callers).
  format::HoldEntry* FindOrInsert(Key key, UndoLog* log);
  // Empties the entry's slot (unlogged, or through `log` when given).
  void Remove(format::HoldEntry* e, UndoLog* log);

  // True when fewer than `n` free slots remain. Lock-free and approximate:
  // FindOrInsert still returns nullptr if another thread took the reserve.
  bool NeedsReserve(std::uint32_t n) const { return free_count_.load(std::memory_order_relaxed) < n; }
  // Appends a segment so at least `n` free slots exist. REQUIRES: heap mutex
  // held, mu_ not held. Logged.
  Status Reserve(Arena* arena, UndoLog* log, std::uint32_t n);
  // Rebuilds the process-local map from the shared segments (after attach to
  // a reclaimed slot, or after a rollback). REQUIRES: heap mutex.
  void Reload();

  std::mutex& mu() { return mu_; }

  // The process-local (record, owner) -> entry index. Public for its test.
  // Linear probing over a power-of-two array, at most half full; erase
  // shifts the following run back, so there are no tombstones. A key's
  // record is never 0 (record index + 1), so 0 marks an empty slot.
  class Index {
   public:
    format::HoldEntry* Find(Key key) const;
    void Insert(Key key, format::HoldEntry* e);  // REQUIRES: key absent
    void Erase(Key key);
    void Clear();

   private:
    struct Slot {
      Key key{0, 0};
      format::HoldEntry* entry = nullptr;
    };
    std::size_t Home(Key key) const;
    void Grow();
    std::vector<Slot> slots_;
    std::size_t count_ = 0;
    unsigned shift_ = 64;  // 64 - log2(slots_.size())
  };

 private:
  void RaiseHighWater(format::HoldEntry* e);  // REQUIRES: mu_
  void PushFree(format::HoldEntry* e);        // REQUIRES: mu_

  const Space* space_;
  format::ClientSlot* slot_;
  std::mutex mu_;
  Index index_;                                   // GUARDED_BY(mu_)
  std::vector<format::HoldEntry*> free_;          // GUARDED_BY(mu_)
  std::atomic<std::size_t> free_count_{0};        // free_.size(), for NeedsReserve
};

// ------------------------------------------------------------ implementation

namespace hold_detail {

inline constexpr int kMaxSegments = 40;  // bounds a walk over a corrupt chain

// Calls f(segment, entries, used) for each segment of the chain at `first`.
template <typename F>
void WalkSegments(const Space& space, std::uint64_t first, F&& f) {
  std::uint64_t off = first;
  for (int i = 0; off != 0 && i < kMaxSegments; ++i) {
    auto* seg = space.At<format::HoldSegment>(off);
    if (!seg) return;
    auto* entries = space.At<format::HoldEntry>(off + sizeof(format::HoldSegment), seg->capacity);
    if (!entries) return;
    f(seg, entries, std::min(AtomicField(seg->used_high).load(std::memory_order_acquire), seg->capacity));
    off = AtomicField(seg->next).load(std::memory_order_acquire);
  }
}

}  // namespace hold_detail

template <typename Fn>
void ForEachHold(const Space& space, const format::ClientSlot& slot, Fn&& fn) {
  std::uint64_t first = AtomicField(const_cast<format::ClientSlot&>(slot).holds_off).load(std::memory_order_acquire);
  hold_detail::WalkSegments(space, first, [&](format::HoldSegment*, format::HoldEntry* e, std::uint32_t used) {
    for (std::uint32_t i = 0; i < used; ++i) {
      if (AtomicField(e[i].record).load(std::memory_order_acquire) != 0) fn(e[i]);
    }
  });
}

}  // namespace shmheap

#endif  // SHMHEAP_HOLD_TABLE_H_
