// BackingFile: the heap's file descriptor. The only heap/ file that opens,
// sizes, syncs or locks files.
//
// Creation is atomic: a new heap is built in a hidden temporary file in the
// same directory and link(2)ed into place, so a heap file that exists is always
// fully initialised (and a concurrent creator that loses the race opens the
// winner's file instead).
//
// Liveness locks: an attached client holds an OFD write lock on one byte far
// beyond any data (format::kLivenessLockBase + slot). OFD locks belong to the
// open file description, not the process, so a second attach in the same
// process does not disturb the first, and the kernel drops them when the
// process dies.
//
// Thread safety: all methods are safe to call concurrently on one object.
#ifndef SHMHEAP_BACKING_FILE_H_
#define SHMHEAP_BACKING_FILE_H_

#include <cstdint>
#include <functional>
#include <string>

#include <shmheap/status.hpp>

namespace shmheap {

class BackingFile {
 public:
  BackingFile() = default;
  BackingFile(BackingFile&& other) noexcept;
  BackingFile& operator=(BackingFile&& other) noexcept;
  BackingFile(const BackingFile&) = delete;
  BackingFile& operator=(const BackingFile&) = delete;
  ~BackingFile();

  // Opens an existing heap file. Errors: kNotFound, kPermission, kIOError.
  static Result<BackingFile> Open(const std::string& path, bool read_only);

  // Creates `path` atomically: creates a temporary file next to it, calls
  // `init(file)` to size and fill it, then links it to `path`. If `path`
  // appears meanwhile, returns kAlreadyExists (the caller then opens it).
  // `mode` is the permission of the new file.
  static Result<BackingFile> CreateAtomically(
      const std::string& path, unsigned mode,
      const std::function<Status(BackingFile&)>& init);

  int fd() const noexcept { return fd_; }
  const std::string& path() const noexcept { return path_; }

  // Current size of the file in bytes (fstat).
  Result<std::uint64_t> Size() const;

  // Makes the file at least `size` bytes, reserving disk blocks with
  // fallocate(2) so that a full disk fails here (kNoSpace) rather than as
  // SIGBUS when the new pages are first touched. Falls back to ftruncate on
  // file systems without fallocate (logged once at warn).
  Status GrowTo(std::uint64_t size);
  // Makes the file at least `size` bytes with ftruncate(2) alone: the new
  // range is a hole, to be reserved (Reserve) or written before use.
  Status ExtendTo(std::uint64_t size);

  // Reserves disk blocks for [offset, offset + length) inside the file
  // (fallocate(2) without changing the size): a range whose holes were
  // punched must be reserved again before it is handed out, so that a full
  // disk fails here (kNoSpace) rather than as SIGBUS in a library client.
  // A file system without fallocate is not an error (GrowTo warned already).
  Status Reserve(std::uint64_t offset, std::uint64_t length);
  // Gives the disk blocks of [offset, offset + length) back to the file
  // system (FALLOC_FL_PUNCH_HOLE); the range then reads as zeros. Errors:
  // kNotSupported when the file system cannot punch holes, kIOError.
  Status PunchHole(std::uint64_t offset, std::uint64_t length);
  // Bytes of disk the file occupies (st_blocks * 512).
  Result<std::uint64_t> AllocatedBytes() const;

  // fsync(2). Blocks until the file's data and metadata are on stable storage.
  Status Sync();

  // Liveness locks (see the file comment). TryLockLiveness returns kBusy when
  // another open file description holds the byte.
  Status TryLockLiveness(std::uint32_t slot);
  Status UnlockLiveness(std::uint32_t slot);
  // True if some other open file description holds slot's liveness lock.
  Result<bool> IsLivenessHeld(std::uint32_t slot) const;

  // Closes the descriptor now (also what the destructor does). Used in a
  // forked child, which must not keep its parent's liveness locks alive.
  void Close() noexcept;

 private:
  BackingFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

}  // namespace shmheap

#endif  // SHMHEAP_BACKING_FILE_H_
