// LockEngine (see lock_engine.hpp and lockd/README.md): the public calls,
// the heap bridge, completions and deadlock checks around InodeLocks.
//
// Every call follows one shape: take mu_, change state, collect the
// completions it caused, "settle" the inode (grant every waiter that has
// become grantable, oldest first), reduce the heap lock if the aggregate
// fell, release mu_, then run the completions. Between calls each inode is
// settled, so a new request's blockers are always current, and held() ==
// Aggregate().
//
// Thread safety: Impl::mu_ guards all state. It is the engine's only lock
// and is never held while a completion runs; the bridge is called with it
// held (lock order: mu_, then whatever the bridge takes).
#include <lockd/lock_engine.hpp>

#include <algorithm>
#include <cassert>
#include <string>
#include <unordered_map>
#include <utility>

#include "lockd/src/deadlock.h"
#include "lockd/src/inode_locks.h"
#include "lockd/src/log.h"
#include "lockd/src/mutex.h"
#include "lockd/src/range.h"

namespace shmheap::lockd {
namespace {

struct Done {
  std::uint64_t request_id;
  Status status;
};
using Completions = std::vector<Done>;

std::string Name(const Holder& h) {
  return (h.space == LockSpace::kPosix ? "owner " : "file ") + std::to_string(h.id);
}

// Used by debug logs only (compiled out below SPDLOG_ACTIVE_LEVEL debug).
[[maybe_unused]] std::string Describe(const LockRequest& r) {
  return Name(r.holder) + " " + TypeName(r.type) + " " + ToString(r.range);
}

Status Validate(LockType type, const Range& range) {
  if (!IsValidType(type)) return Status::InvalidArgument("unknown lock type");
  if (!IsValid(range))
    return Status::InvalidArgument("lock range " + ToString(range) + " ends before it starts");
  return Status::Ok();
}

}  // namespace

class LockEngine::Impl {
 public:
  Impl(HeapLockBridge* bridge, Completion on_complete)
      : bridge_(bridge), on_complete_(std::move(on_complete)) {}

  std::optional<RecordLock> Getlk(std::uint64_t inode, const RecordLock& probe)
      SHMHEAP_EXCLUDES(mu_);
  Status Setlk(std::uint64_t inode, const RecordLock& lock) SHMHEAP_EXCLUDES(mu_);
  Status Setlkw(std::uint64_t id, std::uint64_t inode, const RecordLock& lock)
      SHMHEAP_EXCLUDES(mu_);
  Status Flock(std::uint64_t id, std::uint64_t inode, std::uint64_t file, LockType type, bool wait)
      SHMHEAP_EXCLUDES(mu_);
  void Abort(std::uint64_t id, Status status) SHMHEAP_EXCLUDES(mu_);
  void ReleaseOwner(std::uint64_t inode, std::uint64_t owner) SHMHEAP_EXCLUDES(mu_);
  void ReleaseFile(std::uint64_t inode, std::uint64_t file) SHMHEAP_EXCLUDES(mu_);
  void RetryHeap(std::uint64_t inode) SHMHEAP_EXCLUDES(mu_);
  std::vector<RecordLock> Locks(std::uint64_t inode) const SHMHEAP_EXCLUDES(mu_);
  std::vector<std::uint64_t> Waiting(std::uint64_t inode) const SHMHEAP_EXCLUDES(mu_);
  std::vector<std::uint64_t> BlockedBy(std::uint64_t id) const SHMHEAP_EXCLUDES(mu_);
  bool WaitingOnHeap(std::uint64_t id) const SHMHEAP_EXCLUDES(mu_);
  HeapMode HeldMode(std::uint64_t inode) const SHMHEAP_EXCLUDES(mu_);

 private:
  // Decides `req` now: applies an unlock, or grants if nothing blocks it
  // and the heap allows. On kBusy from conflicts, *blockers is non-empty;
  // on kBusy (or another error) from the bridge, it is empty.
  Status TryNow(std::uint64_t inode, InodeLocks& st, const LockRequest& req,
                std::vector<Holder>* blockers, Completions* done) SHMHEAP_REQUIRES(mu_);
  // TryNow, and if that says kBusy: kDeadlock if waiting would close a
  // cycle, else queue and return kPending.
  Status TryOrWait(std::uint64_t inode, InodeLocks& st, const LockRequest& req, Completions* done)
      SHMHEAP_REQUIRES(mu_);
  // Raises the bridge's mode for inode to `mode` if that is stronger than
  // what is held. `refused` remembers the weakest mode refused during one
  // settle, so a queue of writers does not ask again for each.
  Status RaiseHeap(std::uint64_t inode, InodeLocks& st, HeapMode mode,
                   std::optional<HeapMode>* refused) SHMHEAP_REQUIRES(mu_);
  // Grants, oldest first, every waiter of inode that has become grantable.
  void Settle(std::uint64_t inode, InodeLocks& st, Completions* done) SHMHEAP_REQUIRES(mu_);
  // Reduces the bridge's mode if the aggregate fell; forgets an idle inode.
  void Finish(std::uint64_t inode) SHMHEAP_REQUIRES(mu_);
  // The wait-for edges out of `node`: the blockers of all its waiters.
  void Successors(const Holder& node, std::vector<Holder>* out) const SHMHEAP_REQUIRES(mu_);
  // The blockers of the queued request `id`, or nullopt if not queued.
  std::optional<std::vector<Holder>> WaiterBlockers(std::uint64_t id) const SHMHEAP_REQUIRES(mu_);
  void Deliver(Completions* done) SHMHEAP_EXCLUDES(mu_);

  HeapLockBridge* const bridge_;  // may be null; called with mu_ held
  const Completion on_complete_;  // called without mu_

  mutable Mutex mu_;
  // Inode -> its locks, queue and held heap mode. Idle inodes are erased.
  std::unordered_map<std::uint64_t, InodeLocks> states_ SHMHEAP_GUARDED_BY(mu_);
  // Queued request id -> its inode. Exactly the requests in some queue.
  std::unordered_map<std::uint64_t, std::uint64_t> requests_ SHMHEAP_GUARDED_BY(mu_);
};

// ---- Decisions (mu_ held) -------------------------------------------------

Status LockEngine::Impl::RaiseHeap(std::uint64_t inode, InodeLocks& st, HeapMode mode,
                                   std::optional<HeapMode>* refused) {
  if (!Stronger(mode, st.held())) return Status::Ok();
  if (refused->has_value() && !Stronger(**refused, mode)) {
    return Status::Busy("heap lock held by a library client");
  }
  Status s = bridge_ ? bridge_->TryAcquire(inode, mode) : Status::Ok();
  if (s.ok()) {
    SPDLOG_LOGGER_DEBUG(Log(), "inode {}: heap lock raised {} -> {}", inode, ModeName(st.held()),
                        ModeName(mode));
    st.set_held(mode);
    return s;
  }
  if (!refused->has_value() || Stronger(**refused, mode)) *refused = mode;
  SPDLOG_LOGGER_DEBUG(Log(), "inode {}: heap lock {} refused: {}", inode, ModeName(mode),
                      s.ToString());
  return s;
}

Status LockEngine::Impl::TryNow(std::uint64_t inode, InodeLocks& st, const LockRequest& req,
                                std::vector<Holder>* blockers, Completions* done) {
  if (req.type == LockType::kUnlock) {
    st.Apply(req);
    SPDLOG_LOGGER_DEBUG(Log(), "inode {}: {}", inode, Describe(req));
    Settle(inode, st, done);
    return Status::Ok();
  }
  st.Blockers(req, st.queue().size(), blockers);
  if (!blockers->empty()) {
    return Status::Busy("inode " + std::to_string(inode) + ": " + ToString(req.range) +
                        " conflicts with " + Name(blockers->front()));
  }
  std::optional<HeapMode> refused;
  Status s = RaiseHeap(inode, st, ModeOf(req.type), &refused);
  if (!s.ok()) return s;
  st.Apply(req);
  SPDLOG_LOGGER_DEBUG(Log(), "inode {}: granted {}", inode, Describe(req));
  // Re-locking can release too (a downgrade, or a write turned into a
  // read), which may let waiters in.
  Settle(inode, st, done);
  return Status::Ok();
}

Status LockEngine::Impl::TryOrWait(std::uint64_t inode, InodeLocks& st, const LockRequest& req,
                                   Completions* done) {
  std::vector<Holder> blockers;
  Status s = TryNow(inode, st, req, &blockers, done);
  if (!s.Is(Code::kBusy)) return s;
  if (!blockers.empty()) {
    auto path = FindPath(blockers, req.holder,
                         [this](const Holder& n, std::vector<Holder>* out)
                             SHMHEAP_REQUIRES(mu_) { Successors(n, out); });
    if (path) {
      std::string cycle = Name(req.holder);
      for (const Holder& h : *path) cycle += " -> " + Name(h);
      SPDLOG_LOGGER_DEBUG(Log(), "inode {}: request {} ({}) would deadlock: {}", inode, req.id,
                          Describe(req), cycle);
      return Status::Deadlock("waiting would deadlock: " + cycle);
    }
  }
  st.queue().Push(req);
  requests_.emplace(req.id, inode);
  SPDLOG_LOGGER_DEBUG(Log(), "inode {}: request {} ({}) blocked by {}", inode, req.id,
                      Describe(req),
                      blockers.empty() ? std::string("the heap lock") : Name(blockers.front()));
  return Status::Pending("lock request queued");
}

void LockEngine::Impl::Settle(std::uint64_t inode, InodeLocks& st, Completions* done) {
  std::optional<HeapMode> refused;
  std::vector<Holder> blockers;
  // One pass grants in FIFO order. Granting can also release (a POSIX
  // request replaces its owner's locks over its range), which may unblock
  // an earlier waiter, so passes repeat until one grants nothing.
  for (bool granted = true; granted;) {
    granted = false;
    for (std::size_t i = 0; i < st.queue().size();) {
      const LockRequest& w = st.queue()[i];
      blockers.clear();
      st.Blockers(w, i, &blockers);
      if (!blockers.empty() || !RaiseHeap(inode, st, ModeOf(w.type), &refused).ok()) {
        ++i;
        continue;
      }
      LockRequest req = st.queue().Erase(i);
      requests_.erase(req.id);
      st.Apply(req);
      done->push_back(Done{req.id, Status::Ok()});
      SPDLOG_LOGGER_DEBUG(Log(), "inode {}: request {} woken, granted {}", inode, req.id,
                          Describe(req));
      granted = true;
    }
  }
}

void LockEngine::Impl::Finish(std::uint64_t inode) {
  auto it = states_.find(inode);
  if (it == states_.end()) return;
  InodeLocks& st = it->second;
  const HeapMode aggregate = st.Aggregate();
  assert(!Stronger(aggregate, st.held()));
  if (Stronger(st.held(), aggregate)) {
    SPDLOG_LOGGER_DEBUG(Log(), "inode {}: heap lock reduced {} -> {}", inode, ModeName(st.held()),
                        ModeName(aggregate));
    if (bridge_) bridge_->Reduce(inode, aggregate);
    st.set_held(aggregate);
  }
  if (st.Idle()) states_.erase(it);
}

void LockEngine::Impl::Successors(const Holder& node, std::vector<Holder>* out) const {
  for (const auto& [id, inode] : requests_) {
    const InodeLocks& st = states_.at(inode);
    const std::size_t pos = *st.queue().Find(id);
    if (st.queue()[pos].holder == node) st.Blockers(st.queue()[pos], pos, out);
  }
}

std::optional<std::vector<Holder>> LockEngine::Impl::WaiterBlockers(std::uint64_t id) const {
  auto it = requests_.find(id);
  if (it == requests_.end()) return std::nullopt;
  const InodeLocks& st = states_.at(it->second);
  const std::size_t pos = *st.queue().Find(id);
  std::vector<Holder> blockers;
  st.Blockers(st.queue()[pos], pos, &blockers);
  return blockers;
}

void LockEngine::Impl::Deliver(Completions* done) {
  if (!on_complete_) return;
  for (Done& d : *done) on_complete_(d.request_id, std::move(d.status));
}

// ---- Calls ----------------------------------------------------------------

std::optional<RecordLock> LockEngine::Impl::Getlk(std::uint64_t inode, const RecordLock& probe) {
  if (probe.type == LockType::kUnlock || !Validate(probe.type, probe.range).ok())
    return std::nullopt;
  MutexLock l(&mu_);
  auto it = states_.find(inode);
  if (it == states_.end()) return std::nullopt;
  return it->second.posix().FirstConflict(probe.owner, probe.type, probe.range);
}

Status LockEngine::Impl::Setlk(std::uint64_t inode, const RecordLock& lock) {
  SHMHEAP_RETURN_IF_ERROR(Validate(lock.type, lock.range));
  const LockRequest req{0, Holder{LockSpace::kPosix, lock.owner}, lock.type, lock.range, lock.pid};
  Completions done;
  Status s;
  {
    MutexLock l(&mu_);
    std::vector<Holder> blockers;
    s = TryNow(inode, states_[inode], req, &blockers, &done);
    Finish(inode);
  }
  Deliver(&done);
  return s;
}

Status LockEngine::Impl::Setlkw(std::uint64_t id, std::uint64_t inode, const RecordLock& lock) {
  SHMHEAP_RETURN_IF_ERROR(Validate(lock.type, lock.range));
  const LockRequest req{id, Holder{LockSpace::kPosix, lock.owner}, lock.type, lock.range, lock.pid};
  Completions done;
  Status s;
  {
    MutexLock l(&mu_);
    if (lock.type != LockType::kUnlock && requests_.count(id) != 0) {
      return Status::InvalidArgument("request id " + std::to_string(id) + " is already queued");
    }
    s = TryOrWait(inode, states_[inode], req, &done);
    Finish(inode);
  }
  Deliver(&done);
  return s;
}

Status LockEngine::Impl::Flock(std::uint64_t id, std::uint64_t inode, std::uint64_t file,
                               LockType type, bool wait) {
  SHMHEAP_RETURN_IF_ERROR(Validate(type, kWholeFile));
  const LockRequest req{id, Holder{LockSpace::kFlock, file}, type, kWholeFile, 0};
  Completions done;
  Status s;
  {
    MutexLock l(&mu_);
    if (wait && type != LockType::kUnlock && requests_.count(id) != 0) {
      return Status::InvalidArgument("request id " + std::to_string(id) + " is already queued");
    }
    InodeLocks& st = states_[inode];
    const std::optional<LockType> held = st.flock().Find(file);
    if (held == type || (type == LockType::kUnlock && !held)) {
      // Same type again, or nothing to unlock: Linux answers 0 and changes
      // nothing.
    } else if (type == LockType::kUnlock) {
      std::vector<Holder> unused;
      s = TryNow(inode, st, req, &unused, &done);
    } else {
      if (held) {
        // Conversion is release-then-acquire (Linux): others waiting for
        // the released lock get their chance before this request is
        // decided, and may win.
        st.flock().Remove(file);
        SPDLOG_LOGGER_DEBUG(Log(), "inode {}: file {} released its {} flock to convert", inode,
                            file, TypeName(*held));
        Settle(inode, st, &done);
      }
      std::vector<Holder> blockers;
      s = wait ? TryOrWait(inode, st, req, &done) : TryNow(inode, st, req, &blockers, &done);
    }
    Finish(inode);
  }
  Deliver(&done);
  return s;
}

void LockEngine::Impl::Abort(std::uint64_t id, Status status) {
  assert(!status.ok());
  if (status.ok()) status = Status::Interrupted("lock wait aborted");  // never report a grant
  Completions done;
  {
    MutexLock l(&mu_);
    auto it = requests_.find(id);
    if (it == requests_.end()) return;
    const std::uint64_t inode = it->second;
    requests_.erase(it);
    InodeLocks& st = states_.at(inode);
    [[maybe_unused]] LockRequest req = st.queue().Erase(*st.queue().Find(id));
    SPDLOG_LOGGER_DEBUG(Log(), "inode {}: request {} ({}) ended: {}", inode, id, Describe(req),
                        status.ToString());
    done.push_back(Done{id, std::move(status)});
    // The waiter may have been holding up later ones (fairness).
    Settle(inode, st, &done);
    Finish(inode);
  }
  Deliver(&done);
}

void LockEngine::Impl::ReleaseOwner(std::uint64_t inode, std::uint64_t owner) {
  Completions done;
  {
    MutexLock l(&mu_);
    auto it = states_.find(inode);
    if (it == states_.end()) return;
    if (it->second.posix().RemoveOwner(owner)) {
      SPDLOG_LOGGER_DEBUG(Log(), "inode {}: owner {} closed, its locks released", inode, owner);
      Settle(inode, it->second, &done);
    }
    Finish(inode);
  }
  Deliver(&done);
}

void LockEngine::Impl::ReleaseFile(std::uint64_t inode, std::uint64_t file) {
  Completions done;
  {
    MutexLock l(&mu_);
    auto it = states_.find(inode);
    if (it == states_.end()) return;
    InodeLocks& st = it->second;
    const Holder holder{LockSpace::kFlock, file};
    std::vector<LockRequest> cancelled;
    st.queue().EraseIf([&](const LockRequest& w) { return w.holder == holder; }, &cancelled);
    for (const LockRequest& w : cancelled) {
      requests_.erase(w.id);
      done.push_back(Done{w.id, Status::Interrupted("open file released")});
    }
    const bool released = st.flock().Remove(file);
    if (released || !cancelled.empty()) {
      SPDLOG_LOGGER_DEBUG(Log(), "inode {}: file {} released ({} waits cancelled)", inode, file,
                          cancelled.size());
      Settle(inode, st, &done);
    }
    Finish(inode);
  }
  Deliver(&done);
}

void LockEngine::Impl::RetryHeap(std::uint64_t inode) {
  Completions done;
  {
    MutexLock l(&mu_);
    auto it = states_.find(inode);
    if (it == states_.end()) return;
    Settle(inode, it->second, &done);
    Finish(inode);
  }
  Deliver(&done);
}

std::vector<RecordLock> LockEngine::Impl::Locks(std::uint64_t inode) const {
  MutexLock l(&mu_);
  auto it = states_.find(inode);
  return it == states_.end() ? std::vector<RecordLock>{} : it->second.Locks();
}

std::vector<std::uint64_t> LockEngine::Impl::Waiting(std::uint64_t inode) const {
  MutexLock l(&mu_);
  std::vector<std::uint64_t> ids;
  auto it = states_.find(inode);
  if (it == states_.end()) return ids;
  for (std::size_t i = 0; i < it->second.queue().size(); ++i)
    ids.push_back(it->second.queue()[i].id);
  return ids;
}

std::vector<std::uint64_t> LockEngine::Impl::BlockedBy(std::uint64_t id) const {
  MutexLock l(&mu_);
  std::vector<std::uint64_t> out;
  auto blockers = WaiterBlockers(id);
  if (!blockers) return out;
  for (const Holder& h : *blockers) out.push_back(h.Wire());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool LockEngine::Impl::WaitingOnHeap(std::uint64_t id) const {
  MutexLock l(&mu_);
  auto blockers = WaiterBlockers(id);
  // A settled queue holds no waiter with no blockers unless the bridge
  // refused it.
  return blockers.has_value() && blockers->empty();
}

HeapMode LockEngine::Impl::HeldMode(std::uint64_t inode) const {
  MutexLock l(&mu_);
  auto it = states_.find(inode);
  return it == states_.end() ? HeapMode::kNone : it->second.held();
}

// ---- LockEngine: forwards to Impl ------------------------------------------

LockEngine::LockEngine(HeapLockBridge* bridge, Completion on_complete)
    : impl_(std::make_unique<Impl>(bridge, std::move(on_complete))) {}
LockEngine::~LockEngine() = default;

std::optional<RecordLock> LockEngine::Getlk(std::uint64_t inode, const RecordLock& probe) {
  return impl_->Getlk(inode, probe);
}
Status LockEngine::Setlk(std::uint64_t inode, const RecordLock& lock) {
  return impl_->Setlk(inode, lock);
}
Status LockEngine::Setlkw(std::uint64_t request_id, std::uint64_t inode, const RecordLock& lock) {
  return impl_->Setlkw(request_id, inode, lock);
}
Status LockEngine::Flock(std::uint64_t request_id, std::uint64_t inode, std::uint64_t file,
                         LockType type, bool wait) {
  return impl_->Flock(request_id, inode, file, type, wait);
}
void LockEngine::Cancel(std::uint64_t request_id) {
  impl_->Abort(request_id, Status::Interrupted("lock wait interrupted"));
}
void LockEngine::Abort(std::uint64_t request_id, Status status) {
  impl_->Abort(request_id, std::move(status));
}
void LockEngine::ReleaseOwner(std::uint64_t inode, std::uint64_t owner) {
  impl_->ReleaseOwner(inode, owner);
}
void LockEngine::ReleaseFile(std::uint64_t inode, std::uint64_t file) {
  impl_->ReleaseFile(inode, file);
}
void LockEngine::RetryHeap(std::uint64_t inode) { impl_->RetryHeap(inode); }
std::vector<RecordLock> LockEngine::Locks(std::uint64_t inode) const { return impl_->Locks(inode); }
std::vector<std::uint64_t> LockEngine::Waiting(std::uint64_t inode) const {
  return impl_->Waiting(inode);
}
std::vector<std::uint64_t> LockEngine::BlockedBy(std::uint64_t request_id) const {
  return impl_->BlockedBy(request_id);
}
bool LockEngine::WaitingOnHeap(std::uint64_t request_id) const {
  return impl_->WaitingOnHeap(request_id);
}
HeapMode LockEngine::HeldMode(std::uint64_t inode) const { return impl_->HeldMode(inode); }

}  // namespace shmheap::lockd
