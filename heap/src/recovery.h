// Creation and open-time validation of heap files.
//
// ValidateSuperblock is the gate every heap passes before anything in it is
// trusted: magic, version, byte order, geometry, and every root offset must be
// in bounds. Later accesses still go through Space's bounds checks, so a file
// that passes here but is corrupt deeper down yields kCorruption, not a crash.
//
// FormatHeap lays out a new heap in an empty file (before it is linked into
// place, see BackingFile::CreateAtomically).
#ifndef SHMHEAP_RECOVERY_H_
#define SHMHEAP_RECOVERY_H_

#include <cstdint>
#include <string>

#include <shmheap/status.hpp>

#include "heap/src/format/superblock.h"

namespace shmheap {

class BackingFile;

// Fixed layout of format version 1.
inline constexpr std::uint64_t kUndoOffset = format::kBlockSize;
inline constexpr std::uint64_t kClientTableOffset = kUndoOffset + 32 * format::kBlockSize;
inline constexpr std::uint64_t kArenaStart = kClientTableOffset + 32 * format::kBlockSize;
inline constexpr std::uint64_t kMinHeapSize = kArenaStart + 64 * format::kBlockSize;
inline constexpr std::uint64_t kDefaultInitialSize = 1ull << 20;

// Checks a superblock read from a file of `real_size` bytes. `path` is used
// in messages. Errors: kCorruption (which field, which value),
// kVersionMismatch.
Status ValidateSuperblock(const format::Superblock& sb, std::uint64_t real_size, const std::string& path);

// Reads and validates the superblock of an open heap file.
Result<format::Superblock> ReadSuperblock(const BackingFile& file);

// Lays out a fresh heap of `initial_size` bytes with maximum `max_size` in
// `file` (which must be empty).
Status FormatHeap(BackingFile& file, std::uint64_t initial_size, std::uint64_t max_size);

}  // namespace shmheap

#endif  // SHMHEAP_RECOVERY_H_
