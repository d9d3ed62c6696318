// HeapImpl: the by-id operations a file system needs: create, pinned reads,
// amortised writes, truncate, attributes, open references, locks by id, and
// stable listing in record order.
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <vector>

#include "heap/src/clock.h"
#include "heap/src/heap_impl.h"
#include "heap/src/log.h"

namespace shmheap {

using format::ObjectRecord;

namespace {

// Pins use their own owner tokens so they never merge with a lock hold of
// the same thread.
OwnerToken PinToken() {
  thread_local const OwnerToken token = NewOwnerToken() | (1ull << 63);
  return token;
}

}  // namespace

Result<std::uint64_t> HeapImpl::Resolve(ObjectId id) const {
  const ObjectRecord* r = id.inode ? records_->Get(id.inode - 1) : nullptr;
  if (!r || LoadGeneration(*r) != id.generation || !IsLiveOrOrphan(LoadState(*r))) {
    return Status::Stale("object " + std::to_string(id.inode) + " no longer exists");
  }
  return id.inode - 1;
}

Result<ObjectId> HeapImpl::IdOf(std::uint64_t inode) {
  const ObjectRecord* r = inode ? records_->Get(inode - 1) : nullptr;
  // The generation, then the state: a record freed (and perhaps reused)
  // between the two loads is not reported under the old generation.
  const std::uint64_t generation = r ? LoadGeneration(*r) : 0;
  if (!r || !StillHolds(*r, generation, false)) {
    return Status::Stale("no object with inode " + std::to_string(inode));
  }
  return ObjectId{inode, generation};
}

Result<ObjectId> HeapImpl::Create(std::string_view name, std::uint64_t size, const ObjectAttr& attr) {
  if (size > SIZE_MAX) return Status::NoSpace("object size exceeds the address space");
  ObjectId id;
  auto span = AllocateNamed(name, static_cast<std::size_t>(size), {}, attr, &id);
  if (!span.ok()) return span.status();
  return id;
}

Result<ObjectId> HeapImpl::CreateWith(std::string_view name, std::span<const std::byte> bytes, const ObjectAttr& attr) {
  ObjectId id;
  auto span = AllocateNamed(name, bytes.size(), bytes, attr, &id);
  if (!span.ok()) return span.status();
  return id;
}

Status HeapImpl::ResizeLocked(std::uint64_t index, std::uint64_t size, bool amortize, std::uint64_t zero_end,
                              bool fills_by_file, bool publish_size) {
  ObjectRecord* r = Record(index);
  const std::uint64_t old_size = r->size;
  // When the caller writes [zero_end, size) through the file descriptor
  // before committing (WriteVia), object bytes from keep_from on need no
  // disk reserved now (version 3): the new margin past the size is reserved
  // when a later resize reaches it, and the written part is allocated by the
  // write itself, which fails with ENOSPC otherwise (the operation then rolls
  // back). Stores through the mapping (Write's memcpy, the zeroing below)
  // are only ever made to reserved bytes: on a full disk, a store into a
  // hole is SIGBUS.
  const bool fills = fills_by_file && zero_end < size;
  const std::uint64_t keep_from = fills ? std::max(zero_end, old_size) : size;
  if (size > r->capacity) {
    std::uint64_t want = size;
    // Appends usually extend in place, so a small margin is enough to spare
    // most of the heap-mutex round trips without reserving (and, on tmpfs,
    // zeroing) much more than the object needs.
    if (amortize) want = std::max<std::uint64_t>(size, r->capacity + r->capacity / 8);
    // Only writes through the descriptor leave anything unreserved: stores
    // through the mapping need every byte reserved before they happen, and
    // reserving a library append's margin later saves no work, only defers it.
    const std::uint64_t reserve_below = fills ? r->data_off + keep_from : ~0ull;
    auto grown = arena_->Extend(r->data_off, want, reserve_below);
    if (grown.ok() && !*grown && want > size) grown = arena_->Extend(r->data_off, size, reserve_below);
    if (!grown.ok()) return grown.status();  // failed part-way: the operation rolls back
    if (*grown) {
      log_->Set(r->capacity, arena_->Capacity(r->data_off));
    } else {
      auto data = arena_->Allocate(want, index + 1);
      if (!data.ok() && want > size) data = arena_->Allocate(size, index + 1);
      if (!data.ok()) return data.status();
      std::memcpy(space_->Bytes(*data, old_size), space_->Bytes(r->data_off, old_size), old_size);
      SHMHEAP_RETURN_IF_ERROR(SwapData(index, *data, old_size));
    }
  }
  if (size > old_size) SHMHEAP_RETURN_IF_ERROR(arena_->ReserveWithin(r->data_off, old_size, keep_from));
  // Bytes past the old size may hold stale data from before a shrink.
  const std::uint64_t zero_to = std::min(size, zero_end);
  if (zero_to > old_size) std::memset(space_->Bytes(r->data_off + old_size, zero_to - old_size), 0, zero_to - old_size);
  if (publish_size) log_->Set(r->size, size);
  AtomicField(r->version).fetch_add(1, std::memory_order_acq_rel);
  return Status::Ok();
}

Result<std::size_t> HeapImpl::Read(ObjectId id, std::uint64_t off, std::size_t len,
                                   const std::function<void(std::span<const std::byte>)>& fn) {
  if (read_only_) return ReadUnpinned(id, off, len, fn);
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  auto pin = locks_->Pin(*index, id.generation, PinToken());
  if (!pin.ok()) return pin.status();
  std::size_t n = 0;
  if (off < pin->size) {
    n = static_cast<std::size_t>(std::min<std::uint64_t>(len, pin->size - off));
    const std::byte* p = space_->Bytes(pin->data_off + off, n);
    if (!p) n = 0;
    fn(std::span<const std::byte>(p, n));
  } else {
    fn(std::span<const std::byte>());
  }
  auto rel = locks_->Unpin(*index, PinToken());
  if (rel.ok() && rel->released) (void)AfterRelease(*index, *rel);
  return n;
}

Result<std::size_t> HeapImpl::ReadUnpinned(ObjectId id, std::uint64_t off, std::size_t len,
                                           const std::function<void(std::span<const std::byte>)>& fn) {
  // A seqlock read. Every change of an object's data offset or size happens
  // inside its record's lock-word section and bumps its version there, and
  // every reuse of the record bumps its generation; so a copy taken with no
  // section open at either end, between equal snapshots, is one version's
  // bytes. (A chunk freed meanwhile stays mapped: the copy is only stale.)
  constexpr int kAttempts = 64;
  std::vector<std::byte> copy;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (attempt >= 4) sched_yield();
    auto index = Resolve(id);
    if (!index.ok()) return index.status();
    ObjectRecord* r = Record(*index);
    Current snap;
    if (!OpenSnapshot(*r, &snap)) continue;
    copy.clear();
    if (off < snap.size) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(len, snap.size - off));
      const std::byte* p = space_->Bytes(snap.data_off + off, n);
      if (!p) return Status::Corruption("object data out of bounds");
      copy.assign(p, p + n);
    }
    if (!SnapshotHeld(*r, snap) || LoadGeneration(*r) != id.generation) continue;
    SHMHEAP_RETURN_IF_ERROR(Resolve(id).status());  // freed meanwhile, without reuse
    fn(std::span<const std::byte>(copy.data(), copy.size()));
    return copy.size();
  }
  return Status::Busy("object " + std::to_string(id.inode) + " kept changing during " + std::to_string(kAttempts) +
                      " read attempts");
}

Result<std::uint64_t> HeapImpl::Write(ObjectId id, std::uint64_t off, std::span<const std::byte> bytes) {
  return WriteAt(id, off, bytes.size(), false, [&](std::uint64_t file_off) {
    std::byte* p = space_->Bytes(file_off, bytes.size());
    if (!p) return Status::Corruption("object data out of bounds");
    if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
    return Status::Ok();
  });
}

Result<std::uint64_t> HeapImpl::WriteVia(ObjectId id, std::uint64_t off, std::uint64_t len,
                                         const std::function<Status(std::uint64_t file_off)>& io) {
  return WriteAt(id, off, len, true, io);
}

Result<std::uint64_t> HeapImpl::WriteAt(ObjectId id, std::uint64_t off, std::uint64_t len, bool io_writes_file,
                                        const std::function<Status(std::uint64_t file_off)>& io) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  const std::uint64_t end = off + len;
  if (end < off || end > space_->sb()->max_size) return Status::NoSpace("write beyond the heap's maximum size");
  ObjectRecord* r = Record(*index);
  {  // Fast path: overwrite inside the current size, under a pin only.
    auto pin = locks_->Pin(*index, id.generation, PinToken());
    if (!pin.ok()) return pin.status();
    std::uint64_t size = AtomicField(r->size).load(std::memory_order_acquire);
    // Set once io ran: io runs once, and whatever it answers (even kBusy,
    // an EAGAIN) is the answer.
    std::optional<Result<std::uint64_t>> done;
    if (end <= size && end <= pin->size && pin->data_off == AtomicField(r->data_off).load() &&
        space_->Valid(pin->data_off + off, len)) {
      Status s = io(pin->data_off + off);
      if (s.ok()) {
        AtomicField(r->version).fetch_add(1, std::memory_order_acq_rel);
        AtomicField(r->mtime_ns).store(NowNs(), std::memory_order_relaxed);
        done = size;
      } else {
        done = s;
      }
    }
    auto rel = locks_->Unpin(*index, PinToken());
    if (rel.ok() && rel->released) (void)AfterRelease(*index, *rel);
    if (done) return *std::move(done);
  }
  Op op(this);
  index = Resolve(id);
  if (!index.ok()) return index.status();
  // The new size is published only once io has written the bytes: before
  // that, other processes would see (and could touch) bytes not yet written,
  // which in a format-3 heap may still be holes.
  const bool grows = end > r->size;
  if (grows) SHMHEAP_RETURN_IF_ERROR(ResizeLocked(*index, end, true, off, io_writes_file, false));
  if (!space_->Valid(r->data_off + off, len)) return Status::Corruption("object data out of bounds");
  SHMHEAP_RETURN_IF_ERROR(io(r->data_off + off));  // on failure the Op rolls the growth back
  if (grows) log_->Set(r->size, end);
  AtomicField(r->version).fetch_add(1, std::memory_order_acq_rel);
  log_->Set(r->mtime_ns, NowNs());
  const std::uint64_t size = r->size;
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return size;
}

Status HeapImpl::Truncate(ObjectId id, std::uint64_t size) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  if (size > space_->sb()->max_size) return Status::NoSpace("size beyond the heap's maximum size");
  Op op(this);
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  ObjectRecord* r = Record(*index);
  if (size != r->size) {
    SHMHEAP_RETURN_IF_ERROR(ResizeLocked(*index, size, false));
    // Give back most of a large chunk that shrank a lot.
    if (r->capacity > 2 * size && r->capacity - size >= (64u << 10)) {
      SHMHEAP_RETURN_IF_ERROR(arena_->Shrink(r->data_off, size));
      log_->Set(r->capacity, arena_->Capacity(r->data_off));
    }
  }
  const std::int64_t now = NowNs();
  log_->Set(r->mtime_ns, now);
  log_->Set(r->ctime_ns, now);
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return Status::Ok();
}

Status HeapImpl::Trim(ObjectId id) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  Op op(this);
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  ObjectRecord* r = Record(*index);
  if (r->capacity - r->size >= format::kBlockSize) {
    SHMHEAP_RETURN_IF_ERROR(arena_->Shrink(r->data_off, r->size));
    log_->Set(r->capacity, arena_->Capacity(r->data_off));
  }
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return Status::Ok();
}

Result<ObjectInfo> HeapImpl::SetAttr(ObjectId id, const AttrChange& c) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  Op op(this);
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  ObjectRecord* r = Record(*index);
  // The file type bits (a reference's S_IFLNK) stay; only permissions change.
  if (c.mode) log_->Set(r->mode, (r->mode & 0170000u) | (*c.mode & 07777u));
  if (c.clear_mode & r->mode & 07777u) log_->Set(r->mode, r->mode & ~(c.clear_mode & 07777u));
  if (c.uid) log_->Set(r->uid, *c.uid);
  if (c.gid) log_->Set(r->gid, *c.gid);
  if (c.atime_ns) log_->Set(r->atime_ns, *c.atime_ns);
  if (c.mtime_ns) log_->Set(r->mtime_ns, *c.mtime_ns);
  log_->Set(r->ctime_ns, NowNs());
  ObjectInfo info = InfoOf(*index, *r);
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return info;
}

Status HeapImpl::SetType(ObjectId id, std::string_view type) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  Op op(this);
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  SHMHEAP_RETURN_IF_ERROR(SetTypeIndex(*index, type));
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return Status::Ok();
}

Status HeapImpl::Ref(ObjectId id) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  Op op(this);
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  if (holds_->NeedsReserve(2)) SHMHEAP_RETURN_IF_ERROR(holds_->Reserve(arena_.get(), log_.get(), 64));
  ObjectRecord* r = Record(*index);
  {
    std::lock_guard<std::mutex> g(holds_->mu());
    format::HoldEntry* e = holds_->FindOrInsert({*index + 1, format::kRefOwner}, log_.get());
    if (!e) return Status::NoSpace("hold table full");
    log_->SetAtomic(e->mode, static_cast<std::uint32_t>(format::kHoldRef));
    log_->SetAtomic(e->count, e->count + 1);
  }
  log_->Set(r->refs, r->refs + 1);
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return Status::Ok();
}

Status HeapImpl::Unref(ObjectId id) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  Op op(this);
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  ObjectRecord* r = Record(*index);
  {
    std::lock_guard<std::mutex> g(holds_->mu());
    format::HoldEntry* e = holds_->Find({*index + 1, format::kRefOwner});
    if (!e || e->count == 0) return Status::InvalidArgument("object is not referenced by this client");
    log_->SetAtomic(e->count, e->count - 1);
    if (e->count == 0) holds_->Remove(e, log_.get());
  }
  if (r->refs) log_->Set(r->refs, r->refs - 1);
  SHMHEAP_RETURN_IF_ERROR(MaybeFreeOrphan(*index));
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return Status::Ok();
}

Status HeapImpl::LockId(ObjectId id, LockMode mode, OwnerToken owner, std::int64_t timeout_ns,
                        const std::atomic<bool>* cancel) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  const std::int64_t deadline = timeout_ns < 0 ? -1 : timeout_ns == 0 ? 0 : MonotonicNs() + timeout_ns;
  auto g = locks_->Lock(*index, id.generation, owner, static_cast<format::HoldMode>(mode), deadline, cancel);
  return g.ok() ? Status::Ok() : g.status();
}

Status HeapImpl::Downgrade(ObjectId id, OwnerToken owner) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  return locks_->Downgrade(*index, owner);
}

Result<std::vector<Heap::LockHolder>> HeapImpl::LockHolders(ObjectId id) {
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  std::vector<LockHolder> out;
  for (std::uint32_t s : clients_->Attached()) {
    const format::ClientSlot* c = clients_->Get(s);
    if (s != slot_ && clients_->IsDead(s, read_only_ ? -1 : slot_)) continue;
    ForEachHold(*space_, *c, [&](format::HoldEntry& e) {
      const std::uint32_t held = LoadRelaxed(e.mode) & 0xFF;
      if (LoadRelaxed(e.record) != *index + 1 || (held != format::kHoldRead && held != format::kHoldWrite)) return;
      out.push_back(LockHolder{s, c->pid, held == format::kHoldWrite ? LockMode::kWrite : LockMode::kRead,
                               LoadRelaxed(e.owner), !read_only_ && s == slot_});
    });
  }
  return out;
}

std::vector<Heap::LockWaiter> HeapImpl::LockWaiters() {
  std::vector<LockWaiter> out;
  for (std::uint32_t s : clients_->Attached()) {
    if (s != slot_ && clients_->IsDead(s, read_only_ ? -1 : slot_)) continue;
    ForEachHold(*space_, *clients_->Get(s), [&](format::HoldEntry& e) {
      const std::uint32_t wanted = (LoadRelaxed(e.mode) >> 8) & 0xFF;
      if (wanted != format::kHoldRead && wanted != format::kHoldWrite) return;
      out.push_back(LockWaiter{s, LoadRelaxed(e.owner), LoadRelaxed(e.record),
                               wanted == format::kHoldWrite ? LockMode::kWrite : LockMode::kRead, !read_only_ && s == slot_});
    });
  }
  return out;
}

std::vector<ObjectInfo> HeapImpl::ListFrom(std::uint64_t cursor, std::size_t max, std::uint64_t* next) {
  std::vector<ObjectInfo> out;
  auto walk = [&] {
    const std::uint64_t high = records_->high();
    std::uint64_t i = cursor;
    for (; i < high && out.size() < max; ++i) {
      const ObjectRecord* r = Record(i);
      if (!r || LoadState(*r) != format::kRecordLive) continue;
      ObjectInfo info = InfoOf(i, *r);
      // A read-only client walks without the heap mutex: removed meanwhile?
      if (StillHolds(*r, info.id.generation, true)) out.push_back(std::move(info));
    }
    *next = i < high ? i : 0;
  };
  if (read_only_) {
    walk();
  } else {
    Op op(this);
    walk();
    op.Finish();
  }
  return out;
}

std::uint64_t HeapImpl::ObjectCount() {
  return AtomicField(space_->sb()->index_live).load(std::memory_order_relaxed);
}

}  // namespace shmheap
