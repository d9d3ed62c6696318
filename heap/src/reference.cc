// References between heaps by name (see <shmheap/reference.hpp>). Built on
// the public Heap API only: a reference is an ordinary object whose mode says
// S_IFLNK and whose bytes are the target text.
#include <shmheap/reference.hpp>

#include <string>

namespace shmheap {

namespace {

bool ValidComponent(std::string_view s) {
  return !s.empty() && s.size() <= 255 && s != "." && s != ".." && s.find('/') == std::string_view::npos;
}

std::string DirectoryOf(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The target text of the reference `info` describes, read while pinned.
Result<std::string> TargetOf(Heap& heap, const ObjectInfo& info) {
  if (!IsReferenceMode(info.attr.mode)) return Status::InvalidArgument("'" + info.name + "' is not a reference");
  if (info.size == 0 || info.size > kMaxReferenceTarget) {
    return Status::InvalidArgument("reference '" + info.name + "' has a target of " + std::to_string(info.size) +
                                   " bytes");
  }
  std::string text;
  auto n = heap.Read(info.id, 0, static_cast<std::size_t>(info.size), [&](std::span<const std::byte> b) {
    text.assign(reinterpret_cast<const char*>(b.data()), b.size());
  });
  if (!n.ok()) return n.status();
  return text;
}

}  // namespace

Result<ReferenceTarget> ParseReferenceTarget(std::string_view target) {
  if (target.empty()) return Status::InvalidArgument("empty reference target");
  if (target.size() > kMaxReferenceTarget) return Status::InvalidArgument("reference target longer than 4095 bytes");
  if (target.find('\0') != std::string_view::npos) return Status::InvalidArgument("reference target contains NUL");
  if (ValidComponent(target)) return ReferenceTarget{"", std::string(target)};
  // "../HEAP/OBJECT"
  if (target.substr(0, 3) == "../") {
    std::string_view rest = target.substr(3);
    const auto slash = rest.find('/');
    if (slash != std::string_view::npos) {
      std::string_view heap = rest.substr(0, slash), object = rest.substr(slash + 1);
      if (ValidComponent(heap) && heap.size() <= 250 && ValidComponent(object)) {
        return ReferenceTarget{std::string(heap), std::string(object)};
      }
    }
  }
  return Status::NotSupported("reference target '" + std::string(target) +
                              "' is neither OBJECT nor ../HEAP/OBJECT");
}

Result<ObjectId> CreateReference(Heap& heap, std::string_view name, std::string_view target, const ObjectAttr& attr) {
  auto parsed = ParseReferenceTarget(target);
  if (!parsed.ok()) return parsed.status();
  ObjectAttr a = attr;
  a.mode = kReferenceMode;
  return heap.CreateWith(name, std::as_bytes(std::span(target.data(), target.size())), a);
}

Result<std::string> ReadReference(Heap& heap, std::string_view name) {
  auto info = heap.Stat(name);
  if (!info.ok()) return info.status();
  return TargetOf(heap, *info);
}

Result<std::string> ReadReference(Heap& heap, ObjectId id) {
  auto info = heap.Stat(id);
  if (!info.ok()) return info.status();
  return TargetOf(heap, *info);
}

Result<Resolved> Resolve(Heap& heap, std::string_view name) {
  Resolved out;
  out.heap = &heap;
  out.object = std::string(name);
  for (int hops = 0;; ++hops) {
    auto info = out.heap->Stat(out.object);
    if (!info.ok()) return info.status();
    if (!IsReferenceMode(info->attr.mode)) {
      auto data = out.heap->Find(out.object);
      if (!data.ok()) return data.status();
      out.data = *data;
      return out;
    }
    if (hops == kMaxReferenceHops) {
      return Status::InvalidArgument("more than " + std::to_string(kMaxReferenceHops) + " references from '" +
                                     std::string(name) + "'");
    }
    auto text = TargetOf(*out.heap, *info);
    if (!text.ok()) return text.status();
    auto target = ParseReferenceTarget(*text);
    if (!target.ok()) return target.status();
    out.object = target->object;
    if (target->heap.empty()) continue;
    const std::string path = DirectoryOf(out.heap->path()) + "/" + target->heap + ".heap";
    if (path == out.heap->path()) continue;
    if (path == heap.path()) {  // back to where we started: no second attachment
      out.attached.reset();
      out.heap = &heap;
      continue;
    }
    Options o;
    // A read-only client follows references read-only (it may well lack
    // write permission on the other heap's file).
    o.mode = heap.read_only() ? OpenMode::kReadOnly : OpenMode::kOpen;
    auto next = Heap::Open(path, o);
    if (!next.ok()) return next.status().WithContext("reference '" + std::string(name) + "'");
    out.attached = std::move(*next);
    out.heap = out.attached.get();
  }
}

}  // namespace shmheap
