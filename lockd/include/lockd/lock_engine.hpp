// shmheap::lockd::LockEngine: POSIX record locks (fcntl F_GETLK/F_SETLK/
// F_SETLKW, OFD locks) and flock(2) locks on the object files of a shmheapfs
// mount, and their mapping onto the heap's per-object READ/WRITE locks.
//
// The engine is pure logic: it never sleeps, starts no threads and makes no
// system calls. A request that has to wait returns kPending and completes
// later through the Completion callback, so the FUSE daemon owns every
// thread. The exact rules (conflicts, fairness, deadlock, release, heap
// mapping) are in lockd/README.md.
//
// Thread safety: a LockEngine may be called from any number of threads at
// once; one internal mutex serialises all calls. Completions run after that
// mutex is released, on the thread whose call caused them, so a completion
// may call back into the engine. HeapLockBridge calls are made WITH the
// mutex held: a bridge must not block and must not call into the engine.
#ifndef SHMHEAP_LOCKD_LOCK_ENGINE_HPP_
#define SHMHEAP_LOCKD_LOCK_ENGINE_HPP_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shmheap/status.hpp>
#include <vector>

namespace shmheap::lockd {

// The kind of a lock request or a held lock. kUnlock only appears in
// requests (F_UNLCK, LOCK_UN); held locks are kRead or kWrite.
enum class LockType : std::uint8_t { kRead, kWrite, kUnlock };

// A range end meaning "to end of file, including any future growth".
// FUSE reports that end as OFFSET_MAX (INT64_MAX): fs/ converts both ways.
inline constexpr std::uint64_t kEof = ~0ull;

// Bit set in the owner of a flock lock as reported by Locks() and BlockedBy():
// owner = file | kFlockOwnerBit. (A POSIX owner with this bit set reads the
// same; the engine itself keeps the two kinds apart.)
inline constexpr std::uint64_t kFlockOwnerBit = 1ull << 63;

// Byte range [start, end], both inclusive; end == kEof is unbounded.
// Valid when start <= end.
struct Range {
  std::uint64_t start;
  std::uint64_t end;
  friend bool operator==(const Range&, const Range&) = default;
};

// One lock (held or requested). `owner` is the FUSE lock owner (for OFD
// locks: the open file); `pid` is the process the kernel named, reported by
// Getlk. Flock locks appear with owner = file | kFlockOwnerBit, range
// [0, kEof] and pid 0.
struct RecordLock {
  LockType type;
  Range range;
  std::uint64_t owner;
  std::uint32_t pid;
  friend bool operator==(const RecordLock&, const RecordLock&) = default;
};

// The heap object lock mode the file users of one object need. Ordered:
// kNone < kRead < kWrite.
enum class HeapMode : std::uint8_t { kNone, kRead, kWrite };

// Keeps the heap object lock in step with the file locks of one object.
// The daemon holds ONE heap lock per object on behalf of all file users
// ("collective" owner); the engine tells it which mode the file users need.
// Both functions are called with the engine's mutex held: they must not
// block and must not call back into the engine.
class HeapLockBridge {
 public:
  virtual ~HeapLockBridge() = default;
  // File users of `inode` now need at least `mode` (always stronger than the
  // mode last acquired or reduced to). Must not block.
  // Ok: held in that mode now. kBusy: a library client holds a conflicting
  // heap lock (the engine keeps the request waiting or answers kBusy). Any
  // other error is returned by Setlk/Setlkw/Flock as it is; for a request
  // already queued it counts as kBusy (the request keeps waiting).
  virtual shmheap::Status TryAcquire(std::uint64_t inode, HeapMode mode) = 0;
  // File users of `inode` need only `mode` now (kNone = release; always
  // weaker than the mode held). Never fails.
  virtual void Reduce(std::uint64_t inode, HeapMode mode) = 0;
};

class LockEngine {
 public:
  // Called when a queued request completes: Ok (granted), kInterrupted
  // (cancelled, or its open file was released), or whatever status was
  // given to Abort (e.g. kDeadlock from fs-level cross-system detection).
  // Invoked after the engine's mutex is released, on the thread whose call
  // caused it, in the order the requests completed; it may call the engine.
  // It may run on another thread before Setlkw/Flock has returned kPending
  // to the caller: register the request before calling.
  using Completion = std::function<void(std::uint64_t request_id, shmheap::Status)>;

  // `bridge` may be nullptr (no heap coupling: every TryAcquire succeeds);
  // otherwise it must outlive the engine. Never fails.
  LockEngine(HeapLockBridge* bridge, Completion on_complete);
  ~LockEngine();
  LockEngine(const LockEngine&) = delete;
  LockEngine& operator=(const LockEngine&) = delete;

  // F_GETLK: the first granted POSIX lock (lowest start, then lowest owner)
  // that would conflict with `probe` (whose owner is the asking owner), with
  // its full range and its holder's pid; nullopt (F_UNLCK) if none, or if the
  // probe is kUnlock or has an invalid range. Flock locks, waiting requests
  // and library clients' heap locks are not considered. Never blocks.
  std::optional<RecordLock> Getlk(std::uint64_t inode, const RecordLock& probe);

  // F_SETLK (also unlock via kUnlock): sets lock.owner's locks over
  // lock.range to lock.type, splitting and merging as POSIX says.
  // Errors: kBusy (-> EAGAIN) on a conflicting lock of another owner, on an
  // earlier waiting request it would have to queue behind, or when the heap
  // lock is held by a library client; kInvalidArgument for start > end or a
  // bad type; another bridge error as returned. On error nothing changes.
  // Never blocks. Unlock always succeeds.
  shmheap::Status Setlk(std::uint64_t inode, const RecordLock& lock);

  // F_SETLKW. Ok: granted now. kPending: queued; completion comes later
  // through on_complete(request_id, ...). kDeadlock: waiting would close a
  // wait-for cycle through lock.owner (nothing queued, nothing changed).
  // kInvalidArgument: as Setlk, or request_id is already queued. The owner
  // keeps its current locks while it waits (an upgrade is atomic).
  shmheap::Status Setlkw(std::uint64_t request_id, std::uint64_t inode, const RecordLock& lock);

  // flock(2) for open file `file` (whole-file; LOCK_SH=kRead, LOCK_EX=kWrite,
  // LOCK_UN=kUnlock). wait=false: kBusy on conflict. wait=true: like Setlkw.
  // Converting shared<->exclusive is not atomic (Linux semantics: release,
  // then acquire; on kBusy/kDeadlock the file holds no flock lock). The same
  // type again is a no-op returning Ok. Errors as Setlk/Setlkw.
  shmheap::Status Flock(std::uint64_t request_id, std::uint64_t inode, std::uint64_t file,
                        LockType type, bool wait);

  // A signal interrupted the waiter: complete `request_id` with kInterrupted,
  // leaving no lock and no waiter behind (requests it held up are
  // re-evaluated). No-op if not queued.
  void Cancel(std::uint64_t request_id);

  // Like Cancel, but completes `request_id` with `status` (REQUIRES: not
  // ok; e.g. kDeadlock found by fs-level cross-system detection). No-op if
  // not queued.
  void Abort(std::uint64_t request_id, shmheap::Status status);

  // close() of any descriptor by the process owning `owner` (FUSE flush):
  // drops all of owner's POSIX locks on inode. The owner's queued requests
  // stay queued (another thread of the process may be waiting). Flock locks
  // are untouched.
  void ReleaseOwner(std::uint64_t inode, std::uint64_t owner);

  // Last close of open file `file` (FUSE release): drops its flock lock and
  // completes its queued flock requests with kInterrupted. POSIX locks are
  // untouched (OFD locks: call ReleaseOwner with the open file's owner too).
  void ReleaseFile(std::uint64_t inode, std::uint64_t file);

  // The heap lock of `inode` may have become available (a library client
  // unlocked): retry requests waiting on the bridge.
  void RetryHeap(std::uint64_t inode);

  // For diagnostics and fs-level cross-checks: all granted locks on inode,
  // POSIX locks first (by owner, then start), then flock locks (by file).
  std::vector<RecordLock> Locks(std::uint64_t inode) const;

  // The ids of the requests queued on inode, oldest first.
  std::vector<std::uint64_t> Waiting(std::uint64_t inode) const;

  // Owners (and flock files, as file | kFlockOwnerBit) that the waiting
  // request `request_id` is blocked by, sorted, without duplicates, for
  // cross-system deadlock detection: holders of conflicting locks and
  // earlier waiters it queued behind. Empty if not queued, or if it waits
  // only for the heap lock (see WaitingOnHeap).
  std::vector<std::uint64_t> BlockedBy(std::uint64_t request_id) const;

  // True if `request_id` is queued and waits only because the bridge
  // answered kBusy (a library client holds the heap lock).
  bool WaitingOnHeap(std::uint64_t request_id) const;

  // The aggregate heap mode the file users of inode currently hold (the
  // mode last acquired from or reduced to at the bridge).
  HeapMode HeldMode(std::uint64_t inode) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmheap::lockd

#endif  // SHMHEAP_LOCKD_LOCK_ENGINE_HPP_
