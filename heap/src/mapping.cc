// Mapping: mmap/msync/munmap of the heap window.
#include "heap/src/mapping.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace shmheap {

std::uint64_t Mapping::MaxWindow() noexcept {
  if constexpr (sizeof(void*) == 4) {
    return 1ull << 30;
  } else {
    return 1ull << 46;
  }
}

Mapping::Mapping(Mapping&& other) noexcept : base_(other.base_), window_(other.window_) {
  other.base_ = nullptr;
  other.window_ = 0;
}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    if (base_) ::munmap(base_, static_cast<size_t>(window_));
    base_ = other.base_;
    window_ = other.window_;
    other.base_ = nullptr;
    other.window_ = 0;
  }
  return *this;
}

Mapping::~Mapping() {
  if (base_) ::munmap(base_, static_cast<size_t>(window_));
}

Result<Mapping> Mapping::Map(int fd, std::uint64_t window, bool writable) {
  if (window == 0 || window > MaxWindow()) {
    return Status::NotSupported("heap window of " + std::to_string(window) +
                                " bytes does not fit this process's address space");
  }
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* p = ::mmap(nullptr, static_cast<size_t>(window), prot, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (p == MAP_FAILED) return Status::FromErrno("mmap " + std::to_string(window) + " bytes", errno);
  Mapping m;
  m.base_ = static_cast<std::byte*>(p);
  m.window_ = window;
  return m;
}

Status Mapping::Sync(std::uint64_t off, std::uint64_t len) const {
  const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::uint64_t start = off & ~(page - 1);
  std::uint64_t end = off + len;
  if (end > window_) end = window_;
  if (end <= start) return Status::Ok();
  if (::msync(base_ + start, static_cast<size_t>(end - start), MS_SYNC) != 0) {
    return Status::FromErrno("msync", errno);
  }
  return Status::Ok();
}

}  // namespace shmheap
