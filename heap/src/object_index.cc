// ObjectIndex implementation and HashName.
#include "heap/src/object_index.h"

#include <cstring>
#include <unordered_set>

namespace shmheap {

using format::IndexEntry;
using format::kIndexEmpty;
using format::kIndexRecordMask;
using format::kIndexTombstone;
using format::ObjectRecord;

namespace {

constexpr std::uint64_t kP1 = 0x9E3779B185EBCA87ull;
constexpr std::uint64_t kP2 = 0xC2B2AE3D27D4EB4Full;
constexpr std::uint64_t kP3 = 0x165667B19E3779F9ull;
constexpr std::uint64_t kP4 = 0x85EBCA77C2B2AE63ull;

inline std::uint64_t Rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

inline IndexEntry MakeEntry(std::uint64_t hash, std::uint64_t record) {
  return ((hash >> 40) << 40) | (record + 1);
}
inline bool TagMatches(IndexEntry e, std::uint64_t hash) { return (e >> 40) == (hash >> 40); }

}  // namespace

std::uint64_t HashName(std::string_view name) noexcept {
  // An XXH64-style mix using only 64-bit multiplies, so 32-bit builds compute
  // the same value.
  std::uint64_t h = kP4 ^ (name.size() * kP1);
  const char* p = name.data();
  std::size_t n = name.size();
  while (n >= 8) {
    std::uint64_t k;
    std::memcpy(&k, p, 8);
    k *= kP2;
    k = Rotl(k, 31) * kP1;
    h = Rotl(h ^ k, 27) * kP1 + kP4;
    p += 8;
    n -= 8;
  }
  if (n) {
    // Little-endian, byte by byte (as a memcpy on our targets, without a
    // call): the value is stored in heaps, so it must never change.
    std::uint64_t k = 0;
    for (std::size_t i = 0; i < n; ++i) k |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    k *= kP1;
    h = Rotl(h ^ (Rotl(k, 23) * kP2), 29) * kP3;
  }
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

std::uint64_t* ObjectIndex::Table(std::uint64_t* cap) const {
  auto* sb = space_->sb();
  std::uint64_t off = AtomicField(sb->index_table).load(std::memory_order_acquire);
  std::uint64_t c = AtomicField(sb->index_capacity).load(std::memory_order_acquire);
  if (c < kMinCapacity || (c & (c - 1)) != 0) return nullptr;
  *cap = c;
  return space_->At<std::uint64_t>(off, c);
}

Status ObjectIndex::Format() {
  auto* sb = space_->sb();
  auto chunk = arena_->Allocate(kMinCapacity * sizeof(IndexEntry), format::kInternalOwner);
  if (!chunk.ok()) return chunk.status();
  std::memset(space_->Bytes(*chunk, kMinCapacity * sizeof(IndexEntry)), 0, kMinCapacity * sizeof(IndexEntry));
  sb->index_table = *chunk;
  sb->index_capacity = kMinCapacity;
  sb->index_live = 0;
  sb->index_tombstones = 0;
  sb->index_seq = 0;
  return Status::Ok();
}

bool ObjectIndex::NameIs(const ObjectRecord& r, std::string_view name, std::uint32_t hash32) const {
  if (r.state != format::kRecordLive || r.name_hash != hash32 || r.name_len != name.size()) return false;
  const std::byte* p = space_->Bytes(r.name_off, r.name_len);
  return p && std::memcmp(p, name.data(), name.size()) == 0;
}

Result<std::uint64_t> ObjectIndex::Find(std::string_view name, std::uint64_t hash) const {
  const std::uint64_t rec = Probe(name, hash);
  if (rec != kAbsent) return rec;
  // Tell an invalid table apart from an absent name only on the miss path.
  std::uint64_t cap;
  if (!Table(&cap)) return Status::Corruption("name index table is invalid");
  return Status::NotFound(std::string(name));
}

std::uint64_t ObjectIndex::Probe(std::string_view name, std::uint64_t hash) const {
  std::uint64_t cap;
  std::uint64_t* t = Table(&cap);
  if (!t) return kAbsent;
  const std::uint64_t mask = cap - 1;
  const auto h32 = static_cast<std::uint32_t>(hash);
  for (std::uint64_t i = 0; i < cap; ++i) {
    IndexEntry e = AtomicField(t[(h32 + i) & mask]).load(std::memory_order_relaxed);
    if (e == kIndexEmpty) break;
    if (e == kIndexTombstone || !TagMatches(e, hash)) continue;
    std::uint64_t rec = (e & kIndexRecordMask) - 1;
    const ObjectRecord* r = records_->Get(rec);
    if (r && NameIs(*r, name, h32)) return rec;
  }
  return kAbsent;
}

Result<std::uint64_t> ObjectIndex::FindLockFree(std::string_view name, std::uint64_t hash) const {
#if defined(__SANITIZE_THREAD__)
  // A seqlock reader races with writers by design (and recovers); TSan cannot
  // model that, so TSan builds always take the heap-mutex path.
  (void)name;
  (void)hash;
  return Status::Busy("lock-free lookup disabled under TSan");
#endif
  auto seq = AtomicField(space_->sb()->index_seq);
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::uint32_t s1 = seq.load(std::memory_order_acquire);
    if (s1 & 1) continue;
    Result<std::uint64_t> r = Find(name, hash);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq.load(std::memory_order_relaxed) == s1 && r.code() != Code::kCorruption) return r;
  }
  return Status::Busy("index changing");
}

void ObjectIndex::BeginWrite() {
  AtomicField(space_->sb()->index_seq).fetch_add(1, std::memory_order_acq_rel);
}

void ObjectIndex::EndWrite() {
  AtomicField(space_->sb()->index_seq).fetch_add(1, std::memory_order_release);
}

void ObjectIndex::ResetSeq() {
  auto seq = AtomicField(space_->sb()->index_seq);
  if (seq.load() & 1) seq.fetch_add(1);
}

Status ObjectIndex::Insert(std::uint64_t hash, std::uint64_t record) {
  auto* sb = space_->sb();
  std::uint64_t cap;
  if (!Table(&cap)) return Status::Corruption("name index table is invalid");
  if ((sb->index_live + sb->index_tombstones + 1) * 10 > cap * 7) {
    std::uint64_t new_cap = (sb->index_live + 1) * 10 > cap * 3 ? cap * 2 : cap;
    SHMHEAP_RETURN_IF_ERROR(Rebuild(new_cap));
  }
  std::uint64_t* t = Table(&cap);
  const std::uint64_t mask = cap - 1;
  const auto h32 = static_cast<std::uint32_t>(hash);
  for (std::uint64_t i = 0; i < cap; ++i) {
    std::uint64_t& slot = t[(h32 + i) & mask];
    if (slot == kIndexEmpty || slot == kIndexTombstone) {
      if (slot == kIndexTombstone) log_->Set(sb->index_tombstones, sb->index_tombstones - 1);
      log_->LogRange(&slot, 8);
      AtomicField(slot).store(MakeEntry(hash, record), std::memory_order_release);
      log_->Set(sb->index_live, sb->index_live + 1);
      return Status::Ok();
    }
  }
  return Status::Corruption("name index is full");
}

Status ObjectIndex::Erase(std::uint64_t hash, std::uint64_t record) {
  auto* sb = space_->sb();
  std::uint64_t cap;
  std::uint64_t* t = Table(&cap);
  if (!t) return Status::Corruption("name index table is invalid");
  const std::uint64_t mask = cap - 1;
  const auto h32 = static_cast<std::uint32_t>(hash);
  for (std::uint64_t i = 0; i < cap; ++i) {
    std::uint64_t& slot = t[(h32 + i) & mask];
    if (slot == kIndexEmpty) break;
    if (slot != kIndexTombstone && (slot & kIndexRecordMask) == record + 1) {
      log_->LogRange(&slot, 8);
      AtomicField(slot).store(kIndexTombstone, std::memory_order_release);
      log_->Set(sb->index_live, sb->index_live - 1);
      log_->Set(sb->index_tombstones, sb->index_tombstones + 1);
      return Status::Ok();
    }
  }
  return Status::NotFound("record " + std::to_string(record) + " not in the name index");
}

Status ObjectIndex::Rebuild(std::uint64_t new_cap) {
  auto* sb = space_->sb();
  std::uint64_t cap;
  std::uint64_t* old = Table(&cap);
  const std::uint64_t old_off = sb->index_table;
  auto chunk = arena_->Allocate(new_cap * sizeof(IndexEntry), format::kInternalOwner);
  if (!chunk.ok()) return chunk.status();
  // The new table is unreachable until published: fill it without logging.
  auto* t = space_->At<std::uint64_t>(*chunk, new_cap);
  std::memset(t, 0, new_cap * sizeof(IndexEntry));
  const std::uint64_t mask = new_cap - 1;
  std::uint64_t live = 0;
  for (std::uint64_t i = 0; i < cap; ++i) {
    IndexEntry e = old[i];
    if (e == kIndexEmpty || e == kIndexTombstone) continue;
    const ObjectRecord* r = records_->Get((e & kIndexRecordMask) - 1);
    if (!r) return Status::Corruption("name index entry " + std::to_string(i) + " names a bad record");
    for (std::uint64_t j = 0; j < new_cap; ++j) {
      std::uint64_t& slot = t[(r->name_hash + j) & mask];
      if (slot == kIndexEmpty) {
        slot = e;
        break;
      }
    }
    ++live;
  }
  log_->LogRange(&sb->index_table, 8);
  log_->LogRange(&sb->index_capacity, 8);
  // The table first: a kill (or a lock-free reader, which the seqlock sends
  // back) between the two stores sees the new, larger table with the old
  // capacity, which lies inside it.
  AtomicField(sb->index_table).store(*chunk, std::memory_order_release);
  AtomicField(sb->index_capacity).store(new_cap, std::memory_order_release);
  log_->Set(sb->index_live, live);
  log_->Set(sb->index_tombstones, std::uint64_t{0});
  return arena_->Free(old_off);
}

void ObjectIndex::ForEach(const std::function<void(std::uint64_t)>& fn) const {
  std::uint64_t cap;
  std::uint64_t* t = Table(&cap);
  if (!t) return;
  for (std::uint64_t i = 0; i < cap; ++i) {
    IndexEntry e = t[i];
    if (e != kIndexEmpty && e != kIndexTombstone) fn((e & kIndexRecordMask) - 1);
  }
}

void ObjectIndex::Check(std::vector<std::string>* problems) const {
  auto* sb = space_->sb();
  std::uint64_t cap;
  std::uint64_t* t = Table(&cap);
  if (!t) {
    problems->push_back("name index table at offset " + std::to_string(sb->index_table) + " is invalid");
    return;
  }
  std::uint64_t live = 0, tomb = 0;
  std::unordered_set<std::uint64_t> seen;
  for (std::uint64_t i = 0; i < cap; ++i) {
    IndexEntry e = t[i];
    if (e == kIndexEmpty) continue;
    if (e == kIndexTombstone) {
      ++tomb;
      continue;
    }
    ++live;
    std::uint64_t rec = (e & kIndexRecordMask) - 1;
    const ObjectRecord* r = records_->Get(rec);
    if (!r || r->state != format::kRecordLive) {
      problems->push_back("name index slot " + std::to_string(i) + " names record " + std::to_string(rec) +
                          ", which is not a live object");
      continue;
    }
    if (!seen.insert(rec).second) problems->push_back("record " + std::to_string(rec) + " is indexed twice");
    const std::byte* name = space_->Bytes(r->name_off, r->name_len);
    if (!name || r->name_len == 0 || r->name_len > format::kMaxNameLen) {
      problems->push_back("record " + std::to_string(rec) + " has an invalid name");
      continue;
    }
    std::uint64_t h = HashName(std::string_view(reinterpret_cast<const char*>(name), r->name_len));
    if (static_cast<std::uint32_t>(h) != r->name_hash || !TagMatches(e, h)) {
      problems->push_back("record " + std::to_string(rec) + ": stored hash does not match its name");
    }
    // Reachable by probing from its home slot without crossing an empty slot.
    for (std::uint64_t j = static_cast<std::uint32_t>(h) & (cap - 1); j != i; j = (j + 1) & (cap - 1)) {
      if (t[j] == kIndexEmpty) {
        problems->push_back("record " + std::to_string(rec) + " is unreachable in the name index");
        break;
      }
    }
  }
  if (live != sb->index_live || tomb != sb->index_tombstones) {
    problems->push_back("name index counts " + std::to_string(sb->index_live) + " live / " +
                        std::to_string(sb->index_tombstones) + " deleted, found " + std::to_string(live) + " / " +
                        std::to_string(tomb));
  }
}

}  // namespace shmheap
