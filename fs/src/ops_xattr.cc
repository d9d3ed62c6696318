// Handlers for extended attributes.
//
// Objects: user.shmheap.type (the PUPS type-information table; read/write),
// user.shmheap.version and user.shmheap.offset (read-only), and any other
// user.* attribute, stored in the heap.
// Heap directories (read-only, text): user.shmheap.map_show (PUPS map_show),
// user.shmheap.client_show (PUPS client_show) and user.shmheap.stat.
// Other namespaces are not supported (ENODATA to read, EOPNOTSUPP to write).
#include <sys/xattr.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "fs/src/filesystem.h"
#include "fs/src/ops.h"
#include "fs/src/reply.h"

namespace shmheap::fs {

namespace {

constexpr const char* kType = "user.shmheap.type";
constexpr const char* kVersion = "user.shmheap.version";
constexpr const char* kOffset = "user.shmheap.offset";
constexpr const char* kMapShow = "user.shmheap.map_show";
constexpr const char* kClientShow = "user.shmheap.client_show";
constexpr const char* kStat = "user.shmheap.stat";

bool IsUser(const std::string& name) { return name.rfind("user.", 0) == 0; }

std::string MapShow(Heap& heap) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof(line), "%-32s %14s %14s %-16s %10s %s\n", "NAME", "OFFSET", "SIZE", "TYPE", "VERSION",
                "LOCK");
  out += line;
  for (const auto& o : heap.List()) {
    std::snprintf(line, sizeof(line), "%-32s %14" PRIu64 " %14" PRIu64 " %-16s %10" PRIu64 " %s\n", o.name.c_str(),
                  o.offset, o.size, o.type.empty() ? "-" : o.type.c_str(), o.version, o.lock_state.c_str());
    out += line;
  }
  return out;
}

std::string ClientShow(Heap& heap) {
  std::string out = "SLOT       PID HOST                     BITS ATTACHED             STATE\n";
  char line[512];
  for (const auto& c : heap.Clients()) {
    std::time_t t = static_cast<std::time_t>(c.attach_time_ns / 1'000'000'000);
    char when[32] = "?";
    struct tm tm {};
    if (localtime_r(&t, &tm)) std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    std::snprintf(line, sizeof(line), "%-5u %8u %-24s %4u %-20s %s%s\n", c.slot, c.pid, c.host.c_str(), c.word_size,
                  when, c.alive ? "alive" : "dead", c.self ? " (shmheapfs)" : "");
    out += line;
  }
  return out;
}

std::string StatText(Heap& heap) {
  HeapStats s = heap.Stats();
  char buf[1024];
  std::snprintf(buf, sizeof(buf),
                "uuid %s\nsize %" PRIu64 "\nmax_size %" PRIu64 "\nobjects %" PRIu64 "\nobject_bytes %" PRIu64
                "\nfree_bytes %" PRIu64 "\ninternal_fragmentation %.4f\nexternal_fragmentation %.4f\nclients %u\n",
                s.uuid.c_str(), s.file_size, s.max_size, s.objects, s.object_bytes, s.free_bytes,
                s.internal_fragmentation, s.external_fragmentation, s.clients);
  return buf;
}

// The value of `name` on node `n`, or an errno.
Result<std::string> Value(Filesystem* fs, const Node& n, const std::string& name) {
  (void)fs;
  if (n.kind == Node::kHeap) {
    if (name == kMapShow) return MapShow(*n.heap->heap);
    if (name == kClientShow) return ClientShow(*n.heap->heap);
    if (name == kStat) return StatText(*n.heap->heap);
    return Status::NotFound(name);
  }
  if (n.kind != Node::kObject || !IsUser(name)) return Status::NotFound(name);
  Heap& heap = *n.heap->heap;
  if (name == kType || name == kVersion || name == kOffset) {
    auto info = heap.Stat(n.id);
    if (!info.ok()) return info.status();
    if (name == kVersion) return std::to_string(info->version);
    if (name == kOffset) return std::to_string(info->offset);
    if (info->type.empty()) return Status::NotFound(name);
    return info->type;
  }
  return heap.GetXattr(n.id, name);
}

void ReplyXattr(fuse_req_t req, const std::string& v, size_t size) {
  if (size == 0) return (void)fuse_reply_xattr(req, v.size());
  if (size < v.size()) return ReplyErrno(req, ERANGE);
  fuse_reply_buf(req, v.data(), v.size());
}

}  // namespace

void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) noexcept {
  Guarded(req, "getxattr", [&] {
    Filesystem* fs = FsOf(req);
    auto n = fs->Resolve(ino);
    if (!n.ok()) return ReplyError(req, n.status(), "getxattr");
    auto v = Value(fs, *n, name);
    if (!v.ok()) return ReplyErrno(req, v.code() == Code::kNotFound ? ENODATA : v.status().ToErrno());
    ReplyXattr(req, *v, size);
  });
}

void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) noexcept {
  Guarded(req, "listxattr", [&] {
    Filesystem* fs = FsOf(req);
    auto n = fs->Resolve(ino);
    if (!n.ok()) return ReplyError(req, n.status(), "listxattr");
    std::string list;
    auto add = [&](const std::string& s) {
      list += s;
      list.push_back('\0');
    };
    if (n->kind == Node::kHeap) {
      add(kMapShow);
      add(kClientShow);
      add(kStat);
    } else if (n->kind == Node::kObject) {
      Heap& heap = *n->heap->heap;
      auto info = heap.Stat(n->id);
      if (!info.ok()) return ReplyError(req, info.status(), "listxattr");
      if (!info->type.empty()) add(kType);
      add(kVersion);
      add(kOffset);
      auto names = heap.ListXattr(n->id);
      if (!names.ok()) return ReplyError(req, names.status(), "listxattr");
      for (const auto& x : *names) add(x);
    }
    ReplyXattr(req, list, size);
  });
}

void OpSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int flags) noexcept {
  Guarded(req, "setxattr", [&] {
    Filesystem* fs = FsOf(req);
    auto n = fs->Resolve(ino);
    if (!n.ok()) return ReplyError(req, n.status(), "setxattr");
    const std::string key = name;
    if (n->kind != Node::kObject) return ReplyErrno(req, IsUser(key) ? EPERM : EOPNOTSUPP);
    if (!IsUser(key)) return ReplyErrno(req, EOPNOTSUPP);
    if (key == kVersion || key == kOffset) return ReplyErrno(req, EPERM);  // read-only
    Heap& heap = *n->heap->heap;
    const std::string_view v(value, size);
    Status s;
    if (key == kType) {
      auto info = heap.Stat(n->id);
      if (!info.ok()) return ReplyError(req, info.status(), "setxattr");
      if ((flags & XATTR_CREATE) && !info->type.empty()) return ReplyErrno(req, EEXIST);
      if ((flags & XATTR_REPLACE) && info->type.empty()) return ReplyErrno(req, ENODATA);
      s = heap.SetType(n->id, v);
    } else {
      int f = ((flags & XATTR_CREATE) ? Heap::kXattrCreate : 0) | ((flags & XATTR_REPLACE) ? Heap::kXattrReplace : 0);
      s = heap.SetXattr(n->id, key, v, f);
    }
    if (s.Is(Code::kNotFound)) return ReplyErrno(req, ENODATA);
    if (s.Is(Code::kNoSpace)) return ReplyErrno(req, E2BIG);
    if (!s.ok()) return ReplyError(req, s, "setxattr");
    ReplyErrno(req, 0);
  });
}

void OpRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) noexcept {
  Guarded(req, "removexattr", [&] {
    Filesystem* fs = FsOf(req);
    auto n = fs->Resolve(ino);
    if (!n.ok()) return ReplyError(req, n.status(), "removexattr");
    const std::string key = name;
    if (n->kind != Node::kObject || !IsUser(key)) return ReplyErrno(req, n->kind == Node::kObject ? ENODATA : EPERM);
    if (key == kVersion || key == kOffset) return ReplyErrno(req, EPERM);
    Heap& heap = *n->heap->heap;
    Status s;
    if (key == kType) {
      auto info = heap.Stat(n->id);
      if (!info.ok()) return ReplyError(req, info.status(), "removexattr");
      if (info->type.empty()) return ReplyErrno(req, ENODATA);
      s = heap.SetType(n->id, "");
    } else {
      s = heap.RemoveXattr(n->id, key);
    }
    if (s.Is(Code::kNotFound)) return ReplyErrno(req, ENODATA);
    if (!s.ok()) return ReplyError(req, s, "removexattr");
    ReplyErrno(req, 0);
  });
}

}  // namespace shmheap::fs
