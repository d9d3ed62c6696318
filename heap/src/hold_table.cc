// HoldTable implementation.
#include "heap/src/hold_table.h"

#include <algorithm>
#include <cstring>

namespace shmheap {

using format::ClientSlot;
using format::HoldEntry;
using format::HoldSegment;

namespace {

constexpr std::uint32_t kFirstSegment = 1024;
using hold_detail::WalkSegments;

}  // namespace

HoldEntry* HoldTable::Find(Key key) {
  auto it = map_.find(key);
  return it == map_.end() ? nullptr : it->second;
}

HoldEntry* HoldTable::FindOrInsert(Key key, UndoLog* log) {
  if (HoldEntry* e = Find(key)) return e;
  if (free_.empty()) return nullptr;
  HoldEntry* e = free_.back();
  free_.pop_back();
  RaiseHighWater(e);
  if (log) {
    log->LogRange(e, sizeof(HoldEntry));
  }
  Store(e->owner, key.owner);
  Store(e->mode, 0u);
  Store(e->count, 0u);
  Store(e->pinned_data, std::uint64_t{0});
  AtomicField(e->record).store(key.record, std::memory_order_release);
  map_.emplace(key, e);
  return e;
}

void HoldTable::RaiseHighWater(HoldEntry* e) {
  // Entries are handed out lowest first, so the high-water mark stays close
  // to the number of holds and scans by other processes stay short.
  WalkSegments(*space_, slot_->holds_off, [&](HoldSegment* seg, HoldEntry* entries, std::uint32_t used) {
    if (e < entries || e >= entries + seg->capacity) return;
    const auto index = static_cast<std::uint32_t>(e - entries);
    if (index + 1 > used) AtomicField(seg->used_high).store(index + 1, std::memory_order_release);
  });
}

void HoldTable::Remove(HoldEntry* e, UndoLog* log) {
  map_.erase(Key{e->record, e->owner});
  if (log) log->LogRange(e, sizeof(HoldEntry));
  AtomicField(e->record).store(0, std::memory_order_release);
  Store(e->mode, 0u);
  Store(e->count, 0u);
  Store(e->pinned_data, std::uint64_t{0});
  free_.push_back(e);
}

bool HoldTable::NeedsReserve(std::uint32_t n) {
  std::lock_guard<std::mutex> g(mu_);
  return free_.size() < n;
}

Status HoldTable::Reserve(Arena* arena, UndoLog* log, std::uint32_t n) {
  std::uint32_t cap = kFirstSegment;
  std::uint64_t last = 0;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (free_.size() >= n) return Status::Ok();
  }
  // Find the tail and size the new segment at twice the total so far.
  std::uint64_t off = slot_->holds_off;
  for (int i = 0; off != 0 && i < hold_detail::kMaxSegments; ++i) {
    auto* seg = space_->At<HoldSegment>(off);
    if (!seg) return Status::Corruption("hold table segment out of bounds");
    last = off;
    cap = std::max(cap, seg->capacity * 2);
    off = seg->next;
  }
  while (cap < n) cap *= 2;
  auto chunk = arena->Allocate(sizeof(HoldSegment) + std::uint64_t{cap} * sizeof(HoldEntry), format::kInternalOwner);
  if (!chunk.ok()) return chunk.status();
  std::byte* p = space_->Bytes(*chunk, sizeof(HoldSegment) + std::uint64_t{cap} * sizeof(HoldEntry));
  std::memset(p, 0, sizeof(HoldSegment) + std::uint64_t{cap} * sizeof(HoldEntry));
  reinterpret_cast<HoldSegment*>(p)->capacity = cap;
  std::uint64_t* link = last ? &space_->At<HoldSegment>(last)->next : &slot_->holds_off;
  log->LogRange(link, 8);
  AtomicField(*link).store(*chunk, std::memory_order_release);
  log->Set(slot_->holds_cap, slot_->holds_cap + cap);
  std::lock_guard<std::mutex> g(mu_);
  auto* entries = reinterpret_cast<HoldEntry*>(p + sizeof(HoldSegment));
  for (std::uint32_t i = cap; i-- > 0;) free_.push_back(&entries[i]);
  return Status::Ok();
}

void HoldTable::Reload() {
  std::lock_guard<std::mutex> g(mu_);
  map_.clear();
  free_.clear();
  WalkSegments(*space_, slot_->holds_off, [&](HoldSegment* seg, HoldEntry* e, std::uint32_t) {
    for (std::uint32_t i = seg->capacity; i-- > 0;) {
      if (e[i].record == 0) {
        free_.push_back(&e[i]);
      } else {
        map_.emplace(Key{e[i].record, e[i].owner}, &e[i]);
      }
    }
  });
}

}  // namespace shmheap
