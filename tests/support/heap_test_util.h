// Helpers for multi-process heap tests, the crash harness and the corruption
// test: a scratch directory on tmpfs, self-describing object contents, pipes
// for child-to-parent notifications, bounded waits for children, and memory
// shared with forked children.
//
// Thread and process safety: every helper is a plain function or a value
// owned by one thread. Pipes and SharedArray are meant to be created before
// fork() and used on both sides of it.
#ifndef SHMHEAP_TESTS_SUPPORT_HEAP_TEST_UTIL_H_
#define SHMHEAP_TESTS_SUPPORT_HEAP_TEST_UTIL_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace shmheap::testing {

// A fresh directory on tmpfs (/dev/shm when it is a writable directory,
// else $TMPDIR or /tmp), removed with its contents on destruction. Heaps on
// tmpfs keep msync/fsync at detach cheap, as in production on /dev/shm.
class ShmDir {
 public:
  ShmDir();
  ~ShmDir();
  ShmDir(const ShmDir&) = delete;
  ShmDir& operator=(const ShmDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// SplitMix64 finaliser: a cheap, good 64-bit mix.
std::uint64_t Mix64(std::uint64_t x);
// FNV-1a of a string mixed with `salt`.
std::uint64_t HashOf(std::string_view s, std::uint64_t salt);

// Pattern bytes: byte i of the stream for `seed`.
std::byte PatternByte(std::uint64_t seed, std::size_t i);
// Fills `out` with the stream for `seed`.
void FillPattern(std::span<std::byte> out, std::uint64_t seed);
// True if `in` is the stream for `seed`; *bad_at gets the first bad index.
bool CheckPattern(std::span<const std::byte> in, std::uint64_t seed, std::size_t* bad_at = nullptr);

// Self-describing contents: the first 8 bytes hold a seed, the rest is the
// pattern for that seed. REQUIRES: out.size() >= 8.
void FillStamped(std::span<std::byte> out, std::uint64_t seed);
// True if `in` is stamped contents (and, if `seed` is not null, stores the
// seed found). False for spans shorter than 8 bytes.
bool CheckStamped(std::span<const std::byte> in, std::uint64_t* seed = nullptr);

// Waits up to `timeout` for `pid`. Returns its exit status as Wait() does
// (exit code, or 128 + signal), or -2 after SIGKILLing a child that did not
// finish in time (it is reaped before returning).
int WaitFor(pid_t pid, std::chrono::milliseconds timeout);

// A pipe whose ends are closed on destruction. Create before fork; each side
// closes the end it does not use.
class Pipe {
 public:
  Pipe();
  ~Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int read_fd() const { return fds_[0]; }
  int write_fd() const { return fds_[1]; }
  void CloseRead();
  void CloseWrite();
  // Writes all of buf (retrying EINTR). False on error.
  bool Write(const void* buf, std::size_t len);
  // Reads exactly len bytes, waiting at most `timeout` in total. False on
  // timeout, EOF or error.
  bool Read(void* buf, std::size_t len, std::chrono::milliseconds timeout);

 private:
  int fds_[2] = {-1, -1};
};

// `n` zeroed Ts in an anonymous MAP_SHARED mapping, so forked children and
// the parent see the same memory. T must be trivially copyable; use
// std::atomic_ref to access fields written by several processes.
template <typename T>
class SharedArray {
 public:
  explicit SharedArray(std::size_t n) : n_(n), p_(static_cast<T*>(MapShared(n * sizeof(T)))) {}
  ~SharedArray() { UnmapShared(p_, n_ * sizeof(T)); }
  SharedArray(const SharedArray&) = delete;
  SharedArray& operator=(const SharedArray&) = delete;
  T& operator[](std::size_t i) { return p_[i]; }
  T* data() { return p_; }
  std::size_t size() const { return n_; }

 private:
  static void* MapShared(std::size_t bytes);
  static void UnmapShared(void* p, std::size_t bytes);
  std::size_t n_;
  T* p_;
};

void* MapSharedAnonymous(std::size_t bytes);
void UnmapSharedAnonymous(void* p, std::size_t bytes);

template <typename T>
void* SharedArray<T>::MapShared(std::size_t bytes) {
  return MapSharedAnonymous(bytes);
}
template <typename T>
void SharedArray<T>::UnmapShared(void* p, std::size_t bytes) {
  UnmapSharedAnonymous(p, bytes);
}

}  // namespace shmheap::testing

#endif  // SHMHEAP_TESTS_SUPPORT_HEAP_TEST_UTIL_H_
