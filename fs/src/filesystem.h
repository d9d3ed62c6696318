// Filesystem: the daemon's state, reached by every handler through the
// session's userdata (never a global): options, the heap registry, the
// inode table (lookup counts and generations the kernel knows), open file
// handles, and the cache watcher.
//
// Coherence with library clients (README "Coherence"): the watcher thread
// polls the version of every object the kernel may cache (opened and not yet
// forgotten) every kWatchInterval and, when a library client changed it,
// drops the kernel's cached pages and attributes with
// fuse_lowlevel_notify_inval_inode (from its own thread, never from a
// handler, so it cannot deadlock on the inode being served). open() also
// compares versions: it keeps the page cache only if nothing changed, and
// drops the kernel's cached attributes (attributes only, which is safe from
// a handler) if they are of an older version than the object's, so a file
// grown or shrunk by a library client reads to its new size at once.
//
// Thread safety: all methods may be called concurrently. Lock order:
// handles_mu_ and inodes_mu_ are leaves (no other lock is taken under them).
#ifndef SHMHEAP_FS_FILESYSTEM_H_
#define SHMHEAP_FS_FILESYSTEM_H_

#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include <shmheap/heap.hpp>

#include "fs/src/heap_registry.h"
#include "fs/src/kernel_io.h"
#include "fs/src/node_id.h"
#include "fs/src/options.h"
#include "fs/src/read_ahead.h"
#include "fs/src/setid.h"

namespace shmheap::fs {

class LockService;

struct Node {
  enum Kind { kRoot, kHeap, kObject } kind = kRoot;
  fuse_ino_t ino = 0;
  std::shared_ptr<HeapEntry> heap;  // kHeap, kObject
  ObjectId id;                      // kObject

  // Object `id` of `heap`, under its node id (0 if it has none: node_id.h).
  static Node Object(std::shared_ptr<HeapEntry> heap, const ObjectId& id) {
    const fuse_ino_t ino = ObjectNode(heap->slot, id.inode, id.generation);
    return Node{kObject, ino, std::move(heap), id};
  }
};

struct OpenFile {
  Node node;
  int flags = 0;
  std::atomic<bool> wrote{false};  // set by write handlers, read by release
};

class Filesystem {
 public:
  static constexpr double kAttrTimeout = 1.0;
  static constexpr double kEntryTimeout = 1.0;
  static constexpr std::chrono::milliseconds kWatchInterval{200};

  explicit Filesystem(Options options);
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // Checks and prepares the heap directory. Before daemonizing.
  Status Init();
  // Attaches the heaps and starts the watcher; `se` receives invalidation
  // notices. After daemonizing (heaps and threads do not survive fork).
  void Start(struct fuse_session* se);
  // Stops the watcher, flushes and detaches every heap.
  void Shutdown();

  const Options& options() const { return options_; }
  HeapRegistry& registry() { return registry_; }
  LockService* locks() { return locks_.get(); }
  ReadAhead& read_ahead() { return read_ahead_; }
  KernelIo& kernel_io() { return kernel_io_; }

  // Resolves a node id. Errors: kStale (unknown or deleted), the heap's own
  // error for a heap that could not be attached.
  Result<Node> Resolve(fuse_ino_t ino);
  // The heap behind a directory node (kNotFound/kInvalidArgument otherwise).
  Result<std::shared_ptr<Heap>> HeapOf(const Node& dir);

  // `version`, if given, receives an object's version (what the attributes
  // reflect; see NoteAttrs).
  Result<struct stat> StatNode(const Node& n, std::uint64_t* version = nullptr);
  struct stat StatObject(const Node& heap_dir, const ObjectInfo& info) const;
  // Fills an entry for a lookup reply and counts the lookup.
  Result<fuse_entry_param> Entry(const Node& n);
  // fuse_reply_entry, undoing Entry's count if the reply did not reach the
  // kernel (an interrupted request): a count the kernel will never FORGET
  // would keep an object it holds for the kernel forever.
  void ReplyEntry(fuse_req_t req, const fuse_entry_param& e);

  // Inode table. `attr_version`: the version of the attributes handed to
  // the kernel with the entry (kNoVersion: not an object).
  static constexpr std::uint64_t kNoVersion = ~0ull;
  // InodeState::attr_oldest when the kernel caches no attributes the daemon
  // must doubt (none since they were dropped, or only ones it will refetch).
  static constexpr std::uint64_t kAttrsDropped = ~0ull - 1;
  void Remember(fuse_ino_t ino, std::uint64_t generation, std::uint64_t attr_version);
  void Forget(fuse_ino_t ino, std::uint64_t nlookup);
  // Keeps object `n` readable while the kernel still knows its inode (until
  // its FORGET), even once a rename over its name unlinks it: a process whose
  // path walk found the old inode just before the rename then opens the old
  // version, as on a local file system, instead of failing with ESTALE
  // (which the kernel retries only once, so a writer replacing a file in a
  // loop made readers fail). No-op if the kernel does not know the inode or
  // it is already kept.
  void KeepForKernel(const Node& n);

  // Open handles.
  std::uint64_t AddHandle(std::shared_ptr<OpenFile> f);
  std::shared_ptr<OpenFile> Handle(std::uint64_t fh);
  void RemoveHandle(std::uint64_t fh);

  // Clears the set-ID bits that `cause` clears on a local file system, as the
  // caller of `req` (setid.h); no-op unless object `n` has such a bit.
  // `tell_kernel`: also drop the kernel's cached attributes (for handlers
  // whose reply carries none: the kernel would keep granting the bits to
  // execve until its attribute timeout).
  Status DropSetIdBits(fuse_req_t req, const Node& n, SetIdCause cause, bool tell_kernel);

  // Cache coherence: records the version the kernel's cache now reflects;
  // returns true if it was already that (the page cache may be kept).
  bool NoteVersion(fuse_ino_t ino, std::uint64_t version);
  // A change the kernel made itself (a write, fallocate) took the object
  // from version `before` to `after`: the cache reflects `after` if it
  // reflected `before`; otherwise a foreign change came first, and the
  // record stays behind so the next grant (or the watcher) drops the cache.
  void NoteOwnChange(fuse_ino_t ino, std::uint64_t before, std::uint64_t after);

  // Attribute coherence. The daemon keeps, per inode, the oldest version
  // of the attributes it handed the kernel since it last dropped them: the
  // kernel may apply the replies in any order, or drop one, so only the
  // oldest is safe to assume.
  //  NoteAttrs: a reply carries attributes of `version`.
  //  NoteKernelRefetches: the kernel invalidated its cached size itself (a
  //    write or fallocate it made), so it asks before it trusts it again.
  //  RefreshAttrsIfStale (at open): if the kernel may hold attributes older
  //    than `version` (a library client changed the object since), drops
  //    them, so the size it reads up to is the object's. Without this, a
  //    reader opening a file that a library client grew read up to the old
  //    size until the attribute timeout. Safe inside a handler (attributes
  //    only: no inode or page lock).
  void NoteAttrs(fuse_ino_t ino, std::uint64_t version);
  void NoteKernelRefetches(fuse_ino_t ino);
  void RefreshAttrsIfStale(fuse_ino_t ino, std::uint64_t version);

  // Marks a change made on the kernel's behalf (write, truncate) as in
  // progress on `ino` until destroyed: the watcher leaves the inode alone
  // meanwhile, so the versions the change passes through (a resize, then the
  // write) never look like a foreign change that would drop the kernel's
  // cache. Call NoteVersion before the scope ends.
  class KernelChange {
   public:
    KernelChange(Filesystem* fs, fuse_ino_t ino);
    ~KernelChange();
    KernelChange(const KernelChange&) = delete;
    KernelChange& operator=(const KernelChange&) = delete;

   private:
    Filesystem* fs_;
    fuse_ino_t ino_;
  };
  // Records that the version moved from `before` to `after` through the file
  // users' own write unlock (the heap bumps the version when a WRITE lock is
  // released or downgraded): if the kernel's cache reflected `before` and
  // nothing else happened meanwhile (after == before + 1), it reflects
  // `after` too. Call inside a KernelChange scope around the unlock.
  void NoteOwnUnlock(fuse_ino_t ino, std::uint64_t before, std::uint64_t after);
  // Drops the kernel's cached pages and attributes of `ino` now if a library
  // client changed the object since the kernel last saw it. Used before a
  // lock grant is answered.
  void InvalidateIfChanged(fuse_ino_t ino);
  // Drops the kernel's pages and attributes of `ino`, then records `version`
  // as what its cache reflects if it still records `seen`.
  void DropCacheThenRecord(fuse_ino_t ino, std::uint64_t seen, std::uint64_t version);

 private:
  void WatchLoop();

  Options options_;
  HeapRegistry registry_;
  ReadAhead read_ahead_;
  KernelIo kernel_io_;
  std::unique_ptr<LockService> locks_;
  struct fuse_session* se_ = nullptr;

  struct InodeState {
    std::uint64_t generation = 0;
    std::uint64_t nlookup = 0;
    std::uint64_t version_seen = 0;
    // Oldest version of the attributes the kernel may cache (see NoteAttrs);
    // 0 = unknown (as old as can be), kAttrsDropped = none to doubt.
    std::uint64_t attr_oldest = 0;
    bool watched = false;  // opened: the kernel may cache its pages
    std::uint32_t kernel_changes = 0;  // KernelChange scopes open on it
    // KeepForKernel's reference: none, being taken (a Forget meanwhile leaves
    // the entry for KeepForKernel to settle), held.
    enum class Kept : std::uint8_t { kNo, kClaiming, kYes } kept = Kept::kNo;
  };
  // Releases the reference KeepForKernel took on `ino`'s object.
  void ReleaseKept(fuse_ino_t ino, std::uint64_t generation);
  std::mutex inodes_mu_;
  std::unordered_map<fuse_ino_t, InodeState> inodes_;  // GUARDED_BY(inodes_mu_)

  std::mutex handles_mu_;
  std::unordered_map<std::uint64_t, std::shared_ptr<OpenFile>> handles_;  // GUARDED_BY(handles_mu_)
  std::uint64_t next_fh_ = 1;                                             // GUARDED_BY(handles_mu_)

  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool stopping_ = false;  // GUARDED_BY(watch_mu_)
  bool poke_ = false;      // GUARDED_BY(watch_mu_)
  std::thread watcher_;
};

// The Filesystem of a request.
inline Filesystem* FsOf(fuse_req_t req) { return static_cast<Filesystem*>(fuse_req_userdata(req)); }

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_FILESYSTEM_H_
