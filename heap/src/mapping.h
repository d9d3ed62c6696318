// Mapping: the one MAP_SHARED view of a heap file. The only heap/ file that
// maps memory.
//
// The whole address window a heap may ever need (its maximum size, capped on
// 32-bit hosts) is mapped once at attach. Pages past the end of the file are
// mapped but must not be touched; when any process grows the file, the new
// pages become usable in every process's existing mapping with no remap, so
// object addresses never move while a process stays attached.
//
// Thread safety: immutable after construction; Sync may be called concurrently.
#ifndef SHMHEAP_MAPPING_H_
#define SHMHEAP_MAPPING_H_

#include <cstddef>
#include <cstdint>

#include <shmheap/status.hpp>

namespace shmheap {

class Mapping {
 public:
  // The largest window this process can map: 1 GiB on 32-bit hosts.
  static std::uint64_t MaxWindow() noexcept;

  Mapping() = default;
  Mapping(Mapping&& other) noexcept;
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  // Maps `window` bytes of `fd` from offset 0. Errors: kIOError (ENOMEM...).
  static Result<Mapping> Map(int fd, std::uint64_t window, bool writable);

  std::byte* base() const noexcept { return base_; }
  std::uint64_t window() const noexcept { return window_; }

  // msync(MS_SYNC) of [off, off+len) (rounded out to host pages). Blocks.
  Status Sync(std::uint64_t off, std::uint64_t len) const;

 private:
  std::byte* base_ = nullptr;
  std::uint64_t window_ = 0;
};

}  // namespace shmheap

#endif  // SHMHEAP_MAPPING_H_
