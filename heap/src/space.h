// Space: bounds-checked typed access to the mapped heap.
//
// Every offset read from the file goes through At<T>() before it is
// dereferenced: it must be aligned for T and lie wholly inside the heap's
// current size, which is itself validated against the mapping window and the
// real file size. A corrupt or hostile offset yields nullptr, never a wild
// access.
//
// Thread safety: safe for concurrent use; the cached limit only grows.
#ifndef SHMHEAP_SPACE_H_
#define SHMHEAP_SPACE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "heap/src/format/superblock.h"

namespace shmheap {

class BackingFile;

class Space {
 public:
  // REQUIRES: base maps `window` bytes of `file`, and the superblock at base
  // has been validated (heap/src/recovery.h).
  Space(std::byte* base, std::uint64_t window, const BackingFile* file, std::uint64_t limit)
      : base_(base), window_(window), file_(file), limit_(limit) {}

  std::byte* base() const noexcept { return base_; }
  std::uint64_t window() const noexcept { return window_; }
  format::Superblock* sb() const noexcept { return reinterpret_cast<format::Superblock*>(base_); }

  // True if [off, off + len) is inside the heap (refreshing the limit if the
  // heap has grown since it was last seen).
  bool Valid(std::uint64_t off, std::uint64_t len) const {
    std::uint64_t end = off + len;
    if (end < off) return false;
    if (end <= limit_.load(std::memory_order_acquire)) return true;
    return Refresh(end);
  }

  // Typed pointer to `n` Ts at `off`, or nullptr if misaligned or out of bounds.
  template <typename T>
  T* At(std::uint64_t off, std::uint64_t n = 1) const {
    // 8 for every format struct, in 32-bit and 64-bit builds alike.
    constexpr std::uint64_t kAlign = sizeof(T) >= 8 ? 8 : alignof(T);
    if (off % kAlign != 0) return nullptr;
    if (n > (~0ull / sizeof(T))) return nullptr;
    if (!Valid(off, sizeof(T) * n)) return nullptr;
    return reinterpret_cast<T*>(base_ + off);
  }

  std::byte* Bytes(std::uint64_t off, std::uint64_t len) const {
    return Valid(off, len) ? base_ + off : nullptr;
  }

  // The offset of a pointer into the mapping, or ~0 if it is not inside it.
  std::uint64_t OffsetOf(const void* p) const noexcept {
    auto b = reinterpret_cast<std::uintptr_t>(base_);
    auto q = reinterpret_cast<std::uintptr_t>(p);
    if (q < b || q - b >= window_) return ~0ull;
    return static_cast<std::uint64_t>(q - b);
  }

  // Current validated heap size.
  std::uint64_t limit() const noexcept { return limit_.load(std::memory_order_acquire); }

 private:
  // Re-reads Superblock::file_size; accepts it if it fits the window and the
  // real file. Returns whether `end` is now inside.
  bool Refresh(std::uint64_t end) const;

  std::byte* base_;
  std::uint64_t window_;
  const BackingFile* file_;
  mutable std::atomic<std::uint64_t> limit_;
};

// Atomic view of a field in mapped memory.
template <typename T>
inline std::atomic_ref<T> AtomicField(T& field) {
  return std::atomic_ref<T>(field);
}

// A relaxed load of a metadata field that another thread or process may be
// storing (with UndoLog::Set, or directly into a record being made): the
// lock-free readers (Stat, List) read fields this way and then check the
// record's state and generation again, seqlock fashion. On x86 it is the
// same load as a plain one, but it is not a data race.
template <typename T>
inline T LoadRelaxed(const T& field) {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}
template <typename T>
inline void StoreRelaxed(T& field, T value) {
  std::atomic_ref<T>(field).store(value, std::memory_order_relaxed);
}

// Copies `n` bytes that another thread may be overwriting: a name chunk that
// is freed and reused (as a name or as any object's data) while a lock-free
// reader copies it; the reader then finds the record changed and drops the
// copy. A plain memcpy, except under ThreadSanitizer, where the copy is kept
// out of its sight: any writer of the reused chunk (a memcpy, a store through
// a client's mapping) would otherwise be reported as racing the stale read.
#if defined(__SANITIZE_THREAD__)
__attribute__((no_sanitize_thread, noinline)) inline void CopyRacy(void* dst, const std::byte* src, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const volatile auto* s = reinterpret_cast<const volatile unsigned char*>(src);
  for (std::size_t i = 0; i < n; ++i) d[i] = s[i];
}
#else
inline void CopyRacy(void* dst, const std::byte* src, std::size_t n) { __builtin_memcpy(dst, src, n); }
#endif

}  // namespace shmheap

#endif  // SHMHEAP_SPACE_H_
