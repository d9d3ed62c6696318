// Shared definitions for the on-disk format: fixed sizes and the checks that
// make the layout identical for 32-bit and 64-bit builds.
//
// Every struct in heap/src/format/ is trivially copyable, standard layout,
// uses only fixed-width fields with explicit padding, and has static_asserts
// on its size and on every field offset, so an i386 build (where uint64_t is
// only 4-aligned inside structs) lays it out exactly as an x86_64 build does.
// All multi-byte fields are native little-endian; big-endian hosts are refused
// at compile time (the byte-order mark in the superblock double-checks it).
#ifndef SHMHEAP_FORMAT_COMMON_H_
#define SHMHEAP_FORMAT_COMMON_H_

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

static_assert(std::endian::native == std::endian::little,
              "the shmheap format is little-endian; big-endian hosts are not supported");
static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free,
              "64-bit atomics must be lock-free (i686 or newer on 32-bit x86)");

namespace shmheap::format {

// The allocation granule of the arena and the unit of growth. Fixed by the
// format, independent of the host page size (the whole file is mapped from 0,
// so only the file size must be a multiple of the host page size).
inline constexpr std::uint32_t kBlockSize = 4096;
inline constexpr std::uint32_t kBlockShift = 12;

// Checks shared by every format struct.
template <typename T>
constexpr bool IsFormatStruct() {
  return std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T>;
}

}  // namespace shmheap::format

#define SHMHEAP_FORMAT_STRUCT(T, size)                                   \
  static_assert(::shmheap::format::IsFormatStruct<T>(), #T " layout");   \
  static_assert(sizeof(T) == (size), #T " size")

#define SHMHEAP_FORMAT_FIELD(T, field, off) \
  static_assert(offsetof(T, field) == (off), #T "::" #field " offset")

#endif  // SHMHEAP_FORMAT_COMMON_H_
