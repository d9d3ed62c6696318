// Filesystem implementation: node resolution, attributes, the inode and
// handle tables, and the cache watcher.
#include "fs/src/filesystem.h"

#include <shmheap/reference.hpp>

#include <cerrno>
#include <vector>

#include "fs/src/lock_service.h"
#include "fs/src/log.h"
#include "fs/src/node_id.h"

namespace shmheap::fs {

namespace {

struct timespec ToTimespec(std::int64_t ns) {
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return ts;
}

}  // namespace

Filesystem::Filesystem(Options options)
    : options_(std::move(options)),
      registry_(options_.heapdir, options_.max_heap_size),
      read_ahead_(options_.read_ahead, options_.read_ahead_explicit) {}

Filesystem::~Filesystem() { Shutdown(); }

Status Filesystem::Init() { return registry_.Init(); }

void Filesystem::Start(struct fuse_session* se) {
  se_ = se;
  registry_.Scan();
  locks_ = std::make_unique<LockService>(this);
  watcher_ = std::thread([this] { WatchLoop(); });
}

void Filesystem::Shutdown() {
  {
    std::lock_guard<std::mutex> g(watch_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
  if (locks_) locks_->Shutdown();
  {
    std::lock_guard<std::mutex> g(handles_mu_);
    handles_.clear();
  }
  registry_.DetachAll();
}

Result<Node> Filesystem::Resolve(fuse_ino_t ino) {
  Node n;
  n.ino = ino;
  if (ino == kRootNode) return n;
  auto heap = registry_.BySlot(SlotOf(ino));
  if (!heap) return Status::Stale("unknown node " + std::to_string(ino));
  if (!heap->heap) return heap->error;
  n.heap = heap;
  const std::uint64_t inode = InodeOf(ino);
  if (inode == 0) {
    if (ino != HeapNode(heap->slot)) return Status::Stale("unknown node " + std::to_string(ino));
    n.kind = Node::kHeap;
    return n;
  }
  n.kind = Node::kObject;
  {
    std::lock_guard<std::mutex> g(inodes_mu_);
    auto it = inodes_.find(ino);
    if (it != inodes_.end() && it->second.nlookup > 0) {
      n.id = ObjectId{inode, it->second.generation};
      return n;
    }
  }
  // Not known to the kernel (e.g. an NFS file handle after a restart):
  // whatever object has that inode now; the kernel compares generations.
  auto id = heap->heap->IdOf(inode);
  if (!id.ok()) return id.status();
  // Another object now has the inode number (node_id.h).
  if (!GenerationFits(ino, id->generation)) return Status::Stale("node " + std::to_string(ino) + " is gone");
  n.id = *id;
  return n;
}

Result<std::shared_ptr<Heap>> Filesystem::HeapOf(const Node& dir) {
  if (dir.kind == Node::kObject) return Status::InvalidArgument("not a directory");
  if (dir.kind == Node::kRoot) return Status::NotSupported("the mount root holds only heap directories");
  return dir.heap->heap;
}

struct stat Filesystem::StatObject(const Node& heap_dir, const ObjectInfo& info) const {
  struct stat st {};
  st.st_ino = ObjectNode(heap_dir.heap->slot, info.id.inode, info.id.generation);
  // A reference (COOL representative) is a symbolic link whose target text
  // is its bytes; everything else is a regular file.
  st.st_mode = IsReferenceMode(info.attr.mode) ? S_IFLNK | 0777 : S_IFREG | (info.attr.mode & 07777);
  st.st_nlink = info.name.empty() ? 0 : 1;
  st.st_uid = info.attr.uid;
  st.st_gid = info.attr.gid;
  st.st_size = static_cast<off_t>(info.size);
  st.st_blksize = 65536;
  st.st_blocks = static_cast<blkcnt_t>((info.capacity + 511) / 512);
  st.st_atim = ToTimespec(info.atime_ns);
  st.st_mtim = ToTimespec(info.mtime_ns);
  st.st_ctim = ToTimespec(info.ctime_ns);
  return st;
}

Result<struct stat> Filesystem::StatNode(const Node& n, std::uint64_t* version) {
  if (n.kind == Node::kObject) {
    auto info = n.heap->heap->Stat(n.id);
    if (!info.ok()) return info.status();
    if (version) *version = info->version;
    return StatObject(n, *info);
  }
  auto st = n.kind == Node::kRoot ? registry_.StatDir() : registry_.StatFile(n.heap->name);
  if (!st.ok()) return st.status();
  struct stat out = *st;
  out.st_ino = n.kind == Node::kRoot ? kRootNode : HeapNode(n.heap->slot);
  out.st_mode = S_IFDIR | (st->st_mode & 07777);
  out.st_nlink = 2;
  out.st_size = 4096;
  out.st_blocks = 8;
  out.st_blksize = 4096;
  if (n.kind == Node::kRoot) out.st_nlink += static_cast<nlink_t>(registry_.List().size());
  return out;
}

void Filesystem::ReplyEntry(fuse_req_t req, const fuse_entry_param& e) {
  if (fuse_reply_entry(req, &e) != 0 && e.ino != 0) Forget(e.ino, 1);
}

Result<fuse_entry_param> Filesystem::Entry(const Node& n) {
  if (n.ino == 0) {  // an inode number past what node ids hold (node_id.h)
    return Status::FromErrno("object inode " + std::to_string(n.id.inode) + " has no node id", EOVERFLOW);
  }
  std::uint64_t version = kNoVersion;
  auto st = StatNode(n, &version);
  if (!st.ok()) return st.status();
  fuse_entry_param e{};
  e.ino = n.ino;
  e.generation = n.kind == Node::kObject ? n.id.generation : 0;
  e.attr = *st;
  e.attr_timeout = kAttrTimeout;
  e.entry_timeout = kEntryTimeout;
  Remember(n.ino, e.generation, version);
  return e;
}

void Filesystem::Remember(fuse_ino_t ino, std::uint64_t generation, std::uint64_t attr_version) {
  std::uint64_t release = 0;  // a kept generation to let go of
  {
    std::lock_guard<std::mutex> g(inodes_mu_);
    InodeState& s = inodes_[ino];
    if (s.generation != generation) {
      // Another object now has this inode number (the old one is gone, so
      // nothing should be kept for it; if it was, let it go). A claim in
      // progress is abandoned: KeepForKernel sees that and undoes its Ref.
      if (s.kept == InodeState::Kept::kYes) release = s.generation;
      // Two objects on one node id (node_id.h): the kernel drops its inode of
      // the old one when this entry reaches it, but still sends its FORGET,
      // so the lookup count carries on as the sum of both (as do the
      // KernelChange scopes still open); the old attributes are not trusted.
      if (s.nlookup > 0) {
        Log()->warn("node {} now names generation {}; the kernel still held generation {}", ino, generation,
                    s.generation);
      }
      const std::uint64_t nlookup = s.nlookup;
      const std::uint32_t kernel_changes = s.kernel_changes;
      s = InodeState{};
      s.nlookup = nlookup;
      s.kernel_changes = kernel_changes;
    }
    s.generation = generation;
    const bool fresh = s.nlookup == 0;
    s.nlookup += 1;
    // A first lookup's attributes are all the kernel has of this daemon's
    // inode; otherwise they join what it may already cache.
    if (attr_version != kNoVersion) {
      s.attr_oldest =
          (fresh || s.attr_oldest == kAttrsDropped) ? attr_version : std::min(s.attr_oldest, attr_version);
    }
  }
  if (release) ReleaseKept(ino, release);  // takes the heap's mutex: not under inodes_mu_
}

void Filesystem::Forget(fuse_ino_t ino, std::uint64_t nlookup) {
  std::uint64_t release = 0;  // generation whose kept reference to drop
  {
    std::lock_guard<std::mutex> g(inodes_mu_);
    auto it = inodes_.find(ino);
    if (it == inodes_.end()) return;
    InodeState& st = it->second;
    st.nlookup -= std::min(nlookup, st.nlookup);
    if (st.nlookup != 0) return;
    if (st.kept == InodeState::Kept::kClaiming) return;  // KeepForKernel settles it
    if (st.kept == InodeState::Kept::kYes) release = st.generation;
    st.kept = InodeState::Kept::kNo;
    if (st.kernel_changes == 0) inodes_.erase(it);
  }
  if (release) ReleaseKept(ino, release);  // takes the heap's mutex: not under inodes_mu_
}

void Filesystem::KeepForKernel(const Node& n) {
  if (n.kind != Node::kObject) return;
  {
    std::lock_guard<std::mutex> g(inodes_mu_);
    auto it = inodes_.find(n.ino);
    if (it == inodes_.end() || it->second.nlookup == 0 || it->second.kept != InodeState::Kept::kNo ||
        it->second.generation != n.id.generation) {
      return;
    }
    it->second.kept = InodeState::Kept::kClaiming;
  }
  const Status s = n.heap->heap->Ref(n.id);
  bool undo = false;
  {
    std::lock_guard<std::mutex> g(inodes_mu_);
    auto it = inodes_.find(n.ino);
    if (it == inodes_.end() || it->second.kept != InodeState::Kept::kClaiming ||
        it->second.generation != n.id.generation) {
      undo = s.ok();  // the claim was abandoned (the inode number went to another object)
    } else if (it->second.nlookup == 0) {  // forgotten while we took it
      undo = s.ok();
      it->second.kept = InodeState::Kept::kNo;
      if (it->second.kernel_changes == 0) inodes_.erase(it);
    } else {
      it->second.kept = s.ok() ? InodeState::Kept::kYes : InodeState::Kept::kNo;
    }
  }
  if (undo) (void)n.heap->heap->Unref(n.id);
  if (!s.ok()) SPDLOG_LOGGER_DEBUG(Log(), "inode {}: not kept for the kernel: {}", n.ino, s.ToString());
}

void Filesystem::ReleaseKept(fuse_ino_t ino, std::uint64_t generation) {
  auto heap = registry_.BySlot(SlotOf(ino));
  if (!heap || !heap->heap) return;
  Status s = heap->heap->Unref(ObjectId{InodeOf(ino), generation});
  if (!s.ok()) Log()->warn("inode {}: releasing the reference kept for the kernel: {}", ino, s.ToString());
}

std::uint64_t Filesystem::AddHandle(std::shared_ptr<OpenFile> f) {
  std::lock_guard<std::mutex> g(handles_mu_);
  std::uint64_t fh = next_fh_++;
  handles_[fh] = std::move(f);
  return fh;
}

std::shared_ptr<OpenFile> Filesystem::Handle(std::uint64_t fh) {
  std::lock_guard<std::mutex> g(handles_mu_);
  auto it = handles_.find(fh);
  return it == handles_.end() ? nullptr : it->second;
}

void Filesystem::RemoveHandle(std::uint64_t fh) {
  std::lock_guard<std::mutex> g(handles_mu_);
  handles_.erase(fh);
}

Status Filesystem::DropSetIdBits(fuse_req_t req, const Node& n, SetIdCause cause, bool tell_kernel) {
  if (n.kind != Node::kObject) return Status::Ok();
  Heap& heap = *n.heap->heap;
  auto info = heap.Stat(n.id);
  if (!info.ok()) return info.status();
  if (!HasSetIdBits(info->attr.mode)) return Status::Ok();
  const fuse_ctx* ctx = fuse_req_ctx(req);
  const std::uint32_t drop =
      SetIdBitsToDrop(info->attr.mode, info->attr.gid, cause, CredsOf(ctx->pid, ctx->uid, ctx->gid));
  if (drop == 0) return Status::Ok();
  Heap::AttrChange c;
  c.clear_mode = drop;  // only these bits, atomically: a chmod meanwhile stays
  auto changed = heap.SetAttr(n.id, c);
  if (!changed.ok()) return changed.status();
  SPDLOG_LOGGER_DEBUG(Log(), "cleared set-ID bits {:o} of inode {}", drop, n.ino);
  // Attributes only (offset < 0): takes no inode or page lock, so it is
  // safe from inside a handler of this very inode.
  if (tell_kernel && se_) fuse_lowlevel_notify_inval_inode(se_, n.ino, -1, 0);
  return Status::Ok();
}

bool Filesystem::NoteVersion(fuse_ino_t ino, std::uint64_t version) {
  std::lock_guard<std::mutex> g(inodes_mu_);
  InodeState& s = inodes_[ino];
  const bool same = s.watched && s.version_seen == version;
  s.version_seen = version;
  s.watched = true;
  return same;
}

void Filesystem::NoteAttrs(fuse_ino_t ino, std::uint64_t version) {
  if (version == kNoVersion) return;
  std::lock_guard<std::mutex> g(inodes_mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return;
  std::uint64_t& oldest = it->second.attr_oldest;
  oldest = oldest == kAttrsDropped ? version : std::min(oldest, version);
}

void Filesystem::NoteKernelRefetches(fuse_ino_t ino) {
  std::lock_guard<std::mutex> g(inodes_mu_);
  auto it = inodes_.find(ino);
  if (it != inodes_.end()) it->second.attr_oldest = kAttrsDropped;
}

void Filesystem::RefreshAttrsIfStale(fuse_ino_t ino, std::uint64_t version) {
  {
    std::lock_guard<std::mutex> g(inodes_mu_);
    auto it = inodes_.find(ino);
    if (it != inodes_.end()) {
      std::uint64_t& oldest = it->second.attr_oldest;
      if (oldest == kAttrsDropped || oldest == version) return;
      oldest = kAttrsDropped;  // before the notify: a reply noted after it is kept
    }
  }
  if (!se_) return;
  // Attributes only (offset < 0): no inode or page lock.
  fuse_lowlevel_notify_inval_inode(se_, ino, -1, 0);
  SPDLOG_LOGGER_DEBUG(Log(), "inode {}: cached attributes predate version {}, dropped at open", ino, version);
}

void Filesystem::NoteOwnChange(fuse_ino_t ino, std::uint64_t before, std::uint64_t after) {
  std::lock_guard<std::mutex> g(inodes_mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end() || !it->second.watched) return;
  if (it->second.version_seen == before) it->second.version_seen = after;
}

void Filesystem::NoteOwnUnlock(fuse_ino_t ino, std::uint64_t before, std::uint64_t after) {
  // Only the unlock's own bump: anything more was someone else's change too.
  if (after == before + 1) NoteOwnChange(ino, before, after);
}

Filesystem::KernelChange::KernelChange(Filesystem* fs, fuse_ino_t ino) : fs_(fs), ino_(ino) {
  std::lock_guard<std::mutex> g(fs_->inodes_mu_);
  ++fs_->inodes_[ino_].kernel_changes;
}

Filesystem::KernelChange::~KernelChange() {
  std::lock_guard<std::mutex> g(fs_->inodes_mu_);
  auto it = fs_->inodes_.find(ino_);
  if (it != fs_->inodes_.end() && it->second.kernel_changes > 0) --it->second.kernel_changes;
}

void Filesystem::InvalidateIfChanged(fuse_ino_t ino) {
  auto node = Resolve(ino);
  if (!node.ok() || node->kind != Node::kObject) return;
  auto info = node->heap->heap->Stat(node->id);
  if (!info.ok()) return;
  std::uint64_t seen;
  {
    // No exception for a kernel-made change in flight (KernelChange): that
    // scope keeps only the watcher away. A grant whose caller then reads the
    // old pages loses a library client's write; an extra drop costs a read.
    std::lock_guard<std::mutex> g(inodes_mu_);
    auto it = inodes_.find(ino);
    if (it == inodes_.end() || !it->second.watched || it->second.version_seen == info->version) return;
    seen = it->second.version_seen;
    it->second.attr_oldest = kAttrsDropped;
  }
  DropCacheThenRecord(ino, seen, info->version);
}

void Filesystem::DropCacheThenRecord(fuse_ino_t ino, std::uint64_t seen, std::uint64_t version) {
  // In this order: another grant that finds `version` recorded returns at
  // once, so the pages must already be gone. (Recorded first, a concurrent
  // grant, or the watcher racing a grant, let a lock holder read the old
  // pages: the PUPS counter lost increments.)
  const int rc = fuse_lowlevel_notify_inval_inode(se_, ino, 0, 0);
  {
    std::lock_guard<std::mutex> g(inodes_mu_);
    auto it = inodes_.find(ino);
    // Unless it moved on meanwhile (a write of the kernel's own, noted).
    if (it != inodes_.end() && it->second.version_seen == seen) it->second.version_seen = version;
  }
  SPDLOG_LOGGER_DEBUG(Log(), "object {} changed outside the mount (version {}): cache dropped ({})", ino, version, rc);
}

void Filesystem::WatchLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> g(watch_mu_);
      watch_cv_.wait_for(g, kWatchInterval, [this] { return stopping_ || poke_; });
      if (stopping_) return;
      poke_ = false;
    }
    std::vector<std::pair<fuse_ino_t, std::uint64_t>> watched;
    {
      std::lock_guard<std::mutex> g(inodes_mu_);
      for (const auto& [ino, s] : inodes_) {
        if (s.watched && s.kernel_changes == 0) watched.emplace_back(ino, s.version_seen);
      }
    }
    for (const auto& [ino, seen] : watched) {
      auto node = Resolve(ino);
      if (!node.ok() || node->kind != Node::kObject) continue;
      auto info = node->heap->heap->Stat(node->id);
      if (!info.ok() || info->version == seen) continue;
      {
        std::lock_guard<std::mutex> g(inodes_mu_);
        auto it = inodes_.find(ino);
        if (it == inodes_.end() || it->second.version_seen != seen || it->second.kernel_changes > 0) {
          continue;  // changed meanwhile, or the kernel is changing it
        }
        it->second.attr_oldest = kAttrsDropped;
      }
      DropCacheThenRecord(ino, seen, info->version);
    }
  }
}

}  // namespace shmheap::fs
