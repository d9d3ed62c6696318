// HeapImpl: attach, detach, the heap-mutex operation guard, recovery after a
// dead mutex owner, and reaping of dead clients.
#include "heap/src/heap_impl.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>

#include "heap/src/log.h"
#include "heap/src/recovery.h"

namespace shmheap {

using format::ClientSlot;
using format::HoldEntry;
using format::ObjectRecord;

namespace {

std::atomic<std::uint64_t> g_next_owner{1};
// Bumped in every forked child: a handle attached in an earlier generation
// belongs to the parent. (Cheaper than comparing getpid() on every call.)
std::atomic<std::uint64_t> g_fork_generation{0};

// Heaps attached by this process, so a forked child can close their
// descriptors (and with them its share of the parent's liveness locks).
std::mutex g_heaps_mu;
std::set<BackingFile*>& AttachedFiles() {
  static std::set<BackingFile*> files;
  return files;
}

void CloseInChild() {
  // After fork only this thread exists; g_heaps_mu may be held by a thread
  // that is gone, so do not lock it.
  for (BackingFile* f : AttachedFiles()) f->Close();
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
}

void RegisterAtFork() {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(nullptr, nullptr, CloseInChild); });
}

}  // namespace

OwnerToken NewOwnerToken() noexcept { return g_next_owner.fetch_add(1, std::memory_order_relaxed); }

OwnerToken ThreadOwner() noexcept {
  thread_local const OwnerToken token = NewOwnerToken();
  return token;
}

Result<std::unique_ptr<Heap>> Heap::Open(const std::string& path, const Options& options) {
  auto h = HeapImpl::Attach(path, options);
  if (!h.ok()) return h.status();
  return std::unique_ptr<Heap>(std::move(*h));
}

// ------------------------------------------------------------------ Op

HeapImpl::Op::Op(HeapImpl* heap, bool attaching) : heap_(heap) {
  Status s = heap_->mutex_->LockFor(-1, attaching);
  if (s.Is(Code::kOwnerDead)) heap_->RecoverAfterDeadOwner();
}

void HeapImpl::Op::IndexWrite() {
  if (!index_write_) heap_->index_->BeginWrite();
  index_write_ = true;
}

void HeapImpl::Op::Finish() {
  heap_->arena_->ApplyCounts();  // nothing to apply, unless a read allocated
  heap_->log_->Commit();
  committed_ = true;
}

Status HeapImpl::Op::Commit() {
  SHMHEAP_RETURN_IF_ERROR(heap_->arena_->FlushFrees());
  heap_->log_->Commit();
  committed_ = true;
  heap_->arena_->PunchHoles();  // still under the heap mutex (see PunchHoles)
  return Status::Ok();
}

HeapImpl::Op::~Op() {
  if (!committed_) {
    heap_->arena_->DropFrees();
    auto undone = heap_->log_->Rollback();
    if (!undone.ok()) {
      Log()->error("{}: rolling back a failed operation: {}", heap_->path_, undone.status().ToString());
    }
    if (heap_->holds_) heap_->holds_->Reload();
  }
  if (index_write_) heap_->index_->EndWrite();
  heap_->mutex_->Unlock();
}

void HeapImpl::RecoverAfterDeadOwner() {
  auto undone = log_->Rollback();
  if (!undone.ok()) {
    Log()->error("{}: undo log is corrupt, cannot roll back: {}", path_, undone.status().ToString());
    return;
  }
  index_->ResetSeq();
  auto* sb = space_->sb();
  log_->Set(sb->recoveries, sb->recoveries + 1);
  log_->Commit();
  Log()->warn("{}: rolled back {} metadata writes of an operation interrupted by a dead process", path_, *undone);
}

// -------------------------------------------------------------- attach

Result<std::unique_ptr<HeapImpl>> HeapImpl::Attach(const std::string& path, const Options& options) {
  std::unique_ptr<HeapImpl> h(new HeapImpl());  // private constructor: make_unique cannot reach it
  h->path_ = path;
  h->read_only_ = options.mode == OpenMode::kReadOnly;
  const bool may_create = options.mode == OpenMode::kCreate || options.mode == OpenMode::kOpenOrCreate;
  auto file = BackingFile::Open(path, h->read_only_);
  if (file.ok() && options.mode == OpenMode::kCreate) return Status::AlreadyExists(path);
  if (!file.ok() && file.code() == Code::kNotFound && may_create) {
    const std::uint64_t max = options.max_size ? options.max_size : kDefaultMaxSize;
    const std::uint64_t init = options.initial_size ? options.initial_size : kDefaultInitialSize;
    file = BackingFile::CreateAtomically(path, options.file_mode,
                                         [&](BackingFile& f) { return FormatHeap(f, init, max); });
    if (file.ok()) Log()->info("created heap {} (max {} bytes)", path, max);
    if (!file.ok() && file.code() == Code::kAlreadyExists && options.mode == OpenMode::kOpenOrCreate) {
      file = BackingFile::Open(path, false);  // lost a creation race: use the winner's heap
    }
  }
  if (!file.ok()) return file.status();
  h->file_ = std::move(*file);
  auto sb = ReadSuperblock(h->file_);
  if (!sb.ok()) return sb.status();
  const std::uint64_t window = std::min(sb->max_size, Mapping::MaxWindow());
  if (sb->file_size > window) {
    return Status::NotSupported(path + ": heap of " + std::to_string(sb->file_size) +
                                " bytes is larger than this process can map");
  }
  auto map = Mapping::Map(h->file_.fd(), window, !h->read_only_);
  if (!map.ok()) return map.status();
  h->map_ = std::move(*map);
  h->space_ = std::make_unique<Space>(h->map_.base(), window, &h->file_, sb->file_size);
  h->log_ = std::make_unique<UndoLog>(h->space_.get());
  h->arena_ = std::make_unique<Arena>(h->space_.get(), h->log_.get(), &h->file_);
  h->records_ = std::make_unique<RecordTable>(h->space_.get(), h->log_.get(), h->arena_.get());
  h->index_ = std::make_unique<ObjectIndex>(h->space_.get(), h->log_.get(), h->arena_.get(), h->records_.get());
  h->clients_ = std::make_unique<ClientTable>(h->space_.get(), h->log_.get(), &h->file_);
  h->attach_pid_ = ::getpid();
  RegisterAtFork();
  h->fork_generation_ = g_fork_generation.load(std::memory_order_relaxed);
  if (!h->read_only_) SHMHEAP_RETURN_IF_ERROR(h->AttachClient());
  std::lock_guard<std::mutex> g(g_heaps_mu);
  AttachedFiles().insert(&h->file_);
  return h;
}

Status HeapImpl::AttachClient() {
  auto slot = clients_->Reserve();
  if (!slot.ok()) return slot.status().WithContext(path_);
  slot_ = *slot;
  mutex_ = std::make_unique<HeapMutex>(&space_->sb()->heap_mutex, slot_,
                                       [this](std::uint32_t s) { return clients_->LivenessLost(s, slot_); });
  // Read /proc before taking the mutex: a process killed while holding it
  // must have had as short a window as possible.
  const ProcessIdentity me = ProcessIdentity::Current();
  bool unclean = false;
  {
    Op op(this, /*attaching=*/true);
    auto* sb = space_->sb();
    clients_->Fill(slot_, me);
    bool others = false;
    for (std::uint32_t s : clients_->Attached()) others |= (s != slot_ && !IsDead(s));
    unclean = !others && sb->clean_state != format::kStateCleanClose;
    log_->Set(sb->clean_state, format::kStateOpen);
    SHMHEAP_RETURN_IF_ERROR(op.Commit());
  }
  holds_ = std::make_unique<HoldTable>(space_.get(), clients_->Get(slot_));
  holds_->Reload();
  ObjectLocks::Hooks hooks;
  hooks.reserve_holds = [this] {
    Op op(this);
    SHMHEAP_RETURN_IF_ERROR(holds_->Reserve(arena_.get(), log_.get(), 64));
    return op.Commit();
  };
  hooks.reap = [this] { ReapDeadClients(); };
  locks_ = std::make_unique<ObjectLocks>(space_.get(), records_.get(), clients_.get(), holds_.get(), slot_,
                                         std::move(hooks));
  if (unclean) Log()->warn("{}: heap was not closed cleanly; recovering", path_);
  ReapDeadClients();
  Log()->info("attached heap {} ({} bytes, format {}, client slot {})", path_, space_->sb()->file_size,
              space_->sb()->format_version, slot_);
  return Status::Ok();
}

HeapImpl::~HeapImpl() {
  {
    std::lock_guard<std::mutex> g(g_heaps_mu);
    AttachedFiles().erase(&file_);
  }
  if (read_only_ || !holds_) return;
  if (!CheckWritable().ok()) return;  // a forked child: the parent still owns the slot
  DetachClient();
}

void HeapImpl::DetachClient() {
  // Release locks and pins first (each in its object's section).
  struct Held {
    std::uint64_t index, owner;
    std::uint32_t mode, count;
  };
  std::vector<Held> held;
  {
    std::lock_guard<std::mutex> g(holds_->mu());
    ForEachHold(*space_, *clients_->Get(slot_), [&](HoldEntry& e) {
      held.push_back({LoadRelaxed(e.record) - 1, LoadRelaxed(e.owner), LoadRelaxed(e.mode) & 0xFF, LoadRelaxed(e.count)});
    });
  }
  for (const Held& h : held) {
    if (h.mode == format::kHoldRead || h.mode == format::kHoldWrite) {
      for (std::uint32_t i = 0; i < h.count; ++i) {
        auto rel = locks_->Unlock(h.index, h.owner);
        if (!rel.ok()) break;
        if (rel->released) (void)AfterRelease(h.index, *rel);
      }
    } else if (h.mode == format::kHoldPin) {
      for (std::uint32_t i = 0; i < h.count; ++i) {
        auto rel = locks_->Unpin(h.index, h.owner);
        if (!rel.ok()) break;
        if (rel->released) (void)AfterRelease(h.index, *rel);
      }
    }
  }
  ReapClient(slot_, true);  // references, wait entries, the hold table, the slot
  bool last = false;
  {
    Op op(this);
    bool others = false;
    for (std::uint32_t s : clients_->Attached()) others |= !IsDead(s);
    last = !others;
    if (last) log_->Set(space_->sb()->clean_state, format::kStateCleanClose);
    Status c = op.Commit();
    if (!c.ok()) Log()->error("{}: detach: {}", path_, c.ToString());
  }
  clients_->DropLiveness(slot_);
  if (last) {
    Status s = Flush();
    if (!s.ok()) Log()->error("{}: flush at detach: {}", path_, s.ToString());
  }
  Log()->debug("detached heap {} (client slot {})", path_, slot_);
}

Status HeapImpl::CheckWritable() const {
  if (read_only_) return Status::Permission(path_ + " is attached read-only");
  if (g_fork_generation.load(std::memory_order_relaxed) != fork_generation_) {
    return Status::InvalidArgument(path_ + ": heap handle used in a forked child; attach the heap again");
  }
  return Status::Ok();
}

Status HeapImpl::Flush() {
  SHMHEAP_RETURN_IF_ERROR(map_.Sync(0, space_->limit()));
  return file_.Sync();
}

// --------------------------------------------------------------- reaping

void HeapImpl::ReapDeadClients() {
  if (read_only_ || !holds_ || CheckWritable().ok() == false) return;
  bool reaped = false;
  for (std::uint32_t s : clients_->Attached()) {
    if (!IsDead(s)) continue;
    const ClientSlot* c = clients_->Get(s);
    Log()->warn("{}: reaping client slot {} (pid {} on {}), which died attached", path_, s, c->pid, c->host);
    reaped |= ReapClient(s, false);
  }
  if (reaped) SweepUnheld();
}

bool HeapImpl::ReapClient(std::uint32_t slot, bool self) {
  ClientSlot* c = clients_->Get(slot);
  if (!c) return false;
  const std::uint64_t nonce = c->nonce;
  // Still this client, still needing a reaper? (Checked in every operation:
  // another process may be reaping it too, or have finished and reused it.)
  auto ours = [&] { return c->nonce == nonce && c->state == format::kClientAttached && (self || IsDead(slot)); };
  std::vector<HoldEntry*> entries;
  ForEachHold(*space_, *c, [&](HoldEntry& e) { entries.push_back(&e); });
  for (HoldEntry* e : entries) {
    Op op(this);
    if (!ours()) return false;
    if (LoadRelaxed(e->record) == 0) continue;  // released meanwhile
    const std::uint64_t index = LoadRelaxed(e->record) - 1;
    ObjectRecord* r = Record(index);
    if (!r) {
      log_->SetAtomic(e->record, std::uint64_t{0});
    } else if ((LoadRelaxed(e->mode) & 0xFF) == format::kHoldRef) {
      const std::uint32_t count = LoadRelaxed(e->count);
      log_->Set(r->refs, r->refs >= count ? r->refs - count : 0u);
      log_->SetAtomic(e->record, std::uint64_t{0});
      (void)MaybeFreeOrphan(index);
    } else {
      std::uint32_t st = locks_->Enter(*r, index);  // may recount: dead locks become pins
      const std::uint32_t held = LoadRelaxed(e->mode) & 0xFF;
      bool wake = (st & format::kLockWaiters) != 0;
      if (held == format::kHoldRead && (st & format::kLockReadersMask)) {
        st -= 1;
        wake = true;
      } else if (held == format::kHoldWrite) {
        st &= ~format::kLockWriter;
        AtomicField(r->version).fetch_add(1);
        wake = true;
      }
      const std::uint64_t pinned = LoadRelaxed(e->pinned_data);
      const std::uint64_t retired = (pinned && pinned != r->data_off) ? pinned : 0;
      // Cleared inside the section and unlogged, like the lock word it pairs
      // with: a rollback must not bring back a hold whose effect on the lock
      // word stays. (If this reaper dies before committing, the frees below
      // are rolled back and SweepUnheld finds what they would have freed.)
      AtomicField(e->record).store(0, std::memory_order_release);
      locks_->Exit(*r, st, wake);
      if (retired) (void)MaybeFreeRetired(retired);
      if (r->state == format::kRecordOrphan) (void)MaybeFreeOrphan(index);
    }
    Status s = op.Commit();
    if (!s.ok()) {
      Log()->error("{}: reaping client slot {}: {}", path_, slot, s.ToString());
      return false;
    }
  }
  // Lock sections the client died inside of.
  if (!self) {
    const std::uint32_t mark = (slot + 1) << format::kLockSectionShift;
    for (std::uint64_t i = 0, n = records_->high(); i < n; ++i) {
      ObjectRecord* r = Record(i);
      if (r && (AtomicField(r->lock_word).load(std::memory_order_relaxed) & format::kLockSectionMask) == mark) {
        std::uint32_t st = locks_->Enter(*r, i);
        locks_->Exit(*r, st, true);
      }
    }
  }
  // Free the hold table and the slot.
  Op op(this);
  if (!ours()) return false;
  std::uint64_t seg = c->holds_off;
  for (int i = 0; seg != 0 && i < 40; ++i) {
    auto* hs = space_->At<format::HoldSegment>(seg);
    if (!hs) break;
    std::uint64_t next = hs->next;
    if (!arena_->Free(seg).ok()) break;
    seg = next;
  }
  clients_->Release(slot);
  Status s = op.Commit();
  if (!s.ok()) Log()->error("{}: releasing client slot {}: {}", path_, slot, s.ToString());
  return s.ok();
}

void HeapImpl::SweepUnheld() {
  // Orphans nothing references, locks or pins any more.
  for (std::uint64_t i = 0, n = records_->high(); i < n; ++i) {
    ObjectRecord* r = Record(i);
    if (!r || r->state != format::kRecordOrphan || r->refs != 0) continue;
    Op op(this);
    if (MaybeFreeOrphan(i).ok()) (void)op.Commit();
  }
  // Retired versions nothing pins any more.
  struct Retired : Arena::ChunkVisitor {
    const Space* space;
    std::vector<std::uint64_t> found;
    void Chunk(std::uint64_t off, std::uint64_t, std::uint64_t) override {
      auto* h = space->At<format::ChunkHeader>(off - sizeof(format::ChunkHeader));
      if (h && h->flags == format::kChunkRetired) found.push_back(off);
    }
  } retired;
  retired.space = space_.get();
  {
    Op op(this);
    std::vector<std::string> ignored;
    arena_->Check(&ignored, &retired);
    op.Finish();
  }
  for (std::uint64_t off : retired.found) {
    Op op(this);
    if (MaybeFreeRetired(off).ok()) (void)op.Commit();
  }
}

}  // namespace shmheap
