// Heap test helpers. See heap_test_util.h.
#include "tests/support/heap_test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace shmheap::testing {

namespace {

std::string ScratchBase() {
  // SHMHEAP_SCRATCH picks another place, e.g. a tmpfs mounted with huge=.
  if (const char* forced = std::getenv("SHMHEAP_SCRATCH"); forced && *forced) return forced;
  struct stat st {};
  if (::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && ::access("/dev/shm", W_OK) == 0) return "/dev/shm";
  const char* base = std::getenv("TMPDIR");
  return base && *base ? base : "/tmp";
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

ShmDir::ShmDir() {
  std::string tmpl = ScratchBase() + "/shmheap-test-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

ShmDir::~ShmDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::uint64_t Mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::uint64_t HashOf(std::string_view s, std::uint64_t salt) {
  std::uint64_t h = 0xCBF29CE484222325ull ^ Mix64(salt);
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ull;
  }
  return Mix64(h);
}

std::byte PatternByte(std::uint64_t seed, std::size_t i) {
  // One mix per 8 bytes would be faster; per byte keeps it obviously right.
  std::uint64_t w = Mix64(seed ^ (static_cast<std::uint64_t>(i / 8) * 0xD6E8FEB86659FD93ull));
  return static_cast<std::byte>(w >> ((i % 8) * 8));
}

void FillPattern(std::span<std::byte> out, std::uint64_t seed) {
  std::size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    std::uint64_t w = Mix64(seed ^ (static_cast<std::uint64_t>(i / 8) * 0xD6E8FEB86659FD93ull));
    std::memcpy(out.data() + i, &w, 8);
  }
  for (; i < out.size(); ++i) out[i] = PatternByte(seed, i);
}

bool CheckPattern(std::span<const std::byte> in, std::uint64_t seed, std::size_t* bad_at) {
  std::size_t i = 0;
  for (; i + 8 <= in.size(); i += 8) {
    std::uint64_t w = Mix64(seed ^ (static_cast<std::uint64_t>(i / 8) * 0xD6E8FEB86659FD93ull));
    if (std::memcmp(in.data() + i, &w, 8) != 0) break;
  }
  for (; i < in.size(); ++i) {
    if (in[i] != PatternByte(seed, i)) {
      if (bad_at) *bad_at = i;
      return false;
    }
  }
  return true;
}

void FillStamped(std::span<std::byte> out, std::uint64_t seed) {
  std::memcpy(out.data(), &seed, 8);
  FillPattern(out.subspan(8), seed);
}

bool CheckStamped(std::span<const std::byte> in, std::uint64_t* seed) {
  if (in.size() < 8) return false;
  std::uint64_t s;
  std::memcpy(&s, in.data(), 8);
  if (seed) *seed = s;
  return CheckPattern(in.subspan(8), s);
}

int WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  const std::int64_t deadline = NowMs() + timeout.count();
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return DecodeStatus(status);
    if (r < 0 && errno != EINTR) return -1;
    if (NowMs() >= deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return -2;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

Pipe::Pipe() {
  if (::pipe2(fds_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
}

Pipe::~Pipe() {
  CloseRead();
  CloseWrite();
}

void Pipe::CloseRead() {
  if (fds_[0] >= 0) ::close(fds_[0]);
  fds_[0] = -1;
}

void Pipe::CloseWrite() {
  if (fds_[1] >= 0) ::close(fds_[1]);
  fds_[1] = -1;
}

bool Pipe::Write(const void* buf, std::size_t len) {
  const char* p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = ::write(fds_[1], p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}

bool Pipe::Read(void* buf, std::size_t len, std::chrono::milliseconds timeout) {
  const std::int64_t deadline = NowMs() + timeout.count();
  char* p = static_cast<char*>(buf);
  while (len > 0) {
    const std::int64_t left = deadline - NowMs();
    if (left <= 0) return false;
    struct pollfd pfd {
      fds_[0], POLLIN, 0
    };
    int r = ::poll(&pfd, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t n = ::read(fds_[0], p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}

void* MapSharedAnonymous(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("mmap of shared memory failed");
  return p;
}

void UnmapSharedAnonymous(void* p, std::size_t bytes) { ::munmap(p, bytes); }

}  // namespace shmheap::testing
