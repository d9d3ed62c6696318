// HeapImpl: named and anonymous allocation, lookup, replace/resize, remove,
// rename, and the freeing of orphans and retired versions.
#include <sched.h>
#include <time.h>

#include <cstring>

#include "heap/src/clock.h"
#include "heap/src/heap_impl.h"
#include "heap/src/log.h"

namespace shmheap {

using format::ChunkHeader;
using format::ObjectRecord;

namespace {

}  // namespace

Status HeapImpl::ValidateName(std::string_view name) const {
  if (name.empty()) return Status::InvalidArgument("empty object name");
  if (name.size() > format::kMaxNameLen) {
    return Status::InvalidArgument("object name of " + std::to_string(name.size()) + " bytes exceeds 255");
  }
  if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("object name contains '/' or NUL");
  }
  if (name == "." || name == "..") return Status::InvalidArgument("object name '" + std::string(name) + "' is reserved");
  return Status::Ok();
}

Result<std::uint64_t> HeapImpl::FindLocked(std::string_view name) const {
  return index_->Find(name, HashName(name));
}

Result<std::uint64_t> HeapImpl::FindAny(std::string_view name) {
  const std::uint64_t h = HashName(name);
  auto r = index_->FindLockFree(name, h);
  if (r.code() != Code::kBusy) return r;
  if (read_only_) return index_->Find(name, h);
  Op op(this);
  auto found = index_->Find(name, h);
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return found;
}

Result<std::uint64_t> HeapImpl::StoreString(std::string_view s, std::uint64_t owner) {
  auto chunk = arena_->Allocate(s.size(), owner);
  if (!chunk.ok()) return chunk.status();
  // Fresh chunk: unlogged. A lock-free Stat may still be copying what this
  // chunk held before it was freed (CopyRacy; it then drops the copy).
  std::memcpy(space_->Bytes(*chunk, s.size()), s.data(), s.size());
  return *chunk;
}

Result<std::span<std::byte>> HeapImpl::Allocate(std::string_view name, std::size_t size, const ObjectAttr& attr) {
  return AllocateNamed(name, size, {}, attr, nullptr);
}

Result<std::span<std::byte>> HeapImpl::AllocateNamed(std::string_view name, std::size_t size,
                                                     std::span<const std::byte> init, const ObjectAttr& attr,
                                                     ObjectId* id) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  if (init.size() > size) return Status::InvalidArgument("initial bytes exceed the object size");
  SHMHEAP_RETURN_IF_ERROR(ValidateName(name));
  const std::uint64_t hash = HashName(name);
  Op op(this);
  if (index_->Probe(name, hash) != ObjectIndex::kAbsent) return Status::AlreadyExists(std::string(name));
  auto index = records_->Allocate();
  if (!index.ok()) return index.status();
  auto data = arena_->Allocate(size, *index + 1);
  if (!data.ok()) return data.status();
  auto name_off = StoreString(name, *index + 1);
  if (!name_off.ok()) return name_off.status();
  std::byte* bytes = space_->Bytes(*data, size);
  // Fresh chunk: unlogged. The contents are in place before the name is.
  if (!init.empty()) std::memcpy(bytes, init.data(), init.size());
  std::memset(bytes + init.size(), 0, size - init.size());
  ObjectRecord* r = Record(*index);
  const std::int64_t now = NowNs();
  // A record allocated in this operation is written directly (see
  // RecordTable::Allocate); only the store that makes it live is logged.
  // Relaxed atomic stores: a lock-free Stat by a stale id may be reading
  // this record (it then finds the new generation and gives up).
  StoreRelaxed(r->data_off, *data);
  StoreRelaxed(r->size, std::uint64_t{size});
  StoreRelaxed(r->capacity, arena_->Capacity(*data));
  StoreRelaxed(r->name_off, *name_off);
  StoreRelaxed(r->name_len, static_cast<std::uint32_t>(name.size()));
  StoreRelaxed(r->name_hash, static_cast<std::uint32_t>(hash));
  StoreRelaxed(r->mode, attr.mode);
  StoreRelaxed(r->uid, attr.uid);
  StoreRelaxed(r->gid, attr.gid);
  StoreRelaxed(r->atime_ns, now);
  StoreRelaxed(r->mtime_ns, now);
  StoreRelaxed(r->ctime_ns, now);
  log_->SetAtomic(r->state, static_cast<std::uint32_t>(format::kRecordLive));
  op.IndexWrite();
  SHMHEAP_RETURN_IF_ERROR(index_->Insert(hash, *index));
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  if (id) *id = ObjectId{*index + 1, r->generation};
  SPDLOG_LOGGER_DEBUG(Log(), "allocated object '{}' ({} bytes) as record {}", name, size, *index);
  return std::span<std::byte>(bytes, size);
}

Result<std::span<std::byte>> HeapImpl::AllocateAnonymous(std::size_t size) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  Op op(this);
  auto data = arena_->Allocate(size, 0);
  if (!data.ok()) return data.status();
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return std::span<std::byte>(space_->Bytes(*data, size), size);
}

Status HeapImpl::Free(void* ptr) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  const std::uint64_t off = space_->OffsetOf(ptr);
  Op op(this);
  ChunkHeader* h = arena_->Header(off);
  if (!h || h->owner == format::kInternalOwner) {
    return Status::InvalidArgument("pointer is not an allocation of heap " + path_);
  }
  if (h->owner == 0) {
    SHMHEAP_RETURN_IF_ERROR(arena_->Free(off));
    SHMHEAP_RETURN_IF_ERROR(op.Commit());
    return Status::Ok();
  }
  const std::uint64_t index = h->owner - 1;
  ObjectRecord* r = Record(index);
  if (!r || r->data_off != off || r->state != format::kRecordLive) {
    return Status::InvalidArgument("pointer is not the current data of a named object");
  }
  op.IndexWrite();
  SHMHEAP_RETURN_IF_ERROR(Unlink(index));
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return Status::Ok();
}

Result<void*> HeapImpl::Realloc(void* ptr, std::size_t size) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  if (ptr == nullptr) {
    auto s = AllocateAnonymous(size);
    if (!s.ok()) return s.status();
    return static_cast<void*>(s->data());
  }
  const std::uint64_t off = space_->OffsetOf(ptr);
  Op op(this);
  ChunkHeader* h = arena_->Header(off);
  if (!h || h->owner == format::kInternalOwner) {
    return Status::InvalidArgument("pointer is not an allocation of heap " + path_);
  }
  const std::uint64_t owner = h->owner;
  ObjectRecord* r = owner ? Record(owner - 1) : nullptr;
  if (owner && (!r || r->data_off != off)) return Status::InvalidArgument("pointer is not current object data");
  const std::uint64_t cap = arena_->Capacity(off);
  const std::uint64_t old_size = r ? r->size : cap;
  if (size <= cap) {
    if (r) {
      // The spare capacity of an object a write through the mount grew may
      // be holes (format 3): reserve it before storing into it.
      if (size > old_size) SHMHEAP_RETURN_IF_ERROR(arena_->ReserveWithin(off, old_size, size));
      if (size > old_size) std::memset(space_->Bytes(off + old_size, size - old_size), 0, size - old_size);
      log_->Set(r->size, std::uint64_t{size});
      AtomicField(r->version).fetch_add(1);
    }
    SHMHEAP_RETURN_IF_ERROR(op.Commit());
    return ptr;
  }
  auto data = arena_->Allocate(size, owner);
  if (!data.ok()) return data.status();
  std::byte* dst = space_->Bytes(*data, size);
  std::memcpy(dst, space_->Bytes(off, old_size), std::min<std::uint64_t>(old_size, size));
  if (r) {
    std::memset(dst + old_size, 0, size - old_size);
    SHMHEAP_RETURN_IF_ERROR(SwapData(owner - 1, *data, size));
  } else {
    SHMHEAP_RETURN_IF_ERROR(arena_->Free(off));
  }
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return static_cast<void*>(dst);
}

Status HeapImpl::SwapData(std::uint64_t index, std::uint64_t new_data, std::uint64_t new_size) {
  ObjectRecord* r = Record(index);
  std::uint32_t st = locks_->Enter(*r, index);
  const std::uint64_t old = r->data_off;
  log_->Set(r->data_off, new_data);
  log_->Set(r->size, new_size);
  log_->Set(r->capacity, arena_->Capacity(new_data));
  log_->Set(r->mtime_ns, NowNs());
  AtomicField(r->version).fetch_add(1, std::memory_order_acq_rel);
  bool pinned = AnyHolds(kNoRecord, old);
  locks_->Exit(*r, st, false);
  if (!pinned) return arena_->Free(old);
  ChunkHeader* h = arena_->Header(old);
  if (h) log_->Set(h->flags, format::kChunkRetired);
  return Status::Ok();
}

Status HeapImpl::Replace(std::string_view name, std::span<const std::byte> bytes) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  Op op(this);
  auto index = FindLocked(name);
  if (!index.ok()) return index.status();
  auto data = arena_->Allocate(bytes.size(), *index + 1);
  if (!data.ok()) return data.status();
  if (!bytes.empty()) std::memcpy(space_->Bytes(*data, bytes.size()), bytes.data(), bytes.size());
  SHMHEAP_RETURN_IF_ERROR(SwapData(*index, *data, bytes.size()));
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return Status::Ok();
}

bool HeapImpl::AnyHolds(std::uint64_t index, std::uint64_t pinned_data) const {
  bool found = false;
  clients_->ForEachAttached([&](std::uint32_t, format::ClientSlot& c) {
    ForEachHold(*space_, c, [&](format::HoldEntry& e) {
      // The record is loaded once: an entry another client removes meanwhile
      // reads 0 here, which kNoRecord + 1 wraps to. (That made any unpin
      // anywhere at the same moment look like a pin of the version asked
      // about, which was then kept, unpinned, until a reap.)
      const std::uint64_t rec = LoadRelaxed(e.record);
      if (rec == 0) return;
      if ((index != kNoRecord && rec == index + 1) || (pinned_data && LoadRelaxed(e.pinned_data) == pinned_data)) {
        found = true;
      }
    });
    return !found;
  });
  return found;
}

Status HeapImpl::MaybeFreeRetired(std::uint64_t data_off) {
  ChunkHeader* h = arena_->Header(data_off);
  if (!h || h->flags != format::kChunkRetired) return Status::Ok();
  ObjectRecord* r = h->owner ? Record(h->owner - 1) : nullptr;
  if (r && r->data_off == data_off) return Status::Ok();
  if (AnyHolds(kNoRecord, data_off)) return Status::Ok();
  return arena_->Free(data_off);
}

bool HeapImpl::FreeOrOrphan(std::uint64_t index) {
  ObjectRecord* r = Record(index);
  // Decide inside the section: holds on this record change only there, and
  // a release decides there whether it must free an orphan, so the orphan
  // state is stored there too (stored after the section, a release in
  // between would see a live object, and the orphan would never be freed).
  std::uint32_t st = locks_->Enter(*r, index);
  const bool held = r->refs != 0 || (st & (format::kLockReadersMask | format::kLockWriter)) || AnyHolds(index, 0);
  const auto state = static_cast<std::uint32_t>(held ? format::kRecordOrphan : format::kRecordFree);
  if (r->state != state) log_->SetAtomic(r->state, state);
  locks_->Exit(*r, st, false);
  if (held) return false;
  // The record's offsets are left as they are: nothing reads a free
  // record's fields (see RecordTable::Allocate; readers without the heap
  // mutex check the state again after reading), and its chunks are freed
  // at commit.
  if (r->data_off) (void)arena_->Free(r->data_off);
  if (r->name_off) (void)arena_->Free(r->name_off);
  if (r->type_off) (void)arena_->Free(r->type_off);
  if (r->link) (void)arena_->Free(r->link);
  records_->Free(index);
  return true;
}

Status HeapImpl::MaybeFreeOrphan(std::uint64_t index) {
  ObjectRecord* r = Record(index);
  if (!r || r->state != format::kRecordOrphan) return Status::Ok();
  if (FreeOrOrphan(index)) SPDLOG_LOGGER_DEBUG(Log(), "freed orphan record {}", index);
  return Status::Ok();
}

Status HeapImpl::Unlink(std::uint64_t index) {
  ObjectRecord* r = Record(index);
  // The index probes from the low 32 bits of the hash, which the record keeps.
  SHMHEAP_RETURN_IF_ERROR(index_->Erase(r->name_hash, index));
  // Usually nothing holds it: freed straight from live, without the orphan
  // state's stores (each one logged, then undone by the free).
  if (FreeOrOrphan(index)) return Status::Ok();
  // An orphan now: nameless until its last release frees it.
  if (r->name_off) (void)arena_->Free(r->name_off);
  log_->Set(r->name_off, std::uint64_t{0});
  log_->Set(r->name_len, 0u);
  log_->Set(r->ctime_ns, NowNs());
  return Status::Ok();
}

Status HeapImpl::Remove(std::string_view name) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  Op op(this);
  auto index = FindLocked(name);
  if (!index.ok()) return index.status();
  op.IndexWrite();
  SHMHEAP_RETURN_IF_ERROR(Unlink(*index));
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return Status::Ok();
}

Status HeapImpl::Rename(std::string_view from, std::string_view to, bool no_replace) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  SHMHEAP_RETURN_IF_ERROR(ValidateName(to));
  Op op(this);
  auto src = FindLocked(from);
  if (!src.ok()) return src.status();
  if (from == to) return Status::Ok();
  auto dst = FindLocked(to);
  op.IndexWrite();
  if (dst.ok()) {
    if (no_replace) return Status::AlreadyExists(std::string(to));
    SHMHEAP_RETURN_IF_ERROR(Unlink(*dst));
  }
  ObjectRecord* r = Record(*src);
  const std::uint64_t new_hash = HashName(to);
  SHMHEAP_RETURN_IF_ERROR(index_->Erase(HashName(from), *src));
  auto name_off = StoreString(to, *src + 1);
  if (!name_off.ok()) return name_off.status();
  SHMHEAP_RETURN_IF_ERROR(arena_->Free(r->name_off));
  log_->Set(r->name_off, *name_off);
  log_->Set(r->name_len, static_cast<std::uint32_t>(to.size()));
  log_->Set(r->name_hash, static_cast<std::uint32_t>(new_hash));
  log_->Set(r->ctime_ns, NowNs());
  SHMHEAP_RETURN_IF_ERROR(index_->Insert(new_hash, *src));
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return Status::Ok();
}

Status HeapImpl::SetType(std::string_view name, std::string_view type) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  Op op(this);
  auto index = FindLocked(name);
  if (!index.ok()) return index.status();
  SHMHEAP_RETURN_IF_ERROR(SetTypeIndex(*index, type));
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return Status::Ok();
}

Status HeapImpl::SetTypeIndex(std::uint64_t index, std::string_view type) {
  if (type.size() > format::kMaxTypeLen) return Status::InvalidArgument("type string longer than 255 bytes");
  ObjectRecord* r = Record(index);
  std::uint64_t off = 0;
  if (!type.empty()) {
    auto s = StoreString(type, index + 1);
    if (!s.ok()) return s.status();
    off = *s;
  }
  if (r->type_off) SHMHEAP_RETURN_IF_ERROR(arena_->Free(r->type_off));
  log_->Set(r->type_off, off);
  log_->Set(r->type_len, static_cast<std::uint32_t>(type.size()));
  log_->Set(r->ctime_ns, NowNs());
  return Status::Ok();
}

bool HeapImpl::OpenSnapshot(ObjectRecord& r, Current* c) {
  c->version = AtomicField(r.version).load(std::memory_order_acquire);
  if (AtomicField(r.lock_word).load(std::memory_order_acquire) & format::kLockSectionMask) return false;
  c->data_off = AtomicField(r.data_off).load(std::memory_order_acquire);
  c->size = AtomicField(r.size).load(std::memory_order_acquire);
  return true;
}

bool HeapImpl::SnapshotHeld(ObjectRecord& r, const Current& c) {
  std::atomic_thread_fence(std::memory_order_acquire);
  return (AtomicField(r.lock_word).load(std::memory_order_acquire) & format::kLockSectionMask) == 0 &&
         AtomicField(r.version).load(std::memory_order_acquire) == c.version &&
         AtomicField(r.data_off).load(std::memory_order_acquire) == c.data_off &&
         AtomicField(r.size).load(std::memory_order_acquire) == c.size;
}

bool HeapImpl::ReadCurrent(std::uint64_t index, std::string_view name, bool under_mutex, Current* c) const {
  ObjectRecord* r = Record(index);
  if (!r) return false;
  // A seqlock snapshot, as ReadUnpinned's. Under the heap mutex the offset
  // and size cannot change at all, though another process's lock section
  // may be open, so no snapshot is needed.
  c->index = index;
  if (under_mutex) {
    c->version = AtomicField(r->version).load(std::memory_order_acquire);
    c->data_off = LoadRelaxed(r->data_off);
    c->size = LoadRelaxed(r->size);
  } else if (!OpenSnapshot(*r, c)) {
    return false;
  }
  c->generation = LoadGeneration(*r);
  const std::uint32_t len = LoadRelaxed(r->name_len);
  const std::byte* p =
      len == name.size() && len <= format::kMaxNameLen ? space_->Bytes(LoadRelaxed(r->name_off), len) : nullptr;
  if (!p) return false;
  char copy[format::kMaxNameLen];
  CopyRacy(copy, p, len);
  if (!under_mutex && !SnapshotHeld(*r, *c)) return false;
  return std::memcmp(copy, name.data(), len) == 0 && StillHolds(*r, c->generation, true);
}

Result<HeapImpl::Current> HeapImpl::FindCurrent(std::string_view name) {
  constexpr int kAttempts = 64;
  Current c;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (attempt >= 4) {
      if (!read_only_) break;  // the heap mutex settles it at once
      sched_yield();
    }
    auto index = FindAny(name);
    if (!index.ok()) return index.status();
    if (ReadCurrent(*index, name, false, &c)) return c;
  }
  if (read_only_) return Status::Busy("object '" + std::string(name) + "' kept changing");
  Op op(this);
  auto index = FindLocked(name);
  const bool found = index.ok() && ReadCurrent(*index, name, true, &c);
  op.Finish();
  if (!index.ok()) return index.status();
  if (!found) return Status::Corruption("name index entry for '" + std::string(name) + "' names another record");
  return c;
}

Result<std::span<std::byte>> HeapImpl::DataOf(const Current& c, std::string_view name) const {
  std::byte* p = space_->Bytes(c.data_off, c.size);
  if (!p) return Status::Corruption("object '" + std::string(name) + "' has out-of-bounds data");
  return std::span<std::byte>(p, c.size);
}

Result<std::span<std::byte>> HeapImpl::Find(std::string_view name) {
  auto c = FindCurrent(name);
  if (!c.ok()) return c.status();
  return DataOf(*c, name);
}

Result<ObjectId> HeapImpl::Lookup(std::string_view name) {
  auto c = FindCurrent(name);
  if (!c.ok()) return c.status();
  return ObjectId{c->index + 1, c->generation};
}

Result<std::uint64_t> HeapImpl::Version(std::string_view name) {
  auto c = FindCurrent(name);
  if (!c.ok()) return c.status();
  return c->version;
}

Result<bool> HeapImpl::IsCurrent(std::string_view name, std::uint64_t version) {
  auto v = Version(name);
  if (!v.ok()) return v.status();
  return *v == version;
}

Status HeapImpl::AfterRelease(std::uint64_t index, const ObjectLocks::Release& rel) {
  if (!rel.retired && !rel.orphan) return Status::Ok();
  // Declared before the operation: counted down after the commit (or the
  // rollback) and the heap mutex's release.
  struct Handled {
    ObjectLocks* locks;
    ~Handled() {
      if (locks) locks->RetiredHandled();
    }
  } handled{rel.retired ? locks_.get() : nullptr};
  Op op(this);
  if (rel.retired) SHMHEAP_RETURN_IF_ERROR(MaybeFreeRetired(rel.retired));
  if (rel.orphan) SHMHEAP_RETURN_IF_ERROR(MaybeFreeOrphan(index));
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return Status::Ok();
}

}  // namespace shmheap
