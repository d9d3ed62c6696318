// HeapImpl: extended attributes, kept per object in one chunk referenced by
// ObjectRecord::link:
//   u32 magic 'XATR', u32 count, then per attribute:
//   u16 name_len, u16 zero, u32 value_len, name bytes, value bytes, padding to 8.
// The chunk is rewritten whole on every change (attributes are small), so a
// change is one logged pointer swap.
#include <algorithm>
#include <cstring>

#include "heap/src/heap_impl.h"

namespace shmheap {

namespace {

constexpr std::uint32_t kXattrMagic = 0x52544158;  // "XATR"
constexpr std::size_t kMaxXattrBytes = 64 * 1024;
constexpr std::size_t kMaxXattrName = 255;

std::size_t Pad8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

}  // namespace

Result<HeapImpl::Xattrs> HeapImpl::LoadXattrs(std::uint64_t index, std::uint64_t* link_read) const {
  Xattrs out;
  const format::ObjectRecord* r = Record(index);
  const std::uint64_t link = LoadRelaxed(r->link);  // once: see LoadXattrsOf
  if (link_read) *link_read = link;
  if (!link) return out;
  const std::uint64_t cap = arena_->Capacity(link);
  const std::byte* p = space_->Bytes(link, cap);
  if (!p || cap < 8) return Status::Corruption("attribute block of record " + std::to_string(index));
  std::uint32_t magic, count;
  std::memcpy(&magic, p, 4);
  std::memcpy(&count, p + 4, 4);
  if (magic != kXattrMagic) return Status::Corruption("attribute block of record " + std::to_string(index));
  std::size_t pos = 8;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (pos + 8 > cap) return Status::Corruption("attribute block overrun in record " + std::to_string(index));
    std::uint16_t nlen;
    std::uint32_t vlen;
    std::memcpy(&nlen, p + pos, 2);
    std::memcpy(&vlen, p + pos + 4, 4);
    pos += 8;
    if (nlen > kMaxXattrName || vlen > kMaxXattrBytes || pos + nlen + vlen > cap) {
      return Status::Corruption("attribute block entry out of bounds in record " + std::to_string(index));
    }
    out.emplace_back(std::string(reinterpret_cast<const char*>(p + pos), nlen),
                     std::string(reinterpret_cast<const char*>(p + pos + nlen), vlen));
    pos = Pad8(pos + nlen + vlen);
  }
  return out;
}

Status HeapImpl::StoreXattrs(std::uint64_t index, const Xattrs& xattrs) {
  format::ObjectRecord* r = Record(index);
  std::size_t total = 8;
  for (const auto& [n, v] : xattrs) total = Pad8(total + 8 + n.size() + v.size());
  if (total > kMaxXattrBytes + 8) return Status::NoSpace("extended attributes exceed 64 KiB");
  std::uint64_t off = 0;
  if (!xattrs.empty()) {
    auto chunk = arena_->Allocate(total, index + 1);
    if (!chunk.ok()) return chunk.status();
    std::byte* p = space_->Bytes(*chunk, total);  // fresh chunk: unlogged
    std::memset(p, 0, total);
    auto count = static_cast<std::uint32_t>(xattrs.size());
    std::memcpy(p, &kXattrMagic, 4);
    std::memcpy(p + 4, &count, 4);
    std::size_t pos = 8;
    for (const auto& [n, v] : xattrs) {
      auto nlen = static_cast<std::uint16_t>(n.size());
      auto vlen = static_cast<std::uint32_t>(v.size());
      std::memcpy(p + pos, &nlen, 2);
      std::memcpy(p + pos + 4, &vlen, 4);
      std::memcpy(p + pos + 8, n.data(), n.size());
      std::memcpy(p + pos + 8 + n.size(), v.data(), v.size());
      pos = Pad8(pos + 8 + n.size() + v.size());
    }
    off = *chunk;
  }
  if (r->link) SHMHEAP_RETURN_IF_ERROR(arena_->Free(r->link));
  log_->Set(r->link, off);
  return Status::Ok();
}

Result<HeapImpl::Xattrs> HeapImpl::LoadXattrsOf(ObjectId id) {
  if (read_only_) {
    // No heap mutex for a read-only client: resolve, read the block, and
    // check that the record still is this object and still points at that
    // block, so that a record reused, or a block replaced (and perhaps
    // reused by another object) meanwhile, is read again, never reported.
    // Every offset LoadXattrs follows is bounds-checked.
    for (int attempt = 0; attempt < 8; ++attempt) {
      auto index = Resolve(id);
      if (!index.ok()) return index.status();
      std::uint64_t link = 0;
      auto all = LoadXattrs(*index, &link);
      SHMHEAP_RETURN_IF_ERROR(Resolve(id).status());
      std::atomic_thread_fence(std::memory_order_acquire);
      if (LoadRelaxed(Record(*index)->link) == link) return all;
    }
    return Status::Busy("extended attributes keep changing");
  }
  // Resolved under the heap mutex: the record cannot be freed and reused
  // between the check and the read.
  Op op(this);
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  auto all = LoadXattrs(*index);
  op.Finish();
  return all;
}

Result<std::string> HeapImpl::GetXattr(ObjectId id, std::string_view name) {
  auto all = LoadXattrsOf(id);
  if (!all.ok()) return all.status();
  for (const auto& [n, v] : *all) {
    if (n == name) return v;
  }
  return Status::NotFound("no attribute " + std::string(name));
}

Result<std::vector<std::string>> HeapImpl::ListXattr(ObjectId id) {
  auto all = LoadXattrsOf(id);
  if (!all.ok()) return all.status();
  std::vector<std::string> names;
  for (const auto& [n, v] : *all) names.push_back(n);
  return names;
}

Status HeapImpl::SetXattr(ObjectId id, std::string_view name, std::string_view value, int flags) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  if (name.empty() || name.size() > kMaxXattrName) return Status::InvalidArgument("bad attribute name");
  if (value.size() > kMaxXattrBytes) return Status::NoSpace("attribute value exceeds 64 KiB");
  Op op(this);
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  auto all = LoadXattrs(*index);
  if (!all.ok()) return all.status();
  auto it = std::find_if(all->begin(), all->end(), [&](const auto& kv) { return kv.first == name; });
  if (it != all->end() && (flags & kXattrCreate)) return Status::AlreadyExists(std::string(name));
  if (it == all->end() && (flags & kXattrReplace)) return Status::NotFound(std::string(name));
  if (it != all->end()) {
    it->second = std::string(value);
  } else {
    all->emplace_back(std::string(name), std::string(value));
  }
  SHMHEAP_RETURN_IF_ERROR(StoreXattrs(*index, *all));
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return Status::Ok();
}

Status HeapImpl::RemoveXattr(ObjectId id, std::string_view name) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  Op op(this);
  auto index = Resolve(id);
  if (!index.ok()) return index.status();
  auto all = LoadXattrs(*index);
  if (!all.ok()) return all.status();
  auto it = std::find_if(all->begin(), all->end(), [&](const auto& kv) { return kv.first == name; });
  if (it == all->end()) return Status::NotFound("no attribute " + std::string(name));
  all->erase(it);
  SHMHEAP_RETURN_IF_ERROR(StoreXattrs(*index, *all));
  SHMHEAP_RETURN_IF_ERROR(op.Commit());
  return Status::Ok();
}

}  // namespace shmheap
