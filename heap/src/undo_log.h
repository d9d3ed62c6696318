// UndoLog: makes every metadata operation atomic with respect to kill -9.
//
// REQUIRES for every method: the caller holds the heap mutex.
//
// The heap-mutex holder changes metadata only through Set(): it appends the
// word's offset and old value to the log (format/undo_entry.h), publishes the
// new count, and only then stores the new value. Commit() empties the log.
// If the holder dies, whoever takes the mutex over calls Rollback(), which
// restores the logged words newest first. Stores to a process-shared mapping
// survive the death of the process that made them, and x86 keeps one
// thread's stores in order, so the log entry is always visible before the
// change it protects (the fences below keep the compiler from reordering).
//
// Memory that no committed state references (a block being allocated in the
// same operation, a table being rebuilt before it is published) may be written
// directly: a rollback makes it unreachable again.
//
// Every operation must fit in format::kUndoCapacity entries; overflowing it is
// a bug in this library, reported at critical level before aborting.
#ifndef SHMHEAP_UNDO_LOG_H_
#define SHMHEAP_UNDO_LOG_H_

#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <shmheap/status.hpp>

#include "heap/src/format/undo_entry.h"
#include "heap/src/space.h"

namespace shmheap {

class UndoLog {
 public:
  explicit UndoLog(const Space* space);

  // Logs the old value of `field` and stores `value`. Fields narrower than
  // 4 bytes are logged as their enclosing aligned 4-byte word.
  // Always inline: every metadata store of every operation goes through it,
  // and out of line it measured as a seventh of a named alloc+free.
  template <typename T>
  [[gnu::always_inline]] void Set(T& field, T value) {
    static_assert(std::is_trivially_copyable_v<T> && (sizeof(T) == 1 || sizeof(T) == 2 ||
                                                      sizeof(T) == 4 || sizeof(T) == 8));
    if constexpr (sizeof(T) == 8) {
      LogWord(&field, 8);
    } else {
      auto addr = reinterpret_cast<std::uintptr_t>(&field);
      LogWord(reinterpret_cast<void*>(addr & ~std::uintptr_t{3}), 4);
    }
    std::atomic_signal_fence(std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_release);
    // Relaxed atomic (a plain store on x86): lock-free readers may load it.
    StoreRelaxed(field, value);
  }

  // Like Set, for a field that other threads read without the heap mutex
  // (hold entries, a record's state and generation): the store is an
  // atomic release, so a reader that loads it with acquire also sees the
  // stores before it (a record's fields before its state; ThreadSanitizer
  // does not model the fence alone).
  template <typename T>
  void SetAtomic(T& field, T value) {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8);
    LogWord(&field, sizeof(T));
    std::atomic_signal_fence(std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_release);
    std::atomic_ref<T>(field).store(value, std::memory_order_release);
  }

  // Logs `len` bytes at `p` (8-aligned, multiple of 8) before the caller
  // overwrites them. For small structs changed field by field.
  void LogRange(void* p, std::uint64_t len);

  // Empties the log: the operation is now committed. A commit or rollback
  // of a non-empty log bumps Superblock::mutation_seq.
  void Commit();

  // Number of entries of the operation in progress.
  std::uint32_t pending() const;

  // Restores every logged word, newest first, then empties the log. Each entry
  // is validated first; an invalid one makes the log unusable (kCorruption,
  // nothing restored). Returns the number of entries restored.
  Result<std::uint32_t> Rollback();

 private:
  // Appends one entry; inline, since every metadata store goes through it.
  [[gnu::always_inline]] void LogWord(void* word, int width) {
    auto count = AtomicField(space_->sb()->undo_count);
    const std::uint32_t n = count.load(std::memory_order_relaxed);
    if (n >= format::kUndoCapacity || entries_ == nullptr) [[unlikely]] Overflow(n);
    format::UndoEntry& e = entries_[n];
    if (width == 8) {
      e.offset = space_->OffsetOf(word);
      std::memcpy(&e.old_value, word, 8);
    } else {
      std::uint32_t v;
      std::memcpy(&v, word, 4);
      e.offset = space_->OffsetOf(word) | format::kUndoWidth32;
      e.old_value = v;
    }
    std::atomic_signal_fence(std::memory_order_seq_cst);
    count.store(n + 1, std::memory_order_release);
  }
  [[noreturn]] static void Overflow(std::uint32_t n);
  void BumpMutationSeq();

  const Space* space_;
  format::UndoEntry* entries_;
};

}  // namespace shmheap

#endif  // SHMHEAP_UNDO_LOG_H_
