// Handlers for object files: create, open, read, write, flush, release,
// fsync, fallocate. Reads are answered straight from the mapped heap (the
// object's version is pinned while libfuse copies it to the kernel); writes
// land in the heap before the reply, so they are visible to library
// clients at once.
#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <cerrno>

#include "fs/src/filesystem.h"
#include "fs/src/lock_service.h"
#include "fs/src/log.h"
#include "fs/src/node_id.h"
#include "fs/src/ops.h"
#include "fs/src/reply.h"

namespace shmheap::fs {

namespace {

// Opens node `n` for `fi`: takes a reference (unlink-while-open keeps the
// data), decides whether the kernel may keep its cached pages, replies.
void ReplyOpened(fuse_req_t req, Filesystem* fs, const Node& n, struct fuse_file_info* fi,
                 const fuse_entry_param* created) {
  fs->read_ahead().ApplyOnce();  // before the kernel sizes this file's window
  Heap& heap = *n.heap->heap;
  // A CREATE whose reply never reaches the kernel must not leave Entry's
  // lookup count behind (Filesystem::ReplyEntry).
  auto fail = [&](const Status& s) {
    if (created) fs->Forget(created->ino, 1);
    ReplyError(req, s, "open");
  };
  Status s = heap.Ref(n.id);
  if (!s.ok()) return fail(s);
  fuse_entry_param entry{};
  if (created) entry = *created;
  if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY) {
    Status t = heap.Truncate(n.id, 0);
    // With atomic_o_trunc the kernel skips its own truncating SETATTR, and
    // the set-ID clearing with it (setid.h).
    if (t.ok()) t = fs->DropSetIdBits(req, n, SetIdCause::kModify, true);
    if (!t.ok()) {
      (void)heap.Unref(n.id);
      return fail(t);
    }
    // A CREATE that found the object: the entry was made before the
    // truncation, and the kernel would cache its size and set-ID bits.
    if (created) {
      std::uint64_t version = Filesystem::kNoVersion;
      if (auto st = fs->StatNode(n, &version); st.ok()) {
        entry.attr = *st;
        fs->NoteAttrs(n.ino, version);
      }
    }
  }
  auto file = std::make_shared<OpenFile>();
  file->node = n;
  file->flags = fi->flags;
  auto info = heap.Stat(n.id);
  // Keep the kernel's page cache only if the object did not change since the
  // kernel last saw it.
  fi->keep_cache = info.ok() && fs->NoteVersion(n.ino, info->version);
  if (info.ok() && !created) fs->RefreshAttrsIfStale(n.ino, info->version);
  fi->direct_io = 0;
  fi->fh = fs->AddHandle(std::move(file));
  int rc = created ? fuse_reply_create(req, &entry, fi) : fuse_reply_open(req, fi);
  if (rc == -ENOENT) {  // the opener was interrupted: undo
    fs->RemoveHandle(fi->fh);
    (void)heap.Unref(n.id);
    if (created) fs->Forget(created->ino, 1);
  }
}

}  // namespace

void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, struct fuse_file_info* fi) noexcept {
  Guarded(req, "create", [&] {
    Filesystem* fs = FsOf(req);
    auto dir = fs->Resolve(parent);
    if (!dir.ok()) return ReplyError(req, dir.status(), "create");
    auto heap = fs->HeapOf(*dir);
    if (!heap.ok()) return ReplyErrno(req, dir->kind == Node::kRoot ? EPERM : ENOTDIR);
    const struct fuse_ctx* ctx = fuse_req_ctx(req);
    ObjectAttr a{static_cast<std::uint32_t>(mode & 07777), ctx->uid, ctx->gid};
    if (auto st = fs->StatNode(*dir); st.ok() && (st->st_mode & S_ISGID)) a.gid = st->st_gid;
    auto id = (*heap)->Create(name, 0, a);
    if (!id.ok() && id.code() == Code::kAlreadyExists && !(fi->flags & O_EXCL)) id = (*heap)->Lookup(name);
    if (!id.ok()) return ReplyError(req, id.status(), "create");
    Node n = Node::Object(dir->heap, *id);
    auto e = fs->Entry(n);
    if (!e.ok()) return ReplyError(req, e.status(), "create");
    ReplyOpened(req, fs, n, fi, &*e);
  });
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) noexcept {
  Guarded(req, "open", [&] {
    Filesystem* fs = FsOf(req);
    auto n = fs->Resolve(ino);
    if (!n.ok()) return ReplyError(req, n.status(), "open");
    if (n->kind != Node::kObject) return ReplyErrno(req, EISDIR);
    ReplyOpened(req, fs, *n, fi, nullptr);
  });
}

void OpRead(fuse_req_t req, fuse_ino_t, size_t size, off_t off, struct fuse_file_info* fi) noexcept {
  Guarded(req, "read", [&] {
    Filesystem* fs = FsOf(req);
    auto f = fs->Handle(fi->fh);
    if (!f) return ReplyErrno(req, EBADF);
    bool replied = false;
    Heap& heap = *f->node.heap->heap;
    const int fd = f->node.heap->DataFd();
    auto n = heap.Read(f->node.id, static_cast<std::uint64_t>(off), size, [&](std::span<const std::byte> bytes) {
      // Answered while the version is pinned. From the backing file by
      // splice where we can: the daemon's mapping is never touched, so pages
      // the heap got through write(2) cost it no page faults.
      if (fd >= 0 && !bytes.empty()) {
        struct fuse_bufvec buf = FUSE_BUFVEC_INIT(bytes.size());
        buf.buf[0].flags = static_cast<enum fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
        buf.buf[0].fd = fd;
        buf.buf[0].pos = static_cast<off_t>(bytes.data() - heap.base());
        fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
      } else {
        fuse_reply_buf(req, reinterpret_cast<const char*>(bytes.data()), bytes.size());
      }
      replied = true;
    });
    if (!n.ok() && !replied) ReplyError(req, n.status(), "read");
  });
}

void OpWriteBuf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec* bufv, off_t off,
                struct fuse_file_info* fi) noexcept {
  Guarded(req, "write", [&] {
    Filesystem* fs = FsOf(req);
    auto f = fs->Handle(fi->fh);
    if (!f) return ReplyErrno(req, EBADF);
    if (off < 0) return ReplyErrno(req, EINVAL);
    Heap& heap = *f->node.heap->heap;
    const size_t size = fuse_buf_size(bufv);
    // Under KILLPRIV_V2 clearing set-ID bits is ours (kernel_io.h), before
    // the bytes land, as the kernel would.
    // Not for the write-back of a shared mapping (writepage): stores through
    // a mapping keep them on a local file system too.
    if (fs->kernel_io().killpriv_v2() && !fi->writepage) {
      if (Status s = fs->DropSetIdBits(req, f->node, SetIdCause::kModify, true); !s.ok()) {
        return ReplyError(req, s, "write");
      }
    }
    const int fd = f->node.heap->DataFd();
    if (fd < 0) return ReplyError(req, Status::IOError("no data descriptor for the heap", EIO), "write");
    // The payload goes from the request (a pipe, with splice) straight into
    // the backing file's page cache, which every mapping of the heap shares:
    // no copy through the daemon's memory and no page faults.
    Filesystem::KernelChange change(fs, ino);
    const auto before = heap.Stat(f->node.id);
    auto r = heap.WriteVia(f->node.id, static_cast<std::uint64_t>(off), size, [&](std::uint64_t file_off) {
      struct fuse_bufvec dst = FUSE_BUFVEC_INIT(size);
      dst.buf[0].flags = static_cast<enum fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
      dst.buf[0].fd = fd;
      dst.buf[0].pos = static_cast<off_t>(file_off);
      const auto flags = static_cast<enum fuse_buf_copy_flags>(0);
      ssize_t n = fuse_buf_copy(&dst, bufv, flags);
      if (n < 0) return Status::FromErrno("write to backing file", static_cast<int>(-n));
      if (static_cast<size_t>(n) == size) return Status::Ok();
      // A short write: a full disk, a quota, a file size limit. fuse_buf_copy
      // advanced both vectors, so a second call goes on from there and says
      // which. The write fails whole either way (the growth rolls back): a
      // copy through libfuse's bounce buffer may have taken bytes from the
      // pipe that it never wrote, so a later success would be shifted data.
      n = fuse_buf_copy(&dst, bufv, flags);
      if (n < 0) return Status::FromErrno("short write to backing file", static_cast<int>(-n));
      return Status::IOError("short write to backing file", EIO);
    });
    if (!r.ok()) return ReplyError(req, r.status(), "write");
    f->wrote.store(true, std::memory_order_relaxed);
    // The kernel's cache already holds what it wrote: not a foreign change.
    // After a write(2) it also invalidates its cached size itself; after a
    // write-back of mapped pages it does not.
    if (auto after = heap.Stat(f->node.id); after.ok() && before.ok()) {
      fs->NoteOwnChange(ino, before->version, after->version);
    }
    if (!fi->writepage) fs->NoteKernelRefetches(ino);
    fuse_reply_write(req, size);
  });
}

void OpFlush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) noexcept {
  Guarded(req, "flush", [&] {
    Filesystem* fs = FsOf(req);
    // close() of any descriptor drops that process's POSIX locks on the file.
    if (LockService* locks = fs->locks()) locks->OnFlush(ino, fi->lock_owner);
    ReplyErrno(req, 0);
  });
}

void OpRelease(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) noexcept {
  Guarded(req, "release", [&] {
    Filesystem* fs = FsOf(req);
    auto f = fs->Handle(fi->fh);
    if (!f) return ReplyErrno(req, 0);
    if (LockService* locks = fs->locks()) locks->OnRelease(ino, fi->fh, fi->lock_owner, fi->flock_release);
    Heap& heap = *f->node.heap->heap;
    if (f->wrote.load(std::memory_order_relaxed)) (void)heap.Trim(f->node.id);  // give back the slack of amortised appends
    Status s = heap.Unref(f->node.id);
    fs->RemoveHandle(fi->fh);
    if (!s.ok() && !s.Is(Code::kStale)) Log()->error("release of {}: {}", ino, s.ToString());
    ReplyErrno(req, 0);
  });
}

void OpFsync(fuse_req_t req, fuse_ino_t, int, struct fuse_file_info* fi) noexcept {
  Guarded(req, "fsync", [&] {
    Filesystem* fs = FsOf(req);
    auto f = fs->Handle(fi->fh);
    if (!f) return ReplyErrno(req, EBADF);
    Status s = f->node.heap->heap->Flush();
    if (!s.ok()) return ReplyError(req, s, "fsync");
    ReplyErrno(req, 0);
  });
}

void OpFallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                 struct fuse_file_info* fi) noexcept {
  Guarded(req, "fallocate", [&] {
    Filesystem* fs = FsOf(req);
    auto f = fs->Handle(fi->fh);
    if (!f) return ReplyErrno(req, EBADF);
    if (mode & ~FALLOC_FL_KEEP_SIZE) return ReplyErrno(req, EOPNOTSUPP);
    if (offset < 0 || length <= 0) return ReplyErrno(req, EINVAL);
    Heap& heap = *f->node.heap->heap;
    if (fs->kernel_io().killpriv_v2()) {
      if (Status s = fs->DropSetIdBits(req, f->node, SetIdCause::kModify, true); !s.ok()) {
        return ReplyError(req, s, "fallocate");
      }
    }
    auto info = heap.Stat(f->node.id);
    if (!info.ok()) return ReplyError(req, info.status(), "fallocate");
    const auto end = static_cast<std::uint64_t>(offset) + static_cast<std::uint64_t>(length);
    if (!(mode & FALLOC_FL_KEEP_SIZE) && end > info->size) {
      Filesystem::KernelChange change(fs, ino);
      Status s = heap.Truncate(f->node.id, end);
      if (!s.ok()) return ReplyError(req, s, "fallocate");
      if (auto v = heap.Stat(f->node.id); v.ok()) fs->NoteOwnChange(ino, info->version, v->version);
      fs->NoteKernelRefetches(ino);  // it invalidates its cached size itself
    }
    ReplyErrno(req, 0);
  });
}

}  // namespace shmheap::fs
