// Heap file creation and superblock validation.
#include "heap/src/recovery.h"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "heap/src/arena.h"
#include "heap/src/backing_file.h"
#include "heap/src/format/lock_slot.h"
#include "heap/src/format/record.h"
#include "heap/src/format/undo_entry.h"
#include "heap/src/mapping.h"
#include "heap/src/object_index.h"
#include "heap/src/records.h"

namespace shmheap {

using format::kBlockSize;
using format::Superblock;

namespace {

std::string Hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

bool InRange(std::uint64_t off, std::uint64_t len, std::uint64_t size) {
  return off <= size && len <= size - off;
}

}  // namespace

Status ValidateSuperblock(const Superblock& sb, std::uint64_t real_size, const std::string& path) {
  auto bad = [&](const std::string& what) { return Status::Corruption(path + ": " + what); };
  if (sb.magic != format::kMagic) return bad("not a shmheap file (magic " + Hex(sb.magic) + ")");
  if (sb.byte_order_mark != format::kByteOrderMark) return bad("byte-order mark " + Hex(sb.byte_order_mark));
  if (sb.format_version < format::kOldestFormatVersion || sb.format_version > format::kFormatVersion) {
    return Status::VersionMismatch(path + ": format version " + std::to_string(sb.format_version) +
                                   ", this library reads versions " + std::to_string(format::kOldestFormatVersion) +
                                   " to " + std::to_string(format::kFormatVersion));
  }
  if (sb.block_size != kBlockSize || sb.superblock_size != sizeof(Superblock)) {
    return bad("block size " + std::to_string(sb.block_size));
  }
  if (sb.file_size % kBlockSize != 0 || sb.file_size < kMinHeapSize) {
    return bad("heap size " + std::to_string(sb.file_size) + " is not a valid size");
  }
  if (sb.file_size > real_size) {
    return bad("heap size " + std::to_string(sb.file_size) + " exceeds the file's " + std::to_string(real_size) +
               " bytes (truncated file)");
  }
  if (sb.max_size < sb.file_size) return bad("maximum size " + std::to_string(sb.max_size) + " below heap size");
  if (sb.undo_off != kUndoOffset || sb.client_table_off != kClientTableOffset || sb.arena_start != kArenaStart) {
    return bad("region offsets do not match format version 1");
  }
  if (sb.clean_state > format::kStateCleanClose) return bad("clean-close flag " + std::to_string(sb.clean_state));
  if (sb.undo_count > format::kUndoCapacity) return bad("undo log count " + std::to_string(sb.undo_count));
  // An operation killed inside Arena::Grow leaves the heap already grown but
  // its page table not yet (a logged, pending change the rollback under the
  // heap mutex undoes): a table shorter than the heap is then expected. (The
  // arena never looks past the table's end.)
  const bool op_pending = sb.undo_count != 0;
  if (sb.pageinfo_off % kBlockSize != 0 || sb.pageinfo_off < sb.arena_start ||
      (!op_pending && sb.pageinfo_count < sb.file_size / kBlockSize) || sb.pageinfo_count > (sb.file_size / 16) ||
      !InRange(sb.pageinfo_off, sb.pageinfo_count * 16, sb.file_size)) {
    return bad("page table (offset " + std::to_string(sb.pageinfo_off) + ", " + std::to_string(sb.pageinfo_count) +
               " entries) out of bounds");
  }
  if (sb.index_capacity < ObjectIndex::kMinCapacity || (sb.index_capacity & (sb.index_capacity - 1)) != 0 ||
      sb.index_capacity > sb.file_size / 8 || !InRange(sb.index_table, sb.index_capacity * 8, sb.file_size) ||
      sb.index_table < sb.arena_start) {
    return bad("name index (offset " + std::to_string(sb.index_table) + ", capacity " +
               std::to_string(sb.index_capacity) + ") out of bounds");
  }
  if (sb.client_high > format::kMaxClients) return bad("client high-water mark " + std::to_string(sb.client_high));
  if (sb.record_high > format::kMaxRecords || sb.record_free > sb.record_high) {
    return bad("record table counters " + std::to_string(sb.record_high) + "/" + std::to_string(sb.record_free));
  }
  for (unsigned k = 0; k < format::kNumRecordSegments; ++k) {
    std::uint64_t seg = sb.record_segments[k];
    if (seg == 0) continue;
    std::uint64_t bytes = (format::kRecordSeg0 << k) * sizeof(format::ObjectRecord);
    if (seg < sb.arena_start || seg % 8 != 0 || !InRange(seg, bytes, sb.file_size)) {
      return bad("record segment " + std::to_string(k) + " out of bounds");
    }
  }
  return Status::Ok();
}

Result<Superblock> ReadSuperblock(const BackingFile& file) {
  Superblock sb;
  ssize_t n;
  do {
    n = ::pread(file.fd(), &sb, sizeof(sb), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::FromErrno("read superblock of " + file.path(), errno);
  if (static_cast<std::size_t>(n) < sizeof(sb)) {
    return Status::Corruption(file.path() + ": file of " + std::to_string(n) + " bytes is too short to be a heap");
  }
  auto size = file.Size();
  if (!size.ok()) return size.status();
  SHMHEAP_RETURN_IF_ERROR(ValidateSuperblock(sb, *size, file.path()));
  return sb;
}

Status FormatHeap(BackingFile& file, std::uint64_t initial_size, std::uint64_t max_size) {
  initial_size = (initial_size + kBlockSize - 1) / kBlockSize * kBlockSize;
  if (initial_size < kMinHeapSize) initial_size = kMinHeapSize;
  if (max_size < initial_size) {
    return Status::InvalidArgument("maximum size " + std::to_string(max_size) + " is below the initial size " +
                                   std::to_string(initial_size));
  }
  max_size = max_size / kBlockSize * kBlockSize;
  SHMHEAP_RETURN_IF_ERROR(file.GrowTo(initial_size));
  auto map = Mapping::Map(file.fd(), initial_size, true);
  if (!map.ok()) return map.status();
  std::memset(map->base(), 0, kArenaStart);
  auto* sb = reinterpret_cast<Superblock*>(map->base());
  sb->magic = format::kMagic;
  sb->format_version = format::kFormatVersion;
  sb->byte_order_mark = format::kByteOrderMark;
  sb->block_size = kBlockSize;
  sb->superblock_size = sizeof(Superblock);
  std::random_device rd;
  for (auto& b : sb->uuid) b = static_cast<std::uint8_t>(rd());
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  sb->create_time_ns = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
  sb->file_size = initial_size;
  sb->max_size = max_size;
  sb->undo_off = kUndoOffset;
  sb->client_table_off = kClientTableOffset;
  sb->arena_start = kArenaStart;
  sb->clean_state = format::kStateCleanClose;
  sb->next_generation = 1;
  sb->heap_id = (static_cast<std::uint64_t>(rd()) << 32 | rd()) | 1;
  Space space(map->base(), initial_size, &file, initial_size);
  SHMHEAP_RETURN_IF_ERROR(Arena::Format(space, static_cast<std::uint32_t>(kArenaStart / kBlockSize),
                                        static_cast<std::uint32_t>(initial_size / kBlockSize)));
  // The index table is the first allocation; its log entries are discarded.
  UndoLog log(&space);
  Arena arena(&space, &log, &file);
  RecordTable records(&space, &log, &arena);
  ObjectIndex index(&space, &log, &arena, &records);
  SHMHEAP_RETURN_IF_ERROR(index.Format());
  arena.ApplyCounts();
  log.Commit();
  return map->Sync(0, initial_size);
}

}  // namespace shmheap
