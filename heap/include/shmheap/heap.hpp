// shmheap::Heap: the C++ API of libshmheap.
//
// A heap is a persistent, relocatable malloc-style arena kept in one backing
// file and mapped by every attached process. Objects are allocated in it with
// malloc semantics and may carry a unique name (1..255 bytes, no '/', no NUL).
// Named objects have a persistent identity (ObjectId: inode number plus
// generation, never reused while the heap exists), a version that changes on
// every write-unlock, resize and replace, attributes, a type string, and
// process-shared READ/WRITE locks owned by owner tokens.
//
// Thread safety: a Heap may be used from any number of threads at once.
// Process safety: any number of processes may attach the same file; every
// metadata change is atomic with respect to kill -9 of any of them, and locks
// held by a process that dies are released.
//
// Addresses: a span or pointer returned by the heap stays valid while this
// process stays attached and the object (or the version a lock or pin holds)
// exists. Heaps are never remapped: growth by any process becomes visible in
// place. A pointer obtained without a lock (Find) may be invalidated by a
// concurrent Remove, Resize or Replace in another process.
//
// Errors are Status/Result values (status.hpp); no function throws for an
// expected failure. Functions that can block say so.
#ifndef SHMHEAP_HEAP_HPP_
#define SHMHEAP_HEAP_HPP_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <shmheap/status.hpp>

namespace shmheap {

// How Open treats the backing file (Boost.Interprocess creation tags).
enum class OpenMode {
  kCreate,        // create; kAlreadyExists if the file exists
  kOpen,          // open an existing heap; kNotFound otherwise
  kOpenOrCreate,  // open, creating it if missing
  kReadOnly,      // open an existing heap read-only (no locks, no changes)
};

enum class LockMode : int { kRead = 1, kWrite = 2 };

// Default maximum size of a new heap when Options::max_size is 0.
inline constexpr std::uint64_t kDefaultMaxSize = 64ull << 30;

struct Options {
  OpenMode mode = OpenMode::kOpenOrCreate;
  // Maximum size for a new heap (0: kDefaultMaxSize). Fixed at creation;
  // ignored when opening an existing heap.
  std::uint64_t max_size = 0;
  // Initial file size of a new heap (0: 1 MiB).
  std::uint64_t initial_size = 0;
  // Permission bits of a new backing file.
  unsigned file_mode = 0600;
};

// Identifies a named object for the life of the heap. inode is the object's
// persistent inode number (>= 1); generation distinguishes reuses of it.
struct ObjectId {
  std::uint64_t inode = 0;
  std::uint64_t generation = 0;
  bool operator==(const ObjectId&) const = default;
};

// A lock owner. Locks nest per owner; different owners exclude each other
// (READ/READ compatible). ThreadOwner() is a distinct token per thread.
using OwnerToken = std::uint64_t;
OwnerToken ThreadOwner() noexcept;
// A fresh token, unique in this process (for owners that are not threads).
OwnerToken NewOwnerToken() noexcept;

struct ObjectAttr {
  std::uint32_t mode = 0100644;  // st_mode
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

struct ObjectInfo {
  ObjectId id;
  std::string name;         // empty for an orphan (unlinked but still held)
  std::uint64_t size = 0;
  std::uint64_t capacity = 0;
  std::uint64_t offset = 0;  // file offset of the data in the backing file
  std::uint64_t version = 0;
  std::string type;
  ObjectAttr attr;
  std::int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
  std::string lock_state;   // "-", "R2", "W", ...
  std::uint32_t refs = 0;
};

struct ClientInfo {
  std::uint32_t slot = 0;
  std::uint32_t pid = 0;
  std::string host;
  std::uint64_t start_ticks = 0;
  std::int64_t attach_time_ns = 0;
  std::uint32_t word_size = 0;  // 32 or 64
  bool alive = false;
  bool self = false;
};

struct HeapStats {
  std::uint64_t file_size = 0;
  std::uint64_t max_size = 0;
  std::uint64_t objects = 0;          // named objects
  std::uint64_t object_bytes = 0;     // sum of named objects' sizes
  std::uint64_t allocations = 0;      // live chunks (named, anonymous, internal)
  std::uint64_t chunk_bytes = 0;      // usable bytes in live chunks
  std::uint64_t free_bytes = 0;       // in free runs
  std::uint64_t free_runs = 0;
  std::uint64_t largest_free_run = 0; // bytes
  double internal_fragmentation = 0;  // 1 - chunk_bytes / bytes in used blocks
  double external_fragmentation = 0;  // 1 - largest_free_run / free_bytes
  std::uint32_t clients = 0;
  std::uint64_t recoveries = 0;
  std::string uuid;
};

class Heap;
class HeapImpl;

// RAII object lock: unlocks on destruction. Obtained from Heap::Lock.
class [[nodiscard]] LockGuard {
 public:
  LockGuard() = default;
  LockGuard(LockGuard&& other) noexcept;
  LockGuard& operator=(LockGuard&& other) noexcept;
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;
  ~LockGuard();

  // The locked version's bytes (valid until Unlock).
  std::span<std::byte> data() const noexcept { return data_; }
  ObjectId id() const noexcept { return id_; }
  bool held() const noexcept { return heap_ != nullptr; }
  // Releases now. Errors as Heap::Unlock.
  Status Unlock();

 private:
  friend class Heap;
  friend class HeapImpl;
  LockGuard(Heap* heap, ObjectId id, OwnerToken owner, std::span<std::byte> data)
      : heap_(heap), id_(id), owner_(owner), data_(data) {}
  Heap* heap_ = nullptr;
  ObjectId id_;
  OwnerToken owner_ = 0;
  std::span<std::byte> data_;
};

class Heap {
 public:
  // Attaches (and if asked, creates) the heap in `path`. Blocks briefly while
  // another process holds the heap mutex; recovers a heap left by a crash.
  // Errors: kNotFound, kAlreadyExists, kPermission, kCorruption (bad magic,
  // sizes or offsets; message says which), kVersionMismatch, kNotSupported
  // (heap too large for a 32-bit process), kNoSpace, kIOError.
  static Result<std::unique_ptr<Heap>> Open(const std::string& path, const Options& options = {});

  // Checks every invariant of the heap file at `path` without modifying it
  // (opened read-only). Returns the problems found (empty: consistent), or
  // an error if the file cannot be read as a heap at all. It cannot take the
  // heap mutex, so it checks a snapshot no operation of another process
  // changed; kBusy if it found none in about 2 s.
  static Result<std::vector<std::string>> Check(const std::string& path);

  // Detaches: releases every lock, pin and reference this Heap holds, and
  // marks the heap cleanly closed if this was the last client.
  virtual ~Heap() = default;
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  // ---- allocation (PUPS shmalloc / shrealloc / shfree) ----

  // Allocates a named object of `size` bytes (zero-filled).
  // Errors: kAlreadyExists (name taken), kInvalidArgument (bad name), kNoSpace.
  virtual Result<std::span<std::byte>> Allocate(std::string_view name, std::size_t size,
                                                const ObjectAttr& attr = {}) = 0;
  // Allocates anonymous memory (not zero-filled). Errors: kNoSpace.
  virtual Result<std::span<std::byte>> AllocateAnonymous(std::size_t size) = 0;
  // Frees memory from Allocate/AllocateAnonymous/Realloc. For a named object
  // this removes it (as Remove), releasing this process's locks on it.
  // Errors: kInvalidArgument (not an allocation of this heap).
  virtual Status Free(void* ptr) = 0;
  // Resizes an allocation, moving it if needed (named objects keep their
  // name and identity; their version changes). Errors: kInvalidArgument, kNoSpace.
  virtual Result<void*> Realloc(void* ptr, std::size_t size) = 0;

  // ---- named objects ----

  // The object's bytes, without locking. Errors: kNotFound.
  virtual Result<std::span<std::byte>> Find(std::string_view name) = 0;
  virtual Result<ObjectId> Lookup(std::string_view name) = 0;
  virtual Result<ObjectInfo> Stat(std::string_view name) = 0;
  virtual Result<ObjectInfo> Stat(ObjectId id) = 0;
  // Current version (changes on write-unlock, resize, replace, write).
  virtual Result<std::uint64_t> Version(std::string_view name) = 0;
  // ObjLayer validTest: true if `version` is still the current one.
  virtual Result<bool> IsCurrent(std::string_view name, std::uint64_t version) = 0;
  // Publishes `bytes` as the object's new version, atomically. Holders of
  // locks or pins on the old version keep reading it until they release it.
  // Errors: kNotFound, kNoSpace.
  virtual Status Replace(std::string_view name, std::span<const std::byte> bytes) = 0;
  // Removes the name. The object's memory is freed when the last lock, pin
  // and reference on it is released. Errors: kNotFound.
  virtual Status Remove(std::string_view name) = 0;
  // Renames atomically. If `to` exists it is replaced (removed as by Remove)
  // unless `no_replace` (then kAlreadyExists). Errors: kNotFound, kInvalidArgument.
  virtual Status Rename(std::string_view from, std::string_view to, bool no_replace = false) = 0;
  // The PUPS type-information table. `type` is at most 255 bytes.
  virtual Status SetType(std::string_view name, std::string_view type) = 0;
  // All named objects (PUPS map_show data), in index order.
  virtual std::vector<ObjectInfo> List() = 0;

  // ---- locks (PUPS msm_lockobjectname) ----

  // Locks `name` for `owner`, waiting up to `timeout` (nullopt: forever).
  // Returns a guard whose data() is the locked version. Nesting by the same
  // owner is allowed; READ -> WRITE upgrades when the owner is the sole reader.
  // Errors: kNotFound, kTimedOut, kDeadlock (waiting would close a cycle of
  // waiting owners, across processes), kNoSpace (hold table cannot grow).
  // Blocks. A lock whose holder dies is released within about 50 ms.
  virtual Result<LockGuard> Lock(std::string_view name, LockMode mode, OwnerToken owner = ThreadOwner(),
                                 std::optional<std::chrono::nanoseconds> timeout = std::nullopt) = 0;
  // Like Lock but never waits: kBusy if the lock is taken.
  virtual Result<LockGuard> TryLock(std::string_view name, LockMode mode, OwnerToken owner = ThreadOwner()) = 0;
  // Lock without a guard (the C API); Unlock releases one nesting level.
  virtual Result<std::span<std::byte>> LockRaw(std::string_view name, LockMode mode, OwnerToken owner,
                                               std::int64_t timeout_ns) = 0;
  // If `data` is given, it receives the object's data as of just before the
  // release (what Find would have returned), from the same lookup.
  virtual Status UnlockByName(std::string_view name, OwnerToken owner, std::span<std::byte>* data = nullptr) = 0;
  virtual Status Unlock(ObjectId id, OwnerToken owner) = 0;

  // ---- by id: what a file system needs ----
  // Ids stay valid while the object exists, across renames; a removed
  // object's id gives kStale (also after its record is reused).

  // Creates a named object of `size` zero bytes and returns its id.
  // Errors as Allocate.
  virtual Result<ObjectId> Create(std::string_view name, std::uint64_t size, const ObjectAttr& attr) = 0;
  // Creates a named object holding `bytes`, atomically: no process ever
  // sees the name without its contents (even after a kill -9 mid-way).
  // Errors as Allocate.
  virtual Result<ObjectId> CreateWith(std::string_view name, std::span<const std::byte> bytes,
                                      const ObjectAttr& attr) = 0;
  // Calls fn with the bytes [off, off + len) of the object's current version,
  // clipped at its size (an empty span past the end). The version is pinned
  // during the call: a concurrent Replace or resize in any process cannot
  // free it. A read-only attachment cannot pin (pins are recorded in the
  // heap): it copies the bytes first and passes the copy only if the object
  // kept its version and data throughout, retrying otherwise (kBusy after
  // many changes in a row). Returns the number of bytes passed. Errors: kStale.
  virtual Result<std::size_t> Read(ObjectId id, std::uint64_t off, std::size_t len,
                                   const std::function<void(std::span<const std::byte>)>& fn) = 0;
  // Writes `bytes` at `off`, growing the object (zero-filling any gap) if
  // needed; growth is amortised so that appending is linear overall. Bumps
  // the version and mtime. Returns the object's size afterwards.
  // Errors: kStale, kNoSpace (nothing changed).
  virtual Result<std::uint64_t> Write(ObjectId id, std::uint64_t off, std::span<const std::byte> bytes) = 0;
  // Like Write, but the caller moves the bytes itself: `io` is called with
  // the backing-file offset where object offset `off` lives and must store
  // exactly `len` bytes there (pwrite or splice on its own descriptor of the
  // backing file: the page cache is shared with every mapping). The object
  // is grown first if needed, and its location is fixed (pinned, or the heap
  // mutex held) while io runs; io must not call back into this Heap.
  // Errors: kStale, kNoSpace, or io's error (the size then stays unchanged
  // if the write was to extend it).
  virtual Result<std::uint64_t> WriteVia(ObjectId id, std::uint64_t off, std::uint64_t len,
                                         const std::function<Status(std::uint64_t file_off)>& io) = 0;
  // Sets the size (zero-filling growth). Errors: kStale, kNoSpace.
  virtual Status Truncate(ObjectId id, std::uint64_t size) = 0;
  // Releases capacity beyond the size (after a burst of appends).
  virtual Status Trim(ObjectId id) = 0;
  struct AttrChange {
    std::optional<std::uint32_t> mode, uid, gid;
    std::optional<std::int64_t> atime_ns, mtime_ns;
    // Permission bits cleared from the mode (after `mode`), in the same
    // atomic step: clearing set-ID bits cannot undo a concurrent chmod.
    std::uint32_t clear_mode = 0;
  };
  // Changes attributes (ctime becomes now). Errors: kStale.
  virtual Result<ObjectInfo> SetAttr(ObjectId id, const AttrChange& change) = 0;
  virtual Status SetType(ObjectId id, std::string_view type) = 0;
  // Open references: a referenced object outlives Remove/Rename-over until
  // the last Unref (POSIX unlink-while-open). References of a process that
  // dies are dropped. Errors: kStale.
  virtual Status Ref(ObjectId id) = 0;
  virtual Status Unref(ObjectId id) = 0;
  // Extended attributes (names up to 255 bytes, values up to 64 KiB, 64 KiB
  // per object in all). SetXattr flags: 0, kXattrCreate, kXattrReplace.
  // Errors: kStale, kNotFound (no such attribute), kAlreadyExists, kNoSpace.
  static constexpr int kXattrCreate = 1, kXattrReplace = 2;
  virtual Result<std::string> GetXattr(ObjectId id, std::string_view name) = 0;
  virtual Status SetXattr(ObjectId id, std::string_view name, std::string_view value, int flags) = 0;
  virtual Result<std::vector<std::string>> ListXattr(ObjectId id) = 0;
  virtual Status RemoveXattr(ObjectId id, std::string_view name) = 0;
  // Object locks by id. timeout_ns: < 0 forever, 0 try (kBusy), > 0 limit.
  // `cancel` (optional) is polled while waiting (kInterrupted).
  virtual Status LockId(ObjectId id, LockMode mode, OwnerToken owner, std::int64_t timeout_ns,
                        const std::atomic<bool>* cancel = nullptr) = 0;
  // Who holds locks on the object now (for F_GETLK answers), across all
  // processes. `self` marks holds of this Heap's own client.
  struct LockHolder {
    std::uint32_t slot = 0;  // client slot (identifies the process in this heap)
    std::uint32_t pid = 0;
    LockMode mode = LockMode::kRead;
    OwnerToken owner = 0;
    bool self = false;
  };
  virtual Result<std::vector<LockHolder>> LockHolders(ObjectId id) = 0;
  // Every owner of every live client waiting for an object lock now (for
  // deadlock detection that spans file locks and library locks).
  struct LockWaiter {
    std::uint32_t slot = 0;
    OwnerToken owner = 0;
    std::uint64_t inode = 0;  // the object waited for
    LockMode mode = LockMode::kRead;
    bool self = false;
  };
  virtual std::vector<LockWaiter> LockWaiters() = 0;
  // WRITE -> READ without releasing. Errors: kInvalidArgument if not WRITE-held.
  virtual Status Downgrade(ObjectId id, OwnerToken owner) = 0;
  // The id (with its current generation) of the live or orphaned object
  // whose inode number is `inode`. Errors: kStale.
  virtual Result<ObjectId> IdOf(std::uint64_t inode) = 0;
  // Named objects in record order starting at `cursor` (0 first), at most
  // `max` of them; *next is the cursor to continue from (0 at the end).
  // Stable under concurrent change: an object present throughout a walk
  // is returned exactly once.
  virtual std::vector<ObjectInfo> ListFrom(std::uint64_t cursor, std::size_t max, std::uint64_t* next) = 0;
  // Number of named objects.
  virtual std::uint64_t ObjectCount() = 0;

  // ---- counting semaphores (Minibase's latches), kept as heap objects ----
  // A semaphore is a named object of type "shmheap.semaphore" holding its
  // count; any attached process may wait on or post it. Semaphores are not
  // owned (as POSIX semaphores): a process that dies after a wait does not
  // give its unit back. Use object locks for mutual exclusion that must
  // survive crashes.

  // Creates semaphore `name` with count `initial`. Errors as Allocate.
  virtual Status SemCreate(std::string_view name, std::uint32_t initial) = 0;
  // Decrements the count, waiting while it is 0 (up to `timeout`; nullopt:
  // forever). Errors: kNotFound, kInvalidArgument (not a semaphore),
  // kTimedOut, kStale (removed while waiting). Blocks.
  virtual Status SemWait(std::string_view name,
                         std::optional<std::chrono::nanoseconds> timeout = std::nullopt) = 0;
  // Decrements the count if it is above 0; kBusy otherwise.
  virtual Status SemTryWait(std::string_view name) = 0;
  // Increments the count and wakes one waiter. kNoSpace at 2^31 - 1.
  virtual Status SemPost(std::string_view name) = 0;
  virtual Result<std::uint32_t> SemValue(std::string_view name) = 0;

  // ---- heap-wide ----

  // Makes every change so far durable (msync, then fsync). Blocks.
  virtual Status Flush() = 0;
  virtual std::vector<ClientInfo> Clients() = 0;
  virtual HeapStats Stats() = 0;
  // Invariant check of the attached heap (takes the heap mutex).
  virtual std::vector<std::string> CheckAttached() = 0;
  // Releases the locks, pins and references of attached clients that died.
  // Happens on its own on attach and when a waiter finds a dead holder.
  virtual void ReapDeadClients() = 0;

  // The base address of this process's view (for pointer checks).
  virtual std::byte* base() const noexcept = 0;
  // The heap's UUID as text (fixed at creation).
  virtual std::string uuid() const = 0;
  virtual const std::string& path() const noexcept = 0;
  virtual std::uint64_t max_size() const noexcept = 0;
  // True if attached with OpenMode::kReadOnly.
  virtual bool read_only() const noexcept = 0;

 protected:
  Heap() = default;
};

}  // namespace shmheap

#endif  // SHMHEAP_HEAP_HPP_
