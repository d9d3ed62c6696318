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

// ------------------------------------------------------------------ Index

std::size_t HoldTable::Index::Home(Key key) const {
  const std::uint64_t h = (key.record * 0x9E3779B97F4A7C15ull) ^ (key.owner * 0xC2B2AE3D27D4EB4Full);
  return static_cast<std::size_t>((h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ull >> shift_);
}

HoldEntry* HoldTable::Index::Find(Key key) const {
  if (slots_.empty()) return nullptr;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = Home(key);; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.key.record == 0) return nullptr;
    if (s.key == key) return s.entry;
  }
}

void HoldTable::Index::Insert(Key key, HoldEntry* e) {
  if ((count_ + 1) * 2 > slots_.size()) Grow();
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = Home(key);
  while (slots_[i].key.record != 0) i = (i + 1) & mask;
  slots_[i] = Slot{key, e};
  ++count_;
}

void HoldTable::Index::Erase(Key key) {
  if (slots_.empty()) return;
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = Home(key);
  for (;; i = (i + 1) & mask) {
    if (slots_[i].key.record == 0) return;
    if (slots_[i].key == key) break;
  }
  // Backward-shift deletion: move up every later entry of the run whose
  // home does not lie (cyclically) in (i, j].
  for (std::size_t j = (i + 1) & mask; slots_[j].key.record != 0; j = (j + 1) & mask) {
    const std::size_t home = Home(slots_[j].key);
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    i = j;
  }
  slots_[i] = Slot{};
  --count_;
}

void HoldTable::Index::Clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  count_ = 0;
}

void HoldTable::Index::Grow() {
  std::vector<Slot> old = std::move(slots_);
  const std::size_t n = old.empty() ? 256 : old.size() * 2;
  slots_.assign(n, Slot{});
  shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(n));
  count_ = 0;
  for (const Slot& s : old) {
    if (s.key.record != 0) Insert(s.key, s.entry);
  }
}

// -------------------------------------------------------------- HoldTable

HoldEntry* HoldTable::Find(Key key) { return index_.Find(key); }

void HoldTable::PushFree(HoldEntry* e) {
  free_.push_back(e);
  free_count_.store(free_.size(), std::memory_order_relaxed);
}

HoldEntry* HoldTable::FindOrInsert(Key key, UndoLog* log) {
  if (HoldEntry* e = Find(key)) return e;
  if (free_.empty()) return nullptr;
  HoldEntry* e = free_.back();
  free_.pop_back();
  free_count_.store(free_.size(), std::memory_order_relaxed);
  RaiseHighWater(e);
  if (log) {
    log->LogRange(e, sizeof(HoldEntry));
  }
  StoreRelaxed(e->owner, key.owner);
  StoreRelaxed(e->mode, 0u);
  StoreRelaxed(e->count, 0u);
  StoreRelaxed(e->pinned_data, std::uint64_t{0});
  AtomicField(e->record).store(key.record, std::memory_order_release);
  index_.Insert(key, e);
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
  index_.Erase(Key{e->record, e->owner});
  if (log) log->LogRange(e, sizeof(HoldEntry));
  AtomicField(e->record).store(0, std::memory_order_release);
  StoreRelaxed(e->mode, 0u);
  StoreRelaxed(e->count, 0u);
  StoreRelaxed(e->pinned_data, std::uint64_t{0});
  PushFree(e);
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
  for (std::uint32_t i = cap; i-- > 0;) PushFree(&entries[i]);
  return Status::Ok();
}

void HoldTable::Reload() {
  std::lock_guard<std::mutex> g(mu_);
  index_.Clear();
  free_.clear();
  free_count_.store(0, std::memory_order_relaxed);
  WalkSegments(*space_, slot_->holds_off, [&](HoldSegment* seg, HoldEntry* e, std::uint32_t) {
    for (std::uint32_t i = seg->capacity; i-- > 0;) {
      if (e[i].record == 0) {
        PushFree(&e[i]);
      } else if (!index_.Find(Key{e[i].record, e[i].owner})) {  // a corrupt duplicate stays unindexed
        index_.Insert(Key{e[i].record, e[i].owner}, &e[i]);
      }
    }
  });
}

}  // namespace shmheap
