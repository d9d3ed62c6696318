// RecordTable implementation.
#include "heap/src/records.h"

#include <cstring>

namespace shmheap {

using format::kRecordSeg0;
using format::ObjectRecord;

Result<std::uint64_t> RecordTable::Allocate() {
  auto* sb = space_->sb();
  std::uint64_t index;
  ObjectRecord* r;
  if (sb->record_free != 0) {
    index = sb->record_free - 1;
    r = Get(index);
    if (!r || r->state != format::kRecordFree || r->link > sb->record_high) {
      return Status::Corruption("free-record list points at bad record " + std::to_string(index));
    }
    log_->Set(sb->record_free, r->link);
  } else {
    index = sb->record_high;
    if (index >= format::kMaxRecords) return Status::NoSpace("object table is full");
    std::uint64_t first;
    unsigned k = SegmentOf(index, &first);
    if (k >= format::kNumRecordSegments) return Status::NoSpace("object table is full");
    if (sb->record_segments[k] == 0) {
      auto seg = arena_->Allocate((kRecordSeg0 << k) * sizeof(ObjectRecord), format::kInternalOwner);
      if (!seg.ok()) return seg.status();
      // Fresh memory, unreachable until the logged store below publishes it.
      std::memset(space_->Bytes(*seg, (kRecordSeg0 << k) * sizeof(ObjectRecord)), 0,
                  (kRecordSeg0 << k) * sizeof(ObjectRecord));
      log_->LogRange(&sb->record_segments[k], 8);
      AtomicField(sb->record_segments[k]).store(*seg, std::memory_order_release);
    }
    log_->LogRange(&sb->record_high, 8);
    AtomicField(sb->record_high).store(index + 1, std::memory_order_release);
    r = Get(index);
    if (!r) return Status::Corruption("record segment " + std::to_string(k) + " is invalid");
  }
  // Versions continue across reuse (so a stale version never matches a new
  // object) and start at 1 (0 means "no object" in the C API).
  AtomicField(r->version).fetch_add(1, std::memory_order_acq_rel);
  log_->SetAtomic(r->generation, sb->next_generation);
  log_->Set(sb->next_generation, sb->next_generation + 1);
  // The record is free until the caller's logged store of `state`, and
  // nothing reads a free record's fields (Check skips them; lookups go through
  // the logged index): a rollback makes it free again whatever they hold. So
  // they are written directly, except `link`, which still chains the free
  // list that a rollback restores.
  // (Relaxed atomic stores: a lock-free Stat by a stale id may be reading
  // them; it then finds the new generation and gives up.)
  StoreRelaxed(r->data_off, std::uint64_t{0});
  StoreRelaxed(r->size, std::uint64_t{0});
  StoreRelaxed(r->capacity, std::uint64_t{0});
  StoreRelaxed(r->name_off, std::uint64_t{0});
  StoreRelaxed(r->name_len, 0u);
  StoreRelaxed(r->name_hash, 0u);
  StoreRelaxed(r->type_off, std::uint64_t{0});
  StoreRelaxed(r->type_len, 0u);
  StoreRelaxed(r->refs, 0u);
  log_->Set(r->link, std::uint64_t{0});
  log_->Set(sb->records_live, sb->records_live + 1);
  return index;
}

void RecordTable::Free(std::uint64_t index) {
  auto* sb = space_->sb();
  ObjectRecord* r = Get(index);
  if (!r) return;
  if (r->state != format::kRecordFree) log_->SetAtomic(r->state, static_cast<std::uint32_t>(format::kRecordFree));
  log_->Set(r->link, sb->record_free);
  log_->Set(sb->record_free, index + 1);
  log_->Set(sb->records_live, sb->records_live - 1);
}

}  // namespace shmheap
