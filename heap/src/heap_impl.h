// HeapImpl: the implementation behind shmheap::Heap. It wires the backing
// file, the mapping, the allocator, the object table, the name index, the
// client table and the object locks, and owns this process's client slot.
//
// Its code is split by concern:
//   heap_impl.cc     attach, detach, the heap mutex guard, recovery, reaping
//   heap_objects.cc  allocation, names, replace/resize, remove/rename
//   heap_locks.cc    object locks and pins by name and by id
//   heap_report.cc   list, stat, stats, clients, check
//
// Thread safety: all public methods may be called concurrently. Lock order:
// heap mutex -> object lock section -> HoldTable::mu().
#ifndef SHMHEAP_HEAP_IMPL_H_
#define SHMHEAP_HEAP_IMPL_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include <shmheap/heap.hpp>

#include "heap/src/arena.h"
#include "heap/src/backing_file.h"
#include "heap/src/client_table.h"
#include "heap/src/hold_table.h"
#include "heap/src/mapping.h"
#include "heap/src/object_index.h"
#include "heap/src/object_lock.h"
#include "heap/src/records.h"
#include "heap/src/shared_mutex.h"
#include "heap/src/space.h"
#include "heap/src/undo_log.h"

namespace shmheap {

class HeapImpl final : public Heap {
 public:
  static Result<std::unique_ptr<HeapImpl>> Attach(const std::string& path, const Options& options);
  ~HeapImpl() override;

  // Heap
  Result<std::span<std::byte>> Allocate(std::string_view name, std::size_t size, const ObjectAttr& attr) override;
  Result<std::span<std::byte>> AllocateAnonymous(std::size_t size) override;
  Status Free(void* ptr) override;
  Result<void*> Realloc(void* ptr, std::size_t size) override;
  Result<std::span<std::byte>> Find(std::string_view name) override;
  Result<ObjectId> Lookup(std::string_view name) override;
  Result<ObjectInfo> Stat(std::string_view name) override;
  Result<ObjectInfo> Stat(ObjectId id) override;
  Result<std::uint64_t> Version(std::string_view name) override;
  Result<bool> IsCurrent(std::string_view name, std::uint64_t version) override;
  Status Replace(std::string_view name, std::span<const std::byte> bytes) override;
  Status Remove(std::string_view name) override;
  Status Rename(std::string_view from, std::string_view to, bool no_replace) override;
  Status SetType(std::string_view name, std::string_view type) override;
  std::vector<ObjectInfo> List() override;
  Result<LockGuard> Lock(std::string_view name, LockMode mode, OwnerToken owner,
                         std::optional<std::chrono::nanoseconds> timeout) override;
  Result<LockGuard> TryLock(std::string_view name, LockMode mode, OwnerToken owner) override;
  Result<std::span<std::byte>> LockRaw(std::string_view name, LockMode mode, OwnerToken owner,
                                       std::int64_t timeout_ns) override;
  Status UnlockByName(std::string_view name, OwnerToken owner, std::span<std::byte>* data = nullptr) override;
  Status Unlock(ObjectId id, OwnerToken owner) override;
  Result<ObjectId> Create(std::string_view name, std::uint64_t size, const ObjectAttr& attr) override;
  Result<ObjectId> CreateWith(std::string_view name, std::span<const std::byte> bytes, const ObjectAttr& attr) override;
  // Read for a read-only attachment, which cannot pin: copy, then validate.
  Result<std::size_t> ReadUnpinned(ObjectId id, std::uint64_t off, std::size_t len,
                                   const std::function<void(std::span<const std::byte>)>& fn);
  Result<std::size_t> Read(ObjectId id, std::uint64_t off, std::size_t len,
                           const std::function<void(std::span<const std::byte>)>& fn) override;
  Result<std::uint64_t> Write(ObjectId id, std::uint64_t off, std::span<const std::byte> bytes) override;
  Result<std::uint64_t> WriteVia(ObjectId id, std::uint64_t off, std::uint64_t len,
                                 const std::function<Status(std::uint64_t file_off)>& io) override;
  Status Truncate(ObjectId id, std::uint64_t size) override;
  Status Trim(ObjectId id) override;
  Result<ObjectInfo> SetAttr(ObjectId id, const AttrChange& change) override;
  Status SetType(ObjectId id, std::string_view type) override;
  Status Ref(ObjectId id) override;
  Status Unref(ObjectId id) override;
  Result<std::string> GetXattr(ObjectId id, std::string_view name) override;
  Status SetXattr(ObjectId id, std::string_view name, std::string_view value, int flags) override;
  Result<std::vector<std::string>> ListXattr(ObjectId id) override;
  Status RemoveXattr(ObjectId id, std::string_view name) override;
  Status LockId(ObjectId id, LockMode mode, OwnerToken owner, std::int64_t timeout_ns,
                const std::atomic<bool>* cancel) override;
  Status Downgrade(ObjectId id, OwnerToken owner) override;
  Result<std::vector<LockHolder>> LockHolders(ObjectId id) override;
  std::vector<LockWaiter> LockWaiters() override;
  std::vector<ObjectInfo> ListFrom(std::uint64_t cursor, std::size_t max, std::uint64_t* next) override;
  std::uint64_t ObjectCount() override;
  Result<ObjectId> IdOf(std::uint64_t inode) override;
  std::string uuid() const override;
  Status SemCreate(std::string_view name, std::uint32_t initial) override;
  Status SemWait(std::string_view name, std::optional<std::chrono::nanoseconds> timeout) override;
  Status SemTryWait(std::string_view name) override;
  Status SemPost(std::string_view name) override;
  Result<std::uint32_t> SemValue(std::string_view name) override;
  Status Flush() override;
  std::vector<ClientInfo> Clients() override;
  HeapStats Stats() override;
  std::vector<std::string> CheckAttached() override;
  void ReapDeadClients() override;
  std::byte* base() const noexcept override { return map_.base(); }
  const std::string& path() const noexcept override { return path_; }
  std::uint64_t max_size() const noexcept override { return space_->sb()->max_size; }
  bool read_only() const noexcept override { return read_only_; }

  // Check of a read-only attachment: the invariant walk of a snapshot no
  // operation changed. kBusy if none came in about 2 s (a heap busy all
  // along, or its mutex held by a live client throughout).
  Result<std::vector<std::string>> CheckSnapshot();

  // The invariant walk, reading without locks. `self_slot`: the checker's
  // client slot (-1 if read-only); `own`: its object locks, asked whether a
  // release of its own has a retired version still to free (or nullptr).
  static void CheckSpace(const Space& space, BackingFile* file, std::int64_t self_slot, const ObjectLocks* own,
                         std::vector<std::string>* problems);

 private:
  HeapImpl() = default;

  // Holds the heap mutex for one operation. On destruction the operation is
  // committed if Commit() was called, otherwise rolled back.
  class Op {
   public:
    // `attaching`: see HeapMutex::LockFor(self_is_stale).
    explicit Op(HeapImpl* heap, bool attaching = false);
    ~Op();
    Op(const Op&) = delete;
    Op& operator=(const Op&) = delete;
    // Starts a change of the name index (lock-free readers retry meanwhile).
    void IndexWrite();
    // Performs the deferred frees, then commits. On failure nothing is
    // committed (the destructor rolls the operation back).
    [[nodiscard]] Status Commit();
    // Ends an operation that changed nothing (reads under the mutex).
    void Finish();
   private:
    HeapImpl* heap_;
    bool committed_ = false;
    bool index_write_ = false;
  };

  Status AttachClient();
  void DetachClient();
  void RecoverAfterDeadOwner();
  bool IsDead(std::uint32_t slot) const { return clients_->IsDead(slot, slot_); }
  Status CheckWritable() const;

  // Object helpers. REQUIRE: the heap mutex (an Op) unless noted.
  Status ValidateName(std::string_view name) const;
  // Allocate, with the first init.size() bytes taken from `init` (written
  // before the name is published, so the object never exists without them)
  // and the object's id in *id if given.
  Result<std::span<std::byte>> AllocateNamed(std::string_view name, std::size_t size, std::span<const std::byte> init,
                                             const ObjectAttr& attr, ObjectId* id);
  Result<std::uint64_t> FindLocked(std::string_view name) const;
  // Lock-free lookup, falling back to the heap mutex. Does not need an Op.
  Result<std::uint64_t> FindAny(std::string_view name);
  // What a name resolves to now: FindAny, then the record's fields read and
  // checked again (live, same generation, still this name), so that a record
  // freed and reused by another object between the index lookup and the
  // reads is never taken for the named object. Retries a few times, then
  // (writable clients) takes the heap mutex.
  struct Current {
    std::uint64_t index = 0, generation = 0, version = 0, data_off = 0, size = 0;
  };
  // A seqlock snapshot of a record's data: its offset and size change only
  // inside the record's lock-word section, with a version bump. OpenSnapshot
  // fails while a section is open; SnapshotHeld (after the reads it guards)
  // says whether none opened since and version, offset and size are those
  // it took, i.e. whether the reads saw one version's data.
  static bool OpenSnapshot(format::ObjectRecord& r, Current* c);
  static bool SnapshotHeld(format::ObjectRecord& r, const Current& c);
  Result<Current> FindCurrent(std::string_view name);
  // Reads `index`'s fields into *c and returns whether they are one
  // consistent snapshot of the live object named `name` (`under_mutex`: the
  // caller holds the heap mutex, so offset and size are stable).
  bool ReadCurrent(std::uint64_t index, std::string_view name, bool under_mutex, Current* c) const;
  // The data of `c`, bounds-checked.
  Result<std::span<std::byte>> DataOf(const Current& c, std::string_view name) const;
  format::ObjectRecord* Record(std::uint64_t index) const { return records_->Get(index); }
  // Frees an orphan once nothing holds it; no-op otherwise.
  Status MaybeFreeOrphan(std::uint64_t index);
  // Frees a retired data version once nothing pins it.
  Status MaybeFreeRetired(std::uint64_t data_off);
  // True if any live or dead client's hold is on record `index` (kNoRecord:
  // none asked) or pins data version `pinned_data` (0: none asked).
  static constexpr std::uint64_t kNoRecord = ~0ull;
  bool AnyHolds(std::uint64_t index, std::uint64_t pinned_data) const;
  // Makes `index` nameless (orphan) and frees it if nothing holds it.
  Status Unlink(std::uint64_t index);
  // Installs a new data chunk as the current version; retires or frees the old one.
  Status SwapData(std::uint64_t index, std::uint64_t new_data, std::uint64_t new_size);
  Result<std::uint64_t> StoreString(std::string_view s, std::uint64_t owner);
  // Frees live or orphaned record `index` and its memory if nothing
  // references, locks or pins it (true), else makes it an orphan (false).
  // The caller has taken it out of the index.
  bool FreeOrOrphan(std::uint64_t index);
  // True if record `r` still holds the object of `generation`, live or
  // orphan (only live if `named`): readers without the heap mutex check
  // again after reading.
  static bool StillHolds(const format::ObjectRecord& r, std::uint64_t generation, bool named = false);
  Status AfterRelease(std::uint64_t index, const ObjectLocks::Release& rel);
  // The record index of a live or orphaned object with this id, or kStale.
  Result<std::uint64_t> Resolve(ObjectId id) const;
  // Resizes the object's data to `size` (zero-filling growth), in place when
  // the allocator can, otherwise by moving it. `amortize` over-allocates for
  // appends. Growth is zero-filled up to `zero_end` (a writer about to fill
  // the rest passes its offset). REQUIRES: an Op.
  // `fills_by_file`: the caller writes [zero_end, size) with pwrite/splice
  // on the backing file before committing (see keep_from in the definition).
  // `publish_size` false: the caller stores the new size itself (after
  // writing the bytes).
  Status ResizeLocked(std::uint64_t index, std::uint64_t size, bool amortize, std::uint64_t zero_end = ~0ull,
                      bool fills_by_file = false, bool publish_size = true);
  // Write and WriteVia; `io_writes_file` as ResizeLocked's fills_by_file.
  Result<std::uint64_t> WriteAt(ObjectId id, std::uint64_t off, std::uint64_t len, bool io_writes_file,
                                const std::function<Status(std::uint64_t file_off)>& io);
  Status SetTypeIndex(std::uint64_t index, std::string_view type);
  // Xattr block of a record (format in heap_xattr.cc).
  using Xattrs = std::vector<std::pair<std::string, std::string>>;
  // (*link_read: the block offset it read, for a lock-free re-check.)
  Result<Xattrs> LoadXattrs(std::uint64_t index, std::uint64_t* link_read = nullptr) const;
  // All of an object's attributes, read safely against a concurrent free.
  Result<Xattrs> LoadXattrsOf(ObjectId id);
  Status StoreXattrs(std::uint64_t index, const Xattrs& xattrs);
  // Runs fn(semaphore words) with the semaphore `name` pinned.
  Status WithSemaphore(std::string_view name, const std::function<Status(std::uint32_t* words)>& fn);
  struct Locked {
    ObjectId id;
    std::span<std::byte> data;
  };
  Result<Locked> LockName(std::string_view name, LockMode mode, OwnerToken owner, std::int64_t timeout_ns);
  ObjectInfo InfoOf(std::uint64_t index, const format::ObjectRecord& r) const;
  // Releases everything `slot` holds and frees the slot, in short
  // operations of its own (one per hold) so that no amount of holds can
  // exceed the undo log. REQUIRES: no Op held. Returns false if the slot
  // changed hands meanwhile.
  bool ReapClient(std::uint32_t slot, bool self);
  // Frees retired versions and orphans that nothing holds any more: a
  // process killed between releasing a hold and freeing what it pinned
  // leaves them behind. Walks every record and block; runs after reaping.
  void SweepUnheld();

  std::string path_;
  bool read_only_ = false;
  pid_t attach_pid_ = 0;
  std::uint64_t fork_generation_ = 0;  // g_fork_generation at attach
  std::uint32_t slot_ = 0;
  BackingFile file_;
  Mapping map_;
  std::unique_ptr<Space> space_;
  std::unique_ptr<UndoLog> log_;
  std::unique_ptr<Arena> arena_;
  std::unique_ptr<RecordTable> records_;
  std::unique_ptr<ObjectIndex> index_;
  std::unique_ptr<ClientTable> clients_;
  std::unique_ptr<HeapMutex> mutex_;
  std::unique_ptr<HoldTable> holds_;
  std::unique_ptr<ObjectLocks> locks_;
};

}  // namespace shmheap

#endif  // SHMHEAP_HEAP_IMPL_H_
