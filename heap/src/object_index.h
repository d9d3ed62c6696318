// ObjectIndex: the persistent name -> record hash index (PUPS/P3's name
// table). Open addressing with linear probing over a power-of-two table of
// 64-bit entries (format/record.h); each entry holds the record index and 24
// bits of the name's hash, so most mismatches are rejected without touching
// the record.
//
// Concurrency: Insert/Erase REQUIRE the heap mutex and happen inside
// BeginWrite()/EndWrite(), which make Superblock::index_seq odd while the
// index may be inconsistent. FindLockFree() reads without any lock and
// validates with index_seq (a seqlock); it reports kBusy when it could not get
// a stable answer, and the caller retries under the heap mutex.
// Every entry and record it reads is bounds-checked, so a race can cost a
// retry but never a wild access.
#ifndef SHMHEAP_OBJECT_INDEX_H_
#define SHMHEAP_OBJECT_INDEX_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <shmheap/status.hpp>

#include "heap/src/arena.h"
#include "heap/src/records.h"

namespace shmheap {

// Stable 64-bit hash of an object name (part of the format: do not change
// without bumping the format version).
std::uint64_t HashName(std::string_view name) noexcept;

class ObjectIndex {
 public:
  ObjectIndex(const Space* space, UndoLog* log, Arena* arena, RecordTable* records)
      : space_(space), log_(log), arena_(arena), records_(records) {}

  static constexpr std::uint64_t kMinCapacity = 1024;

  // Creates the empty table at creation time (unlogged).
  Status Format();

  // Lock-free lookup. Returns the record index, kNotFound, or kBusy (no
  // stable answer: retry under the heap mutex).
  Result<std::uint64_t> FindLockFree(std::string_view name, std::uint64_t hash) const;
  // Lookup. REQUIRES: heap mutex. Returns the record index or kNotFound.
  Result<std::uint64_t> Find(std::string_view name, std::uint64_t hash) const;
  // Like Find, without building a Status: the record index, or kAbsent if
  // the name is not there (or the table is invalid, which Find reports).
  static constexpr std::uint64_t kAbsent = ~0ull;
  std::uint64_t Probe(std::string_view name, std::uint64_t hash) const;

  // REQUIRES: heap mutex, between BeginWrite and EndWrite, name absent.
  Status Insert(std::uint64_t hash, std::uint64_t record);
  // REQUIRES: same. Removes the entry for `record`; kNotFound if absent.
  Status Erase(std::uint64_t hash, std::uint64_t record);

  void BeginWrite();
  void EndWrite();
  // After a dead writer: makes index_seq even again. REQUIRES: heap mutex.
  void ResetSeq();

  // Calls fn(record index) for every entry. REQUIRES: heap mutex.
  void ForEach(const std::function<void(std::uint64_t)>& fn) const;
  // Reports broken invariants: entries pointing at non-live records, wrong
  // hash tags, duplicates, counts.
  void Check(std::vector<std::string>* problems) const;

  // True if `r` is a live record whose name is `name`.
  bool NameIs(const format::ObjectRecord& r, std::string_view name, std::uint32_t hash32) const;

 private:
  std::uint64_t* Table(std::uint64_t* cap) const;
  Status Rebuild(std::uint64_t new_cap);

  const Space* space_;
  UndoLog* log_;
  Arena* arena_;
  RecordTable* records_;
};

}  // namespace shmheap

#endif  // SHMHEAP_OBJECT_INDEX_H_
