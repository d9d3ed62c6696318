// Handlers for the session and for entries: init, destroy, lookup, forget,
// getattr, setattr, statfs.
#include <sys/statvfs.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "fs/src/filesystem.h"
#include "fs/src/log.h"
#include "fs/src/node_id.h"
#include "fs/src/ops.h"
#include "fs/src/reply.h"

namespace shmheap::fs {

namespace {

std::int64_t TimespecNs(const struct timespec& ts) {
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t NowNs() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return TimespecNs(ts);
}

// The child `name` of directory node `dir`, for lookup.
Result<Node> Child(Filesystem* fs, const Node& dir, const std::string& name) {
  if (name == "." || (name == ".." && dir.kind == Node::kRoot)) return dir;
  if (name == "..") return fs->Resolve(kRootNode);  // heap directories live in the root
  if (dir.kind == Node::kRoot) {
    auto heap = fs->registry().ByName(name);
    if (!heap) {
      fs->registry().Scan();  // created by a library client since the last scan?
      heap = fs->registry().ByName(name);
    }
    if (!heap) return Status::NotFound(name);
    if (!heap->heap) return heap->error;
    Node n;
    n.kind = Node::kHeap;
    n.ino = HeapNode(heap->slot);
    n.heap = heap;
    return n;
  }
  if (dir.kind == Node::kObject) return Status::InvalidArgument("not a directory");
  auto id = dir.heap->heap->Lookup(name);
  if (!id.ok()) return id.status();
  return Node::Object(dir.heap, *id);
}

}  // namespace

void OpInit(void* userdata, struct fuse_conn_info* conn) noexcept {
  auto* fs = static_cast<Filesystem*>(userdata);
  if (conn->capable & FUSE_CAP_EXPORT_SUPPORT) conn->want |= FUSE_CAP_EXPORT_SUPPORT;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  // Coherence matters more than write speed: no writeback cache, so a
  // write(2) is in the heap when it returns.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // The daemon decides when cached pages are stale (the version watcher, and
  // keep_cache at open): a changed mtime on an attribute refresh - which
  // every write through the mount causes - must not drop the whole cache.
  conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
  // Set-ID bits: not FUSE_CAP_HANDLE_KILLPRIV (v1 would make us clear them
  // on every write, whoever writes). KernelIo asks for KILLPRIV_V2 instead,
  // which libfuse 3.14 cannot (kernel_io.h, setid.h).
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
  // Write payloads stay in a pipe and are spliced into the backing file.
  // libfuse sizes its pipe to max_write plus a 4 KiB header, and without
  // CAP_SYS_RESOURCE a pipe cannot exceed fs.pipe-max-size (1 MiB by
  // default): at max_write = 1 MiB it silently falls back to read(2) and a
  // third copy. 512 KiB writes splice everywhere and measured as fast.
  if (conn->capable & FUSE_CAP_SPLICE_READ) conn->want |= FUSE_CAP_SPLICE_READ;
  // Read replies are spliced from the backing file, for the same reason
  // sized to fit a pipe.
  if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want |= FUSE_CAP_SPLICE_WRITE;
  if (conn->capable & FUSE_CAP_SPLICE_MOVE) conn->want |= FUSE_CAP_SPLICE_MOVE;
  conn->max_write = 512u << 10;
  // The kernel caps this at its default window (read_ahead.h): the window
  // is raised through sysfs at the first open instead.
  conn->max_readahead = 512u << 10;
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  Log()->info("mounted {} (heaps in {}, protocol {}.{})", fs->options().mountpoint, fs->options().heapdir,
              conn->proto_major, conn->proto_minor);
}

void OpDestroy(void* userdata) noexcept {
  GuardedNoReply("destroy", [&] {
    auto* fs = static_cast<Filesystem*>(userdata);
    Log()->info("unmounting {}", fs->options().mountpoint);
  });
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept {
  Guarded(req, "lookup", [&] {
    Filesystem* fs = FsOf(req);
    auto dir = fs->Resolve(parent);
    if (!dir.ok()) return ReplyError(req, dir.status(), "lookup");
    if (std::strlen(name) > 255) return ReplyErrno(req, ENAMETOOLONG);
    auto child = Child(fs, *dir, name);
    if (!child.ok()) {
      if (child.code() == Code::kInvalidArgument && dir->kind != Node::kObject) return ReplyErrno(req, ENOENT);
      if (child.code() == Code::kInvalidArgument) return ReplyErrno(req, ENOTDIR);
      return ReplyError(req, child.status(), "lookup");
    }
    auto e = fs->Entry(*child);
    if (!e.ok()) return ReplyError(req, e.status(), "lookup");
    fs->ReplyEntry(req, *e);
  });
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) noexcept {
  GuardedNoReply("forget", [&] { FsOf(req)->Forget(ino, nlookup); });
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, struct fuse_forget_data* forgets) noexcept {
  GuardedNoReply("forget_multi", [&] {
    for (size_t i = 0; i < count; ++i) FsOf(req)->Forget(forgets[i].ino, forgets[i].nlookup);
  });
  fuse_reply_none(req);
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info*) noexcept {
  Guarded(req, "getattr", [&] {
    Filesystem* fs = FsOf(req);
    auto n = fs->Resolve(ino);
    if (!n.ok()) return ReplyError(req, n.status(), "getattr");
    std::uint64_t version = Filesystem::kNoVersion;
    auto st = fs->StatNode(*n, &version);
    if (!st.ok()) return ReplyError(req, st.status(), "getattr");
    fs->NoteAttrs(ino, version);
    fuse_reply_attr(req, &*st, Filesystem::kAttrTimeout);
  });
}

void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, struct fuse_file_info*) noexcept {
  Guarded(req, "setattr", [&] {
    Filesystem* fs = FsOf(req);
    auto n = fs->Resolve(ino);
    if (!n.ok()) return ReplyError(req, n.status(), "setattr");
    if (n->kind != Node::kObject) {
      // Directories: permissions, owner and times are those of the backing
      // file (or of heapdir for the root).
      if (to_set & FUSE_SET_ATTR_SIZE) return ReplyErrno(req, EISDIR);
      const std::string path =
          n->kind == Node::kRoot ? fs->registry().heapdir() : fs->registry().PathOf(n->heap->name);
      unsigned mode = attr->st_mode;
      std::uint32_t uid = attr->st_uid, gid = attr->st_gid;
      if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
        Status s = SetPathAttr(path, (to_set & FUSE_SET_ATTR_MODE) ? &mode : nullptr,
                               (to_set & FUSE_SET_ATTR_UID) ? &uid : nullptr,
                               (to_set & FUSE_SET_ATTR_GID) ? &gid : nullptr);
        if (!s.ok()) return ReplyError(req, s, "setattr");
      }
      if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
        struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
        if (to_set & FUSE_SET_ATTR_ATIME) ts[0] = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? timespec{0, UTIME_NOW} : attr->st_atim;
        if (to_set & FUSE_SET_ATTR_MTIME) ts[1] = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? timespec{0, UTIME_NOW} : attr->st_mtim;
        if (::utimensat(AT_FDCWD, path.c_str(), ts, 0) != 0) return ReplyErrno(req, errno);
      }
    } else {
      Filesystem::KernelChange change(fs, ino);
      Heap& heap = *n->heap->heap;
      const auto before = heap.Stat(n->id);
      // Under KILLPRIV_V2 the kernel leaves set-ID clearing on truncate and
      // chown to us (kernel_io.h). A chown(2) arrives as a change of owner
      // or group, or, for chown(f, -1, -1), as a SETATTR that changes
      // nothing (its ctime is sent only with a write-back cache, which we
      // do not use); an explicit chmod is never part of one.
      const bool chown = (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) || to_set == 0;
      if (fs->kernel_io().killpriv_v2() && !(to_set & FUSE_SET_ATTR_MODE) && (chown || (to_set & FUSE_SET_ATTR_SIZE))) {
        Status s = fs->DropSetIdBits(req, *n, chown ? SetIdCause::kChown : SetIdCause::kModify, false);
        if (!s.ok()) return ReplyError(req, s, "setattr");
      }
      if (to_set & FUSE_SET_ATTR_SIZE) {
        Status s = heap.Truncate(n->id, static_cast<std::uint64_t>(attr->st_size));
        if (!s.ok()) return ReplyError(req, s, "truncate");
      }
      Heap::AttrChange c;
      if (to_set & FUSE_SET_ATTR_MODE) c.mode = static_cast<std::uint32_t>(attr->st_mode & 07777);
      if (to_set & FUSE_SET_ATTR_UID) c.uid = attr->st_uid;
      if (to_set & FUSE_SET_ATTR_GID) c.gid = attr->st_gid;
      if (to_set & FUSE_SET_ATTR_ATIME)
        c.atime_ns = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? NowNs() : TimespecNs(attr->st_atim);
      if (to_set & FUSE_SET_ATTR_MTIME)
        c.mtime_ns = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? NowNs() : TimespecNs(attr->st_mtim);
      if (c.mode || c.uid || c.gid || c.atime_ns || c.mtime_ns || (to_set & FUSE_SET_ATTR_CTIME)) {
        auto info = heap.SetAttr(n->id, c);
        if (!info.ok()) return ReplyError(req, info.status(), "setattr");
      }
      if (auto v = heap.Stat(n->id); v.ok() && before.ok()) fs->NoteOwnChange(ino, before->version, v->version);
    }
    std::uint64_t version = Filesystem::kNoVersion;
    auto st = fs->StatNode(*n, &version);
    if (!st.ok()) return ReplyError(req, st.status(), "setattr");
    fs->NoteAttrs(ino, version);
    fuse_reply_attr(req, &*st, Filesystem::kAttrTimeout);
  });
}

void OpStatfs(fuse_req_t req, fuse_ino_t) noexcept {
  Guarded(req, "statfs", [&] {
    Filesystem* fs = FsOf(req);
    std::uint64_t max = 0, used = 0, objects = 0;
    for (const auto& e : fs->registry().List()) {
      if (!e->heap) continue;
      HeapStats s = e->heap->Stats();
      max += s.max_size;
      used += s.file_size - s.free_bytes;
      objects += s.objects;
    }
    struct statvfs disk {};
    std::uint64_t disk_avail = ~0ull;
    if (::statvfs(fs->registry().heapdir().c_str(), &disk) == 0) {
      disk_avail = static_cast<std::uint64_t>(disk.f_bavail) * disk.f_frsize;
    }
    const std::uint64_t bsize = 4096;
    std::uint64_t avail = std::min(max > used ? max - used : 0, disk_avail);
    struct statvfs st {};
    st.f_bsize = bsize;
    st.f_frsize = bsize;
    st.f_blocks = (used + avail) / bsize;
    st.f_bfree = avail / bsize;
    st.f_bavail = avail / bsize;
    st.f_files = objects + 1'000'000;
    st.f_ffree = 1'000'000;
    st.f_favail = 1'000'000;
    st.f_namemax = 255;
    fuse_reply_statfs(req, &st);
  });
}

}  // namespace shmheap::fs
