// LockService implementation.
#include "fs/src/lock_service.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <climits>
#include <optional>

#include "fs/src/filesystem.h"
#include "fs/src/log.h"
#include "fs/src/reply.h"

namespace shmheap::fs {

namespace {

// FUSE hands record locks over as struct flock with l_len 0 meaning "to the
// end of the file"; lockd uses inclusive ranges with kEof.
lockd::RecordLock ToRecord(const struct flock& l, std::uint64_t owner) {
  lockd::RecordLock r;
  r.type = l.l_type == F_RDLCK ? lockd::LockType::kRead
           : l.l_type == F_WRLCK ? lockd::LockType::kWrite
                                 : lockd::LockType::kUnlock;
  r.range.start = static_cast<std::uint64_t>(l.l_start);
  r.range.end = l.l_len == 0 ? lockd::kEof : static_cast<std::uint64_t>(l.l_start + l.l_len - 1);
  if (r.range.end >= static_cast<std::uint64_t>(LLONG_MAX)) r.range.end = lockd::kEof;
  r.owner = owner;
  r.pid = static_cast<std::uint32_t>(l.l_pid);
  return r;
}

void FromRecord(const lockd::RecordLock& r, struct flock* l) {
  l->l_type = r.type == lockd::LockType::kWrite ? F_WRLCK : F_RDLCK;
  l->l_whence = SEEK_SET;
  l->l_start = static_cast<off_t>(r.range.start);
  l->l_len = r.range.end == lockd::kEof ? 0 : static_cast<off_t>(r.range.end - r.range.start + 1);
  l->l_pid = static_cast<pid_t>(r.pid);
}

}  // namespace

LockService::LockService(Filesystem* fs)
    : fs_(fs),
      collective_(NewOwnerToken()),
      engine_(this, [this](std::uint64_t id, Status s) { Complete(id, std::move(s)); }) {
  retry_ = std::thread([this] { RetryLoop(); });
}

LockService::~LockService() { Shutdown(); }

void LockService::Shutdown() {
  std::vector<std::uint64_t> ids;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (const auto& [id, p] : pending_) ids.push_back(id);
  }
  cv_.notify_all();
  if (retry_.joinable()) retry_.join();
  for (std::uint64_t id : ids) engine_.Cancel(id);
  std::lock_guard<std::mutex> g(mu_);
  for (auto& [ino, h] : held_) {
    for (int i = 0; i < h.depth; ++i) (void)h.heap->heap->Unlock(h.id, collective_);
  }
  held_.clear();
}

// ------------------------------------------------------------ the bridge

Status LockService::TryAcquire(std::uint64_t inode, lockd::HeapMode mode) {
  auto node = fs_->Resolve(inode);
  if (!node.ok()) return node.status();
  if (node->kind != Node::kObject) return Status::InvalidArgument("locks apply to objects only");
  const LockMode m = mode == lockd::HeapMode::kWrite ? LockMode::kWrite : LockMode::kRead;
  Status s = node->heap->heap->LockId(node->id, m, collective_, 0);
  if (!s.ok()) return s;  // kBusy: a library client holds a conflicting lock
  std::lock_guard<std::mutex> g(mu_);
  Held& h = held_[inode];
  h.mode = mode;
  h.depth += 1;
  h.id = node->id;
  h.heap = node->heap;
  return Status::Ok();
}

void LockService::Reduce(std::uint64_t inode, lockd::HeapMode mode) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = held_.find(inode);
  if (it == held_.end()) return;
  Held& h = it->second;
  Heap& heap = *h.heap->heap;
  // Releasing (or downgrading) WRITE bumps the object's version. That is the
  // file users' own change, not a library client's: tell the cache logic, or
  // the next grant (and the watcher) would drop the kernel's page cache on
  // every lock cycle. The KernelChange scope keeps the watcher away between
  // the unlock and the note.
  Filesystem::KernelChange change(fs_, inode);
  const bool bumps = h.mode == lockd::HeapMode::kWrite && mode != lockd::HeapMode::kWrite;
  std::optional<std::uint64_t> before;
  if (bumps) {
    if (auto info = heap.Stat(h.id); info.ok()) before = info->version;
  }
  const Status done = ReduceHeld(heap, h, inode, mode);
  if (before && done.ok()) {
    if (auto info = heap.Stat(h.id); info.ok()) fs_->NoteOwnUnlock(inode, *before, info->version);
  }
  if (mode == lockd::HeapMode::kNone) held_.erase(it);
}

Status LockService::ReduceHeld(Heap& heap, Held& h, std::uint64_t inode, lockd::HeapMode mode) {
  Status result;
  if (mode == lockd::HeapMode::kNone) {
    for (int i = 0; i < h.depth; ++i) {
      Status s = heap.Unlock(h.id, collective_);
      if (!s.ok() && !s.Is(Code::kStale)) Log()->error("releasing the heap lock of {}: {}", inode, s.ToString());
      if (!s.ok()) result = s;
    }
  } else if (mode == lockd::HeapMode::kRead && h.mode == lockd::HeapMode::kWrite) {
    Status s = heap.Downgrade(h.id, collective_);
    if (!s.ok()) Log()->error("downgrading the heap lock of {}: {}", inode, s.ToString());
    result = s;
    h.mode = mode;
  }
  return result;
}

// -------------------------------------------------------- FUSE requests

void LockService::Reply(fuse_req_t req, fuse_ino_t ino, const Status& s) {
  if (s.ok()) {
    // The holder must see what library clients wrote before it locked.
    fs_->InvalidateIfChanged(ino);
    ReplyErrno(req, 0);
  } else if (s.Is(Code::kBusy)) {
    ReplyErrno(req, EAGAIN);
  } else {
    ReplyError(req, s, "lock");
  }
}

void LockService::Getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, struct flock* lock) {
  lockd::RecordLock probe = ToRecord(*lock, fi->lock_owner);
  if (auto conflict = engine_.Getlk(ino, probe)) {
    FromRecord(*conflict, lock);
    fuse_reply_lock(req, lock);
    return;
  }
  // No file user conflicts; a library client may (its locks cover the
  // whole object).
  auto node = fs_->Resolve(ino);
  if (node.ok() && node->kind == Node::kObject) {
    auto holders = node->heap->heap->LockHolders(node->id);
    if (holders.ok()) {
      for (const auto& h : *holders) {
        if (h.self) continue;  // the collective owner stands for file users
        if (probe.type == lockd::LockType::kWrite || h.mode == LockMode::kWrite) {
          lock->l_type = h.mode == LockMode::kWrite ? F_WRLCK : F_RDLCK;
          lock->l_whence = SEEK_SET;
          lock->l_start = 0;
          lock->l_len = 0;
          lock->l_pid = static_cast<pid_t>(h.pid);
          fuse_reply_lock(req, lock);
          return;
        }
      }
    }
  }
  lock->l_type = F_UNLCK;
  fuse_reply_lock(req, lock);
}

void LockService::Setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, struct flock* lock, int sleep) {
  const lockd::RecordLock r = ToRecord(*lock, fi->lock_owner);
  if (r.type != lockd::LockType::kUnlock) {
    std::lock_guard<std::mutex> g(mu_);
    owners_by_fh_[fi->fh].insert(fi->lock_owner);
  }
  if (!sleep || r.type == lockd::LockType::kUnlock) {
    Status s = engine_.Setlk(ino, r);
    if (r.type == lockd::LockType::kUnlock && s.ok()) return ReplyErrno(req, 0);
    return Reply(req, ino, s);
  }
  Wait(req, ino, r.owner, r.type == lockd::LockType::kWrite,
       [&](std::uint64_t id) { return engine_.Setlkw(id, ino, r); });
}

void LockService::Flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, int op) {
  const int kind = op & (LOCK_SH | LOCK_EX | LOCK_UN);
  const lockd::LockType type = kind == LOCK_SH   ? lockd::LockType::kRead
                               : kind == LOCK_EX ? lockd::LockType::kWrite
                                                 : lockd::LockType::kUnlock;
  if (kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN) return ReplyErrno(req, EINVAL);
  const bool wait = !(op & LOCK_NB) && type != lockd::LockType::kUnlock;
  if (!wait) {
    Status s = engine_.Flock(next_id_++, ino, fi->fh, type, false);
    if (type == lockd::LockType::kUnlock && s.ok()) return ReplyErrno(req, 0);
    return Reply(req, ino, s);
  }
  Wait(req, ino, fi->fh | lockd::kFlockOwnerBit, type == lockd::LockType::kWrite,
       [&](std::uint64_t id) { return engine_.Flock(id, ino, fi->fh, type, true); });
}

void LockService::Wait(fuse_req_t req, fuse_ino_t ino, std::uint64_t owner, bool write,
                       const std::function<Status(std::uint64_t)>& start) {
  const std::uint64_t id = next_id_++;
  {
    // Registered first: the grant may complete before start() returns.
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_) return ReplyErrno(req, EINTR);
    pending_[id] = Pending{req, ino, owner, write};
  }
  // Before queuing: once queued, another thread may grant, answer and free
  // `req` at any moment. An interrupt that arrives before the request is
  // in the engine is remembered and acted on below.
  fuse_req_interrupt_func(req, &LockService::OnInterrupt, reinterpret_cast<void*>(static_cast<std::uintptr_t>(id)));
  Status s = start(id);
  if (s.Is(Code::kPending)) {
    bool interrupted = false;
    {
      std::lock_guard<std::mutex> g(mu_);
      auto it = pending_.find(id);
      interrupted = it != pending_.end() && it->second.interrupted;
    }
    if (interrupted) {
      engine_.Cancel(id);
      return;
    }
    if (engine_.WaitingOnHeap(id) && ClosesCycle(id)) {
      engine_.Abort(id, Status::Deadlock("waiting would close a cycle through a library client"));
      return;
    }
    cv_.notify_all();  // the retry thread may have a heap waiter now
    return;
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!pending_.erase(id)) return;  // already answered
  }
  Reply(req, ino, s);
}

void LockService::Complete(std::uint64_t id, Status s) {
  Pending p;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // answered synchronously, or a non-waiting flock
    p = it->second;
    pending_.erase(it);
  }
  Reply(p.req, p.ino, s);
}

void LockService::OnInterrupt(fuse_req_t req, void* data) {
  auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(data));
  LockService* self = FsOf(req)->locks();
  if (!self) return;
  {
    std::lock_guard<std::mutex> g(self->mu_);
    auto it = self->pending_.find(id);
    if (it == self->pending_.end()) return;  // already answered
    it->second.interrupted = true;
  }
  self->engine_.Cancel(id);
}

void LockService::OnFlush(std::uint64_t ino, std::uint64_t lock_owner) { engine_.ReleaseOwner(ino, lock_owner); }

void LockService::OnRelease(std::uint64_t ino, std::uint64_t fh, std::uint64_t, bool) {
  engine_.ReleaseFile(ino, fh);  // its flock lock and queued flock waits
  std::set<std::uint64_t> owners;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = owners_by_fh_.find(fh);
    if (it == owners_by_fh_.end()) return;
    owners = std::move(it->second);
    owners_by_fh_.erase(it);
  }
  for (std::uint64_t owner : owners) engine_.ReleaseOwner(ino, owner);  // its OFD locks
}

void LockService::RetryLoop() {
  std::unique_lock<std::mutex> g(mu_);
  while (!stopping_) {
    if (pending_.empty()) {
      cv_.wait(g);
      continue;
    }
    std::set<fuse_ino_t> inodes;
    for (const auto& [id, p] : pending_) inodes.insert(p.ino);
    const auto now = std::chrono::steady_clock::now();
    const bool reap = now - last_reap_ >= std::chrono::milliseconds(50);
    if (reap) last_reap_ = now;
    g.unlock();
    if (reap) {
      // A library holder that died keeps its heap lock until someone reaps
      // it; the engine only tries, so reap for it.
      std::set<Heap*> heaps;
      for (fuse_ino_t ino : inodes) {
        if (auto node = fs_->Resolve(ino); node.ok() && node->heap && node->heap->heap) {
          if (heaps.insert(node->heap->heap.get()).second) node->heap->heap->ReapDeadClients();
        }
      }
    }
    // Requests waiting for a library client's heap lock: try again, and
    // break cycles that a library client closed after they began waiting.
    for (fuse_ino_t ino : inodes) engine_.RetryHeap(ino);
    if (reap) {
      std::vector<std::uint64_t> waiting;
      {
        std::lock_guard<std::mutex> lg(mu_);
        for (const auto& [id, p] : pending_) waiting.push_back(id);
      }
      for (std::uint64_t id : waiting) {
        if (engine_.WaitingOnHeap(id) && ClosesCycle(id)) {
          engine_.Abort(id, Status::Deadlock("a library client closed a cycle of waiting owners"));
        }
      }
    }
    g.lock();
    cv_.wait_for(g, kHeapRetryInterval);
  }
}

}  // namespace shmheap::fs
