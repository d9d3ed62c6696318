// ObjectLocks implementation. See object_lock.h for the protocol.
#include "heap/src/object_lock.h"

#include <sched.h>
#include <time.h>

#include <climits>
#include <map>
#include <set>
#include <vector>

#include "heap/src/clock.h"
#include "heap/src/log.h"
#include "heap/src/shared_mutex.h"

namespace shmheap {

using format::HoldEntry;
using format::HoldMode;
using format::kHoldPin;
using format::kHoldRead;
using format::kHoldWrite;
using format::kLockReadersMask;
using format::kLockSectionMask;
using format::kLockSectionShift;
using format::kLockWaiters;
using format::kLockWriter;
using format::kLockWriterWaiting;
using format::ObjectRecord;

namespace {

constexpr std::uint32_t kHeldMask = 0xFF;
inline std::uint32_t Held(const HoldEntry& e) { return LoadRelaxed(e.mode) & kHeldMask; }
inline std::uint32_t Wanted(const HoldEntry& e) { return (LoadRelaxed(e.mode) >> 8) & kHeldMask; }
inline bool LiveRecord(const ObjectRecord& r) { return IsLiveOrOrphan(LoadState(r)); }

}  // namespace

std::string ObjectLocks::Describe(std::uint32_t word) {
  std::string s;
  if (word & kLockWriter) s += "W";
  if (std::uint32_t n = word & kLockReadersMask) {
    if (!s.empty()) s += "+";
    s += "R" + std::to_string(n);
  }
  if (word & kLockWaiters) s += s.empty() ? "waiters" : ",waiters";
  return s.empty() ? "-" : s;
}

std::uint32_t ObjectLocks::Enter(ObjectRecord& r, std::uint64_t index) {
  auto w = AtomicField(r.lock_word);
  const std::uint32_t me = (self_ + 1) << kLockSectionShift;
  std::int64_t next_check = 0;
  for (std::uint32_t spins = 0;; ++spins) {
    std::uint32_t cur = w.load(std::memory_order_relaxed);
    if ((cur & kLockSectionMask) == 0) {
      if (w.compare_exchange_weak(cur, cur | me, std::memory_order_acquire)) return cur;
      continue;
    }
    // Sections last a few hundred nanoseconds: spin, then yield, and now
    // and then ask whether the owner died inside one.
    if (spins < 200) {
      CpuRelax();
      continue;
    }
    sched_yield();
    std::int64_t now = MonotonicNs();
    if (next_check == 0) {
      next_check = now + 1'000'000;  // 1 ms
      continue;
    }
    if (now < next_check) continue;
    next_check = now + 1'000'000;
    std::uint32_t owner = ((cur & kLockSectionMask) >> kLockSectionShift) - 1;
    if (owner != self_ && clients_->IsDead(owner, self_)) {
      if (w.compare_exchange_strong(cur, (cur & ~kLockSectionMask) | me, std::memory_order_acquire)) {
        Log()->warn("object record {}: client slot {} died inside its lock section; recounting", index, owner);
        return Recount(index);
      }
    }
  }
}

void ObjectLocks::Exit(ObjectRecord& r, std::uint32_t state, bool wake) {
  if (wake) {
    state &= ~(kLockWaiters | kLockWriterWaiting);
    AtomicField(r.wake_seq).fetch_add(1, std::memory_order_release);
  }
  AtomicField(r.lock_word).store(state & ~kLockSectionMask, std::memory_order_release);
  if (wake) FutexWake(&r.wake_seq, INT_MAX);
}

std::uint32_t ObjectLocks::Recount(std::uint64_t index) {
  std::uint32_t readers = 0;
  bool writer = false;
  for (std::uint32_t s : clients_->Attached()) {
    const bool dead = clients_->IsDead(s, self_);
    format::ClientSlot* slot = clients_->Get(s);
    ForEachHold(*space_, *slot, [&](HoldEntry& e) {
      if (LoadRelaxed(e.record) != index + 1) return;
      std::uint32_t held = Held(e);
      if (dead) {
        // Keep the pin (the reaper frees a retired version), drop the lock.
        StoreRelaxed(e.mode, (held == kHoldRead || held == kHoldWrite) ? static_cast<std::uint32_t>(kHoldPin) : held);
        return;
      }
      if (held == kHoldRead) ++readers;
      if (held == kHoldWrite) writer = true;
    });
  }
  // Wake everyone: waiters re-evaluate against the recomputed state.
  return std::min<std::uint32_t>(readers, kLockReadersMask) | (writer ? kLockWriter : 0) | kLockWaiters;
}

Result<ObjectLocks::Grant> ObjectLocks::Lock(std::uint64_t index, std::uint64_t generation, std::uint64_t owner,
                                             HoldMode mode, std::int64_t deadline_ns,
                                             const std::atomic<bool>* cancel) {
  ObjectRecord* r = records_->Get(index);
  if (!r) return Status::NotFound("no object record " + std::to_string(index));
  const HoldTable::Key key{index + 1, owner};
  bool deadlock_checked = false;
  std::int64_t next_reap = 0;
  for (;;) {
    if (holds_->NeedsReserve(2)) SHMHEAP_RETURN_IF_ERROR(hooks_.reserve_holds());
    std::uint32_t st = Enter(*r, index);
    if (!LiveRecord(*r) || LoadGeneration(*r) != generation) {
      Exit(*r, st, false);
      return Status::Stale("object record " + std::to_string(index) + " was deleted");
    }
    std::unique_lock<std::mutex> g(holds_->mu());
    HoldEntry* e = holds_->Find(key);
    const std::uint32_t held = e ? Held(*e) : 0;
    const std::uint32_t readers = st & kLockReadersMask;
    const bool writer = st & kLockWriter;
    bool grant = false;
    if (held == kHoldWrite || (held == kHoldRead && mode == kHoldRead)) {
      grant = true;  // nesting
    } else if (mode == kHoldRead) {
      grant = !writer && !(st & kLockWriterWaiting) && readers < kLockReadersMask;
      if (grant) st += 1;
    } else if (held == kHoldRead) {
      grant = readers == 1 && !writer;  // upgrade by the sole reader
      if (grant) st = (st - 1) | kLockWriter;
    } else {
      grant = readers == 0 && !writer;
      if (grant) st |= kLockWriter;
    }
    if (grant) {
      if (!e) e = holds_->FindOrInsert(key, nullptr);
      if (!e) {  // another thread used the reserve; undo and grow
        g.unlock();
        Exit(*r, AtomicField(r->lock_word).load() & ~kLockSectionMask, false);
        continue;
      }
      if (held == 0) StoreRelaxed(e->pinned_data, r->data_off);
      // The mode held (upgraded if so), and no longer waiting.
      StoreRelaxed(e->mode, (held == 0 || (held == kHoldRead && mode == kHoldWrite)) ? static_cast<std::uint32_t>(mode) : held);
      StoreRelaxed(e->count, e->count + 1);
      Grant out{e->pinned_data, r->size};
      g.unlock();
      Exit(*r, st, false);
      return out;
    }
    const bool try_only = deadline_ns == 0;
    if (try_only || (cancel && cancel->load(std::memory_order_relaxed)) ||
        (deadline_ns > 0 && MonotonicNs() >= deadline_ns)) {
      if (e && held == 0) holds_->Remove(e, nullptr);
      else if (e) StoreRelaxed(e->mode, held);
      g.unlock();
      Exit(*r, st, false);
      if (try_only) return Status::Busy("object lock is held");
      if (cancel && cancel->load()) return Status::Interrupted("lock wait cancelled");
      return Status::TimedOut("object lock wait timed out");
    }
    // Record what we wait for (deadlock detection reads it), then sleep.
    if (!e) e = holds_->FindOrInsert(key, nullptr);
    if (e) StoreRelaxed(e->mode, held | (static_cast<std::uint32_t>(mode) << 8));
    std::uint32_t seq = AtomicField(r->wake_seq).load(std::memory_order_acquire);
    st |= kLockWaiters | (mode == kHoldWrite ? kLockWriterWaiting : 0);
    g.unlock();
    Exit(*r, st, false);
    if (!deadlock_checked) {
      deadlock_checked = true;
      if (WouldDeadlock(index, owner, mode)) {
        CancelWait(*r, index, owner);
        return Status::Deadlock("waiting for object record " + std::to_string(index) + " would deadlock");
      }
    }
    std::int64_t now = MonotonicNs();
    std::int64_t sleep = kDeadCheckIntervalNs;
    if (deadline_ns > 0) sleep = std::min(sleep, std::max<std::int64_t>(deadline_ns - now, 0));
    if (cancel) sleep = std::min<std::int64_t>(sleep, 5'000'000);
    FutexWait(&r->wake_seq, seq, sleep);
    now = MonotonicNs();
    if (next_reap == 0) next_reap = now + kDeadCheckIntervalNs;
    if (now >= next_reap) {
      hooks_.reap();
      next_reap = now + kDeadCheckIntervalNs;
    }
  }
}

void ObjectLocks::CancelWait(ObjectRecord& r, std::uint64_t index, std::uint64_t owner) {
  std::uint32_t st = Enter(r, index);
  {
    std::lock_guard<std::mutex> g(holds_->mu());
    if (HoldEntry* e = holds_->Find({index + 1, owner})) {
      if (Held(*e) == 0) holds_->Remove(e, nullptr);
      else StoreRelaxed(e->mode, Held(*e));
    }
  }
  // Wake others: a waiting writer's flag may have held back readers.
  Exit(r, st, (st & kLockWaiters) != 0);
}

std::uint64_t ObjectLocks::TakeRetired(const HoldEntry& e, const ObjectRecord& r) {
  if (e.pinned_data == 0 || e.pinned_data == r.data_off) return 0;
  retiring_.fetch_add(1, std::memory_order_acq_rel);
  return e.pinned_data;
}

Result<ObjectLocks::Release> ObjectLocks::Unlock(std::uint64_t index, std::uint64_t owner) {
  ObjectRecord* r = records_->Get(index);
  if (!r) return Status::NotFound("no object record " + std::to_string(index));
  std::uint32_t st = Enter(*r, index);
  std::unique_lock<std::mutex> g(holds_->mu());
  HoldEntry* e = holds_->Find({index + 1, owner});
  const std::uint32_t held = e ? Held(*e) : 0;
  if (held != kHoldRead && held != kHoldWrite) {
    g.unlock();
    Exit(*r, st, false);
    return Status::InvalidArgument("object is not locked by this owner");
  }
  Release out;
  StoreRelaxed(e->count, e->count - 1);
  if (e->count == 0) {
    if (held == kHoldRead) {
      if (st & kLockReadersMask) st -= 1;
    } else {
      st &= ~kLockWriter;
      AtomicField(r->version).fetch_add(1, std::memory_order_acq_rel);
      // The writer may have changed the bytes: file users (and NFS clients,
      // which validate caches by mtime) must see a new modification time.
      AtomicField(r->mtime_ns).store(NowNs(), std::memory_order_relaxed);
    }
    out.retired = TakeRetired(*e, *r);
    holds_->Remove(e, nullptr);
    out.released = true;
    out.orphan = r->state == format::kRecordOrphan;
  }
  g.unlock();
  Exit(*r, st, out.released && (st & kLockWaiters));
  return out;
}

Status ObjectLocks::Downgrade(std::uint64_t index, std::uint64_t owner) {
  ObjectRecord* r = records_->Get(index);
  if (!r) return Status::NotFound("no object record " + std::to_string(index));
  std::uint32_t st = Enter(*r, index);
  std::unique_lock<std::mutex> g(holds_->mu());
  HoldEntry* e = holds_->Find({index + 1, owner});
  if (!e || Held(*e) != kHoldWrite) {
    g.unlock();
    Exit(*r, st, false);
    return Status::InvalidArgument("object is not write-locked by this owner");
  }
  StoreRelaxed(e->mode, static_cast<std::uint32_t>(kHoldRead));
  st = (st & ~kLockWriter) + 1;
  AtomicField(r->version).fetch_add(1, std::memory_order_acq_rel);
  g.unlock();
  Exit(*r, st, (st & kLockWaiters) != 0);
  return Status::Ok();
}

Result<ObjectLocks::Grant> ObjectLocks::Pin(std::uint64_t index, std::uint64_t generation, std::uint64_t owner) {
  ObjectRecord* r = records_->Get(index);
  if (!r) return Status::NotFound("no object record " + std::to_string(index));
  for (;;) {
    if (holds_->NeedsReserve(2)) SHMHEAP_RETURN_IF_ERROR(hooks_.reserve_holds());
    std::uint32_t st = Enter(*r, index);
    if (!LiveRecord(*r) || LoadGeneration(*r) != generation) {
      Exit(*r, st, false);
      return Status::Stale("object record " + std::to_string(index) + " was deleted");
    }
    std::unique_lock<std::mutex> g(holds_->mu());
    HoldEntry* e = holds_->FindOrInsert({index + 1, owner}, nullptr);
    if (!e) {
      g.unlock();
      Exit(*r, st, false);
      continue;
    }
    if (e->count == 0) {
      StoreRelaxed(e->mode, static_cast<std::uint32_t>(kHoldPin));
      StoreRelaxed(e->pinned_data, r->data_off);
    }
    StoreRelaxed(e->count, e->count + 1);
    Grant out{e->pinned_data, r->size};
    g.unlock();
    Exit(*r, st, false);
    return out;
  }
}

Result<ObjectLocks::Release> ObjectLocks::Unpin(std::uint64_t index, std::uint64_t owner) {
  ObjectRecord* r = records_->Get(index);
  if (!r) return Status::NotFound("no object record " + std::to_string(index));
  std::uint32_t st = Enter(*r, index);
  std::unique_lock<std::mutex> g(holds_->mu());
  HoldEntry* e = holds_->Find({index + 1, owner});
  Release out;
  if (!e || Held(*e) != kHoldPin || e->count == 0) {
    g.unlock();
    Exit(*r, st, false);
    return Status::InvalidArgument("object is not pinned by this owner");
  }
  StoreRelaxed(e->count, e->count - 1);
  if (e->count == 0) {
    out.retired = TakeRetired(*e, *r);
    holds_->Remove(e, nullptr);
    out.released = true;
    out.orphan = r->state == format::kRecordOrphan;
  }
  g.unlock();
  Exit(*r, st, false);
  return out;
}

bool ObjectLocks::WouldDeadlock(std::uint64_t index, std::uint64_t owner, HoldMode want) {
  // Snapshot the wait-for graph from every live client's holds. A node is
  // (slot, owner); an edge runs from a waiter to each holder that blocks it.
  using Node = std::pair<std::uint32_t, std::uint64_t>;
  struct Holder {
    Node node;
    std::uint32_t mode;
  };
  std::map<std::uint64_t, std::vector<Holder>> holders;           // record+1 -> holders
  std::map<Node, std::pair<std::uint64_t, std::uint32_t>> waits;  // node -> (record+1, mode)
  for (std::uint32_t s : clients_->Attached()) {
    if (clients_->IsDead(s, self_)) continue;
    ForEachHold(*space_, *clients_->Get(s), [&](HoldEntry& e) {
      std::uint32_t held = Held(e), wanted = Wanted(e);
      Node n{s, LoadRelaxed(e.owner)};
      if (held == kHoldRead || held == kHoldWrite) holders[LoadRelaxed(e.record)].push_back({n, held});
      if (wanted) waits[n] = {LoadRelaxed(e.record), wanted};
    });
  }
  const Node me{self_, owner};
  std::set<Node> visited;
  struct Step {
    std::uint64_t record;
    std::uint32_t mode;
    bool first;  // our own request: our own hold on it (an upgrade) is no edge
  };
  std::vector<Step> stack{{index + 1, static_cast<std::uint32_t>(want), true}};
  while (!stack.empty()) {
    Step step = stack.back();
    stack.pop_back();
    for (const Holder& h : holders[step.record]) {
      if (step.mode == kHoldRead && h.mode == kHoldRead) continue;  // readers do not block readers
      if (h.node == me) {
        if (step.first) continue;
        return true;
      }
      if (!visited.insert(h.node).second) continue;
      auto it = waits.find(h.node);
      if (it != waits.end()) stack.push_back({it->second.first, it->second.second, false});
    }
  }
  return false;
}

}  // namespace shmheap
