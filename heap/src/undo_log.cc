// UndoLog implementation.
#include "heap/src/undo_log.h"

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "heap/src/log.h"

namespace shmheap {

using format::kUndoCapacity;
using format::kUndoWidth32;
using format::UndoEntry;

UndoLog::UndoLog(const Space* space)
    : space_(space),
      entries_(space->At<UndoEntry>(space->sb()->undo_off, kUndoCapacity)) {}

std::uint32_t UndoLog::pending() const {
  return AtomicField(space_->sb()->undo_count).load(std::memory_order_relaxed);
}

void UndoLog::Overflow(std::uint32_t n) {
  Log()->critical("undo log overflow ({} entries): an operation exceeded its bound", n);
  std::abort();
}

void UndoLog::LogRange(void* p, std::uint64_t len) {
  auto* b = static_cast<std::byte*>(p);
  for (std::uint64_t i = 0; i < len; i += 8) LogWord(b + i, 8);
}

void UndoLog::Commit() {
  auto count = AtomicField(space_->sb()->undo_count);
  if (count.load(std::memory_order_relaxed) == 0) return;
  BumpMutationSeq();
  std::atomic_thread_fence(std::memory_order_release);
  count.store(0, std::memory_order_release);
}

void UndoLog::BumpMutationSeq() {
  // Still under the heap mutex, which is released only after this store: a
  // reader without the mutex that sees the old sequence and then a free
  // mutex saw no change in between (HeapImpl::CheckSnapshot).
  AtomicField(space_->sb()->mutation_seq).fetch_add(1, std::memory_order_acq_rel);
}

Result<std::uint32_t> UndoLog::Rollback() {
  auto count = AtomicField(space_->sb()->undo_count);
  std::uint32_t n = count.load(std::memory_order_acquire);
  if (n == 0) return 0u;
  if (n > kUndoCapacity || entries_ == nullptr) {
    return Status::Corruption("undo log count " + std::to_string(n) + " exceeds capacity");
  }
  // Validate everything before changing anything.
  for (std::uint32_t i = 0; i < n; ++i) {
    const UndoEntry& e = entries_[i];
    bool narrow = e.offset & kUndoWidth32;
    std::uint64_t off = e.offset & ~kUndoWidth32;
    std::uint64_t width = narrow ? 4 : 8;
    const format::Superblock* sb = space_->sb();
    bool in_log = off + width > sb->undo_off &&
                  off < sb->undo_off + std::uint64_t{kUndoCapacity} * sizeof(UndoEntry);
    // heap_mutex, undo_count, index_seq and mutation_seq (bytes 92..111)
    // are never logged.
    bool is_sync_word = off < offsetof(format::Superblock, mutation_seq) + 8 &&
                        off + width > offsetof(format::Superblock, heap_mutex);
    if (off % width != 0 || in_log || is_sync_word || !space_->Valid(off, width) ||
        (narrow && e.old_value > 0xFFFFFFFFull)) {
      return Status::Corruption("undo log entry " + std::to_string(i) + " has bad offset " +
                                std::to_string(off));
    }
  }
  for (std::uint32_t i = n; i-- > 0;) {
    const UndoEntry& e = entries_[i];
    std::uint64_t off = e.offset & ~kUndoWidth32;
    if (e.offset & kUndoWidth32) {
      auto v = static_cast<std::uint32_t>(e.old_value);
      std::memcpy(space_->base() + off, &v, 4);
    } else {
      std::memcpy(space_->base() + off, &e.old_value, 8);
    }
  }
  std::atomic_thread_fence(std::memory_order_release);
  BumpMutationSeq();
  count.store(0, std::memory_order_release);
  return n;
}

}  // namespace shmheap
