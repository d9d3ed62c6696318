// HeapImpl: object locks by name and by id, and LockGuard.
#include "heap/src/heap_impl.h"

namespace shmheap {

LockGuard::LockGuard(LockGuard&& other) noexcept
    : heap_(other.heap_), id_(other.id_), owner_(other.owner_), data_(other.data_) {
  other.heap_ = nullptr;
}

LockGuard& LockGuard::operator=(LockGuard&& other) noexcept {
  if (this != &other) {
    (void)Unlock();
    heap_ = other.heap_;
    id_ = other.id_;
    owner_ = other.owner_;
    data_ = other.data_;
    other.heap_ = nullptr;
  }
  return *this;
}

LockGuard::~LockGuard() { (void)Unlock(); }

Status LockGuard::Unlock() {
  if (!heap_) return Status::Ok();
  Heap* h = heap_;
  heap_ = nullptr;
  return h->Unlock(id_, owner_);
}

Result<HeapImpl::Locked> HeapImpl::LockName(std::string_view name, LockMode mode, OwnerToken owner,
                                            std::int64_t timeout_ns) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  if (mode != LockMode::kRead && mode != LockMode::kWrite) return Status::InvalidArgument("bad lock mode");
  const std::int64_t deadline = timeout_ns < 0 ? -1 : timeout_ns == 0 ? 0 : MonotonicNs() + timeout_ns;
  for (;;) {
    auto current = FindCurrent(name);
    if (!current.ok()) return current.status();
    const std::uint64_t index = current->index;
    const ObjectId id{index + 1, current->generation};
    auto grant = locks_->Lock(index, id.generation, owner, static_cast<format::HoldMode>(mode), deadline);
    if (grant.code() == Code::kStale) continue;  // the name moved to another object meanwhile
    if (!grant.ok()) return grant.status();
    // A nested lock keeps the version the first one pinned; if the object was
    // replaced since, the current size says nothing about that version.
    // TODO(shmheapfs): keep the pinned version's own size in the hold entry;
    // until then the span is clipped to the pinned chunk, never past it.
    if (grant->data_off != AtomicField(Record(index)->data_off).load()) {
      grant->size = std::min<std::uint64_t>(grant->size, arena_->Capacity(grant->data_off));
    }
    std::byte* p = space_->Bytes(grant->data_off, grant->size);
    if (!p && grant->size) {
      (void)Unlock(id, owner);
      return Status::Corruption("object '" + std::string(name) + "' has out-of-bounds data");
    }
    return Locked{id, std::span<std::byte>(p, grant->size)};
  }
}

Result<std::span<std::byte>> HeapImpl::LockRaw(std::string_view name, LockMode mode, OwnerToken owner,
                                               std::int64_t timeout_ns) {
  auto l = LockName(name, mode, owner, timeout_ns);
  if (!l.ok()) return l.status();
  return l->data;
}

Result<LockGuard> HeapImpl::Lock(std::string_view name, LockMode mode, OwnerToken owner,
                                 std::optional<std::chrono::nanoseconds> timeout) {
  std::int64_t t = -1;
  if (timeout) t = std::max<std::int64_t>(1, timeout->count());
  auto l = LockName(name, mode, owner, t);
  if (!l.ok()) return l.status();
  return LockGuard(this, l->id, owner, l->data);
}

Result<LockGuard> HeapImpl::TryLock(std::string_view name, LockMode mode, OwnerToken owner) {
  auto l = LockName(name, mode, owner, 0);
  if (!l.ok()) return l.status();
  return LockGuard(this, l->id, owner, l->data);
}

Status HeapImpl::Unlock(ObjectId id, OwnerToken owner) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  if (id.inode == 0) return Status::InvalidArgument("invalid object id");
  auto rel = locks_->Unlock(id.inode - 1, owner);
  if (!rel.ok()) return rel.status();
  if (rel->released) return AfterRelease(id.inode - 1, *rel);
  return Status::Ok();
}

Status HeapImpl::UnlockByName(std::string_view name, OwnerToken owner, std::span<std::byte>* data) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  auto c = FindCurrent(name);
  if (!c.ok()) return c.status();
  if (data) {
    auto d = DataOf(*c, name);
    *data = d.ok() ? *d : std::span<std::byte>();
  }
  return Unlock(ObjectId{c->index + 1, c->generation}, owner);
}

}  // namespace shmheap
