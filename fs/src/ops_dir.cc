// Handlers for directories: mkdir/rmdir (heaps), mknod/symlink/unlink/rename
// (objects, and heaps at the root), readlink (references),
// opendir/readdir(plus)/releasedir.
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include <shmheap/reference.hpp>

#include "fs/src/filesystem.h"
#include "fs/src/log.h"
#include "fs/src/node_id.h"
#include "fs/src/ops.h"
#include "fs/src/reply.h"

namespace shmheap::fs {

namespace {

// The owner of a new object or heap: the caller, or with a setgid parent
// directory the directory's group.
ObjectAttr NewAttr(fuse_req_t req, Filesystem* fs, const Node& dir, mode_t mode) {
  const struct fuse_ctx* ctx = fuse_req_ctx(req);
  ObjectAttr a{static_cast<std::uint32_t>(mode & 07777), ctx->uid, ctx->gid};
  if (auto st = fs->StatNode(dir); st.ok() && (st->st_mode & S_ISGID)) a.gid = st->st_gid;
  return a;
}

}  // namespace

void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) noexcept {
  Guarded(req, "mkdir", [&] {
    Filesystem* fs = FsOf(req);
    auto dir = fs->Resolve(parent);
    if (!dir.ok()) return ReplyError(req, dir.status(), "mkdir");
    if (dir->kind != Node::kRoot) return ReplyErrno(req, EPERM);  // no subdirectories inside a heap
    if (!ValidHeapName(name)) return ReplyErrno(req, std::strlen(name) > 250 ? ENAMETOOLONG : EINVAL);
    ObjectAttr a = NewAttr(req, fs, *dir, mode);
    auto heap = fs->registry().Create(name, a.mode, a.uid, a.gid);
    if (!heap.ok()) return ReplyError(req, heap.status(), "mkdir");
    auto n = fs->Resolve(HeapNode((*heap)->slot));
    if (!n.ok()) return ReplyError(req, n.status(), "mkdir");
    auto e = fs->Entry(*n);
    if (!e.ok()) return ReplyError(req, e.status(), "mkdir");
    fs->ReplyEntry(req, *e);
  });
}

void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept {
  Guarded(req, "rmdir", [&] {
    Filesystem* fs = FsOf(req);
    auto dir = fs->Resolve(parent);
    if (!dir.ok()) return ReplyError(req, dir.status(), "rmdir");
    if (dir->kind != Node::kRoot) {
      auto heap = fs->HeapOf(*dir);
      bool exists = heap.ok() && (*heap)->Lookup(name).ok();
      return ReplyErrno(req, exists ? ENOTDIR : ENOENT);
    }
    ReplyErrno(req, fs->registry().Remove(name));
  });
}

void OpMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t) noexcept {
  Guarded(req, "mknod", [&] {
    Filesystem* fs = FsOf(req);
    if (!S_ISREG(mode)) return ReplyErrno(req, EPERM);  // only regular files (objects) exist here
    auto dir = fs->Resolve(parent);
    if (!dir.ok()) return ReplyError(req, dir.status(), "mknod");
    auto heap = fs->HeapOf(*dir);
    if (!heap.ok()) return ReplyErrno(req, EPERM);
    auto id = (*heap)->Create(name, 0, NewAttr(req, fs, *dir, mode));
    if (!id.ok()) return ReplyError(req, id.status(), "mknod");
    Node n = Node::Object(dir->heap, *id);
    auto e = fs->Entry(n);
    if (!e.ok()) return ReplyError(req, e.status(), "mknod");
    fs->ReplyEntry(req, *e);
  });
}

void OpSymlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) noexcept {
  Guarded(req, "symlink", [&] {
    Filesystem* fs = FsOf(req);
    auto dir = fs->Resolve(parent);
    if (!dir.ok()) return ReplyError(req, dir.status(), "symlink");
    auto heap = fs->HeapOf(*dir);
    if (!heap.ok()) return ReplyErrno(req, dir->kind == Node::kRoot ? EPERM : ENOTDIR);
    const std::string_view target(link);
    if (target.empty() || target.size() > kMaxReferenceTarget) return ReplyErrno(req, ENAMETOOLONG);
    // Any target text is stored, as on a local file system; library clients
    // follow the ones that name an object (<shmheap/reference.hpp>).
    ObjectAttr a = NewAttr(req, fs, *dir, 0777);
    a.mode = kReferenceMode;
    auto id = (*heap)->CreateWith(name, std::as_bytes(std::span(target.data(), target.size())), a);
    if (!id.ok()) return ReplyError(req, id.status(), "symlink");
    Node n = Node::Object(dir->heap, *id);
    auto e = fs->Entry(n);
    if (!e.ok()) return ReplyError(req, e.status(), "symlink");
    fs->ReplyEntry(req, *e);
  });
}

void OpReadlink(fuse_req_t req, fuse_ino_t ino) noexcept {
  Guarded(req, "readlink", [&] {
    Filesystem* fs = FsOf(req);
    auto n = fs->Resolve(ino);
    if (!n.ok()) return ReplyError(req, n.status(), "readlink");
    if (n->kind != Node::kObject) return ReplyErrno(req, EINVAL);
    auto text = ReadReference(*n->heap->heap, n->id);  // EINVAL for a regular object
    if (!text.ok()) return ReplyError(req, text.status(), "readlink");
    fuse_reply_readlink(req, text->c_str());
  });
}

void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept {
  Guarded(req, "unlink", [&] {
    Filesystem* fs = FsOf(req);
    auto dir = fs->Resolve(parent);
    if (!dir.ok()) return ReplyError(req, dir.status(), "unlink");
    if (dir->kind == Node::kRoot) {
      return ReplyErrno(req, fs->registry().ByName(name) ? EISDIR : ENOENT);
    }
    auto heap = fs->HeapOf(*dir);
    if (!heap.ok()) return ReplyErrno(req, ENOTDIR);
    // An object still open keeps its data until the last close (the daemon
    // holds a reference per open file). Unlike a rename over a name, an
    // unlink does not keep it for the kernel (KeepForKernel): its space comes
    // back at once, and an open that raced the unlink gets ESTALE, which the
    // kernel retries as a fresh lookup (ENOENT).
    Status s = (*heap)->Remove(name);
    if (!s.ok()) return ReplyError(req, s, "unlink");
    ReplyErrno(req, 0);
  });
}

void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
              unsigned int flags) noexcept {
  Guarded(req, "rename", [&] {
    Filesystem* fs = FsOf(req);
    if (flags & ~static_cast<unsigned>(RENAME_NOREPLACE)) return ReplyErrno(req, EINVAL);  // no RENAME_EXCHANGE
    const bool no_replace = flags & RENAME_NOREPLACE;
    auto from = fs->Resolve(parent);
    auto to = fs->Resolve(newparent);
    if (!from.ok()) return ReplyError(req, from.status(), "rename");
    if (!to.ok()) return ReplyError(req, to.status(), "rename");
    if (from->kind == Node::kRoot && to->kind == Node::kRoot) {
      return ReplyErrno(req, fs->registry().Rename(name, newname, no_replace));
    }
    if (from->kind != Node::kHeap || to->kind != Node::kHeap) return ReplyErrno(req, EXDEV);
    if (from->heap != to->heap) return ReplyErrno(req, EXDEV);  // objects cannot move between heaps
    // The object a rename over `newname` unlinks stays readable for the
    // kernel's references to it (KeepForKernel).
    if (!no_replace) {
      if (auto victim = to->heap->heap->Lookup(newname); victim.ok()) {
        fs->KeepForKernel(Node::Object(to->heap, *victim));
      }
    }
    Status s = from->heap->heap->Rename(name, newname, no_replace);
    if (!s.ok()) return ReplyError(req, s, "rename");
    ReplyErrno(req, 0);
  });
}

void OpOpendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) noexcept {
  Guarded(req, "opendir", [&] {
    Filesystem* fs = FsOf(req);
    auto n = fs->Resolve(ino);
    if (!n.ok()) return ReplyError(req, n.status(), "opendir");
    if (n->kind == Node::kObject) return ReplyErrno(req, ENOTDIR);
    if (n->kind == Node::kRoot) fs->registry().Scan();
    fi->fh = 0;
    fi->cache_readdir = 0;
    fuse_reply_open(req, fi);
  });
}

namespace {

// Fills one readdir(plus) reply. Offsets: 1 = after ".", 2 = after "..";
// heap directories (root): 3 + position in name order; objects: 2 + inode,
// so a listing resumes in record order and survives concurrent change.
void DoReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus) {
  Filesystem* fs = FsOf(req);
  auto n = fs->Resolve(ino);
  if (!n.ok()) return ReplyError(req, n.status(), "readdir");
  if (n->kind == Node::kObject) return ReplyErrno(req, ENOTDIR);
  std::vector<char> buf(size);
  size_t used = 0;
  // Returns false when the buffer is full.
  auto add = [&](const char* name, const struct stat& st, const Node* child, off_t next,
                 std::uint64_t version = Filesystem::kNoVersion) {
    size_t len;
    if (plus) {
      fuse_entry_param e{};
      e.attr = st;
      if (child) {
        e.ino = child->ino;
        e.generation = child->kind == Node::kObject ? child->id.generation : 0;
        e.attr_timeout = Filesystem::kAttrTimeout;
        e.entry_timeout = Filesystem::kEntryTimeout;
      }
      len = fuse_add_direntry_plus(req, buf.data() + used, size - used, name, &e, next);
      if (len <= size - used && child) fs->Remember(child->ino, e.generation, version);
    } else {
      len = fuse_add_direntry(req, buf.data() + used, size - used, name, &st, next);
    }
    if (len > size - used) return false;
    used += len;
    return true;
  };
  struct stat dot {};
  dot.st_mode = S_IFDIR;
  if (off < 1) {
    dot.st_ino = ino;
    if (!add(".", dot, nullptr, 1)) return (void)fuse_reply_buf(req, buf.data(), used);
  }
  if (off < 2) {
    dot.st_ino = kRootNode;
    if (!add("..", dot, nullptr, 2)) return (void)fuse_reply_buf(req, buf.data(), used);
  }
  if (n->kind == Node::kRoot) {
    auto heaps = fs->registry().List();
    for (size_t i = off < 3 ? 0 : static_cast<size_t>(off - 2); i < heaps.size(); ++i) {
      Node child{Node::kHeap, HeapNode(heaps[i]->slot), heaps[i], {}};
      struct stat st {};
      st.st_ino = child.ino;
      st.st_mode = S_IFDIR;
      if (plus) {
        if (!heaps[i]->heap) continue;  // unavailable heaps are listed by readdir only
        auto full = fs->StatNode(child);
        if (!full.ok()) continue;
        st = *full;
      }
      if (!add(heaps[i]->name.c_str(), st, &child, static_cast<off_t>(i + 3))) break;
    }
    return (void)fuse_reply_buf(req, buf.data(), used);
  }
  Heap& heap = *n->heap->heap;
  std::uint64_t cursor = off < 3 ? 0 : static_cast<std::uint64_t>(off - 2);
  while (cursor != ~0ull) {
    std::uint64_t next = 0;
    auto batch = heap.ListFrom(cursor, 64, &next);
    for (const ObjectInfo& info : batch) {
      const Node child = Node::Object(n->heap, info.id);
      if (child.ino == 0) continue;  // no node id for it (node_id.h); Entry refuses it too
      if (!add(info.name.c_str(), fs->StatObject(*n, info), &child, static_cast<off_t>(info.id.inode + 2),
               info.version)) {
        return (void)fuse_reply_buf(req, buf.data(), used);
      }
    }
    cursor = next == 0 ? ~0ull : next;
  }
  fuse_reply_buf(req, buf.data(), used);
}

}  // namespace

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info*) noexcept {
  Guarded(req, "readdir", [&] { DoReaddir(req, ino, size, off, false); });
}

void OpReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info*) noexcept {
  Guarded(req, "readdirplus", [&] { DoReaddir(req, ino, size, off, true); });
}

void OpReleasedir(fuse_req_t req, fuse_ino_t, struct fuse_file_info*) noexcept {
  Guarded(req, "releasedir", [&] { ReplyErrno(req, 0); });
}

void OpFsyncdir(fuse_req_t req, fuse_ino_t ino, int, struct fuse_file_info*) noexcept {
  Guarded(req, "fsyncdir", [&] {
    Filesystem* fs = FsOf(req);
    auto n = fs->Resolve(ino);
    if (!n.ok()) return ReplyError(req, n.status(), "fsyncdir");
    if (n->kind == Node::kHeap) {
      Status s = n->heap->heap->Flush();
      if (!s.ok()) return ReplyError(req, s, "fsyncdir");
    }
    ReplyErrno(req, 0);
  });
}

}  // namespace shmheap::fs
