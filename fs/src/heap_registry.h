// HeapRegistry: the heaps of the heap directory, as the daemon sees them.
//
// Every regular file NAME.heap in heapdir (names starting with '.' are
// ignored) is a heap directory NAME. Heaps are attached on first use and stay
// attached until shutdown; heaps that library clients create directly in
// heapdir appear on the next Scan (done on every root lookup miss and root
// readdir). A heap that fails to attach (corrupt, wrong version) is listed but
// every access to it fails with its Status; the failure is logged once.
//
// Slots: each heap gets a persistent slot number for its node ids
// (node_id.h), recorded in heapdir/.shmheapfs-slots as "slot uuid name"
// lines and keyed by the heap's UUID, so a heap keeps its ids across
// restarts and renames, and a new heap never inherits a deleted one's ids.
//
// Thread safety: all methods may be called concurrently (mu_ guards the
// tables; Heap objects are themselves thread-safe).
#ifndef SHMHEAP_FS_HEAP_REGISTRY_H_
#define SHMHEAP_FS_HEAP_REGISTRY_H_

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <shmheap/heap.hpp>

#include "fs/src/node_id.h"

namespace shmheap::fs {

// An open descriptor, closed on destruction.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd = -1) : fd_(fd) {}
  ~FileDescriptor();
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct HeapEntry {
  std::string name;  // directory name (file name without ".heap")
  std::uint32_t slot = 0;
  std::shared_ptr<Heap> heap;  // null when it failed to attach
  Status error;                // why it failed
  // The daemon's own descriptor of the backing file, for moving object data
  // by splice straight into and out of the page cache the mappings share.
  std::shared_ptr<FileDescriptor> data_fd;

  // data_fd's descriptor, or -1 if there is none.
  int DataFd() const { return data_fd ? data_fd->get() : -1; }
};

class HeapRegistry {
 public:
  HeapRegistry(std::string heapdir, std::uint64_t default_max_size)
      : heapdir_(std::move(heapdir)), default_max_size_(default_max_size) {}

  // Creates heapdir if missing (mode 0700) and loads the slot file. Attaches
  // nothing (the daemon may still fork): the first Scan does.
  Status Init();
  // Re-reads heapdir: attaches new heaps, drops vanished ones.
  void Scan();

  std::shared_ptr<HeapEntry> ByName(const std::string& name);
  std::shared_ptr<HeapEntry> BySlot(std::uint32_t slot);
  // Heaps in name order.
  std::vector<std::shared_ptr<HeapEntry>> List();

  // mkdir: creates NAME.heap owned by uid:gid with permission bits `mode`.
  // Errors: kAlreadyExists, kInvalidArgument (bad name), kIOError.
  Result<std::shared_ptr<HeapEntry>> Create(const std::string& name, unsigned mode, std::uint32_t uid,
                                            std::uint32_t gid);
  // rmdir: deletes an empty heap. Returns 0 or an errno: ENOENT, ENOTEMPTY
  // (it has objects), EBUSY (other processes are attached to it), or the
  // heap's own error if it cannot be attached (a corrupt heap is never
  // deleted by rmdir: that could lose data).
  int Remove(const std::string& name);
  // Renames heap `from` to `to` (its slot and ids stay). Returns an errno (0).
  int Rename(const std::string& from, const std::string& to, bool no_replace);

  // stat(2) of a heap's backing file / of heapdir.
  Result<struct stat> StatFile(const std::string& name) const;
  Result<struct stat> StatDir() const;
  // chmod/chown of a heap directory (its backing file).
  Status SetFileAttr(const std::string& name, const unsigned* mode, const std::uint32_t* uid,
                     const std::uint32_t* gid);

  const std::string& heapdir() const { return heapdir_; }
  std::string PathOf(const std::string& name) const { return heapdir_ + "/" + name + ".heap"; }

  // Flushes and detaches every heap (shutdown).
  void DetachAll();

 private:
  std::shared_ptr<HeapEntry> AttachLocked(const std::string& name);  // REQUIRES: mu_
  // 0 once all kMaxSlot slots were given out (slots are never reused).
  std::uint32_t SlotForLocked(const std::string& uuid, const std::string& name);  // REQUIRES: mu_
  bool SlotsLeftLocked() const { return next_slot_ <= kMaxSlot; }               // REQUIRES: mu_
  void SaveSlotsLocked();  // REQUIRES: mu_

  const std::string heapdir_;
  const std::uint64_t default_max_size_;
  std::mutex mu_;  // guards everything below
  std::map<std::string, std::shared_ptr<HeapEntry>> by_name_;
  std::map<std::uint32_t, std::shared_ptr<HeapEntry>> by_slot_;
  std::map<std::string, std::uint32_t> slots_;  // uuid -> slot (persistent)
  std::map<std::uint32_t, std::string> slot_names_;  // slot -> last known name
  std::uint32_t next_slot_ = 1;
};

// chown then chmod of `path` (null: unchanged), keeping special mode bits
// across the chown as a directory would.
Status SetPathAttr(const std::string& path, const unsigned* mode, const std::uint32_t* uid, const std::uint32_t* gid);

// True if `name` can be a heap (directory) name: 1..250 bytes, no '/', not
// starting with '.'.
bool ValidHeapName(const std::string& name);

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_HEAP_REGISTRY_H_
