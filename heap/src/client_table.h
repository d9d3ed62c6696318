// ClientTable: the attached processes of a heap (PUPS/P3 client_show).
//
// A client owns its slot while it holds the slot's OFD liveness lock
// (format/lock_slot.h). IsDead() is the one test of whether a client has
// died; everything that recovers after a dead client (heap mutex, object
// locks, reaping) asks it.
//
// Thread safety: Claim/Release REQUIRE the heap mutex; IsDead and Get may be
// called at any time.
#ifndef SHMHEAP_CLIENT_TABLE_H_
#define SHMHEAP_CLIENT_TABLE_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <shmheap/status.hpp>

#include "heap/src/format/lock_slot.h"
#include "heap/src/space.h"
#include "heap/src/undo_log.h"

namespace shmheap {

class BackingFile;

// Facts about this process, read once.
struct ProcessIdentity {
  std::uint32_t pid = 0;
  std::uint64_t start_ticks = 0;
  std::uint8_t boot_id[16] = {};
  std::string host;
  static ProcessIdentity Current();
};

class ClientTable {
 public:
  ClientTable(const Space* space, UndoLog* log, BackingFile* file) : space_(space), log_(log), file_(file) {}

  format::ClientSlot* Get(std::uint32_t slot) const;

  // Takes the liveness lock of a slot marked free. Needs no heap mutex: the
  // lock itself makes the slot ours. Errors: kNoSpace (all slots busy).
  Result<std::uint32_t> Reserve();
  // Fills in a reserved slot and marks it attached. REQUIRES: heap mutex.
  void Fill(std::uint32_t slot, const ProcessIdentity& me);
  // Marks the slot free (logged; the caller commits) and then drops its
  // liveness lock via DropLiveness after the commit.
  void Release(std::uint32_t slot);
  void DropLiveness(std::uint32_t slot);

  // True if `slot` is marked attached but no process holds its liveness lock.
  // `self` is this process's own slot (its own lock is invisible to it).
  bool IsDead(std::uint32_t slot, std::int64_t self) const;

  // True if nobody holds `slot`'s liveness lock, whatever the slot's state:
  // the test for a heap-mutex owner, which may have died while attaching
  // (before its slot was marked attached). `self` as for IsDead.
  bool LivenessLost(std::uint32_t slot, std::int64_t self) const;

  // Slots marked attached.
  std::vector<std::uint32_t> Attached() const;

  // Calls fn(slot_number, slot) for each slot marked attached, in slot order,
  // until fn returns false. Allocates nothing (for hot paths).
  template <typename Fn>
  void ForEachAttached(Fn&& fn) const {
    const std::uint32_t high =
        std::min(AtomicField(space_->sb()->client_high).load(std::memory_order_acquire), format::kMaxClients);
    for (std::uint32_t s = 0; s < high; ++s) {
      format::ClientSlot* c = Get(s);
      if (c && c->state == format::kClientAttached && !fn(s, *c)) return;
    }
  }

 private:
  const Space* space_;
  UndoLog* log_;
  BackingFile* file_;
};

}  // namespace shmheap

#endif  // SHMHEAP_CLIENT_TABLE_H_
