// HeapImpl: list, stat, statistics, clients, and the invariant check.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>
#include <unordered_map>

#include "heap/src/heap_impl.h"
#include "heap/src/recovery.h"

namespace shmheap {

using format::ObjectRecord;

namespace {

// (Lock-free readers call this on chunks that may be freed meanwhile.)
std::string Str(const Space& space, std::uint64_t off, std::uint32_t len) {
  const std::byte* p = len ? space.Bytes(off, len) : nullptr;
  if (!p) return std::string();
  std::string s(len, '\0');
  CopyRacy(s.data(), p, len);
  return s;
}

std::string UuidString(const std::uint8_t* u) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  return buf;
}

}  // namespace

ObjectInfo HeapImpl::InfoOf(std::uint64_t index, const ObjectRecord& r) const {
  // Stat and List call this without the heap mutex (and check the record
  // again afterwards): every field is loaded atomically. The version first,
  // with acquire: writers store a new size (or data) before they bump the
  // version, so the size read after it is never older than the version; a
  // reader pairing a new version with an old size would tell the file system
  // the kernel's cached size is current when it is not.
  ObjectInfo info;
  info.version = AtomicField(const_cast<ObjectRecord&>(r).version).load(std::memory_order_acquire);
  info.id = ObjectId{index + 1, LoadGeneration(r)};
  info.name = Str(*space_, LoadRelaxed(r.name_off), LoadRelaxed(r.name_len));
  info.size = LoadRelaxed(r.size);
  info.capacity = LoadRelaxed(r.capacity);
  info.offset = LoadRelaxed(r.data_off);
  info.type = Str(*space_, LoadRelaxed(r.type_off), LoadRelaxed(r.type_len));
  info.attr = ObjectAttr{LoadRelaxed(r.mode), LoadRelaxed(r.uid), LoadRelaxed(r.gid)};
  info.atime_ns = LoadRelaxed(r.atime_ns);
  info.mtime_ns = LoadRelaxed(r.mtime_ns);
  info.ctime_ns = LoadRelaxed(r.ctime_ns);
  info.lock_state = ObjectLocks::Describe(AtomicField(const_cast<ObjectRecord&>(r).lock_word).load());
  info.refs = LoadRelaxed(r.refs);
  return info;
}

bool HeapImpl::StillHolds(const ObjectRecord& r, std::uint64_t generation, bool named) {
  std::atomic_thread_fence(std::memory_order_acquire);
  const std::uint32_t state = LoadState(r);
  return (named ? state == format::kRecordLive : IsLiveOrOrphan(state)) && LoadGeneration(r) == generation;
}

// Stat reads without the heap mutex: another process may free (or free and
// reuse) the record meanwhile, so the state and generation are checked
// again once its fields are read.
Result<ObjectInfo> HeapImpl::Stat(std::string_view name) {
  auto index = FindAny(name);
  if (!index.ok()) return index.status();
  const ObjectRecord* r = Record(*index);
  ObjectInfo info = InfoOf(*index, *r);
  if (!StillHolds(*r, info.id.generation, true) || info.name != name) {
    return Status::NotFound(std::string(name));
  }
  return info;
}

Result<ObjectInfo> HeapImpl::Stat(ObjectId id) {
  const ObjectRecord* r = id.inode ? Record(id.inode - 1) : nullptr;
  // Read, then check: the check after the read is the one that counts
  // (InfoOf is bounds-checked whatever the record holds).
  if (r) {
    ObjectInfo info = InfoOf(id.inode - 1, *r);
    if (StillHolds(*r, id.generation)) return info;
  }
  return Status::Stale("object " + std::to_string(id.inode) + " generation " + std::to_string(id.generation));
}

std::vector<ObjectInfo> HeapImpl::List() {
  std::vector<std::uint64_t> indexes;
  if (read_only_) {
    index_->ForEach([&](std::uint64_t i) { indexes.push_back(i); });
  } else {
    Op op(this);
    index_->ForEach([&](std::uint64_t i) { indexes.push_back(i); });
    op.Finish();
  }
  std::vector<ObjectInfo> out;
  out.reserve(indexes.size());
  for (std::uint64_t i : indexes) {
    const ObjectRecord* r = Record(i);
    if (!r) continue;
    ObjectInfo info = InfoOf(i, *r);
    // Removed since the index was read (outside the heap mutex).
    if (StillHolds(*r, info.id.generation, true)) out.push_back(std::move(info));
  }
  return out;
}

std::vector<ClientInfo> HeapImpl::Clients() {
  std::vector<ClientInfo> out;
  for (std::uint32_t s : clients_->Attached()) {
    const format::ClientSlot* c = clients_->Get(s);
    ClientInfo ci;
    ci.slot = s;
    ci.pid = c->pid;
    ci.host = std::string(c->host, strnlen(c->host, sizeof(c->host)));
    ci.start_ticks = c->start_ticks;
    ci.attach_time_ns = c->attach_time_ns;
    ci.word_size = c->word_size;
    ci.self = !read_only_ && s == slot_;
    ci.alive = ci.self || !clients_->IsDead(s, read_only_ ? -1 : slot_);
    out.push_back(ci);
  }
  return out;
}

HeapStats HeapImpl::Stats() {
  HeapStats st;
  ArenaStats a = arena_->Stats();
  auto* sb = space_->sb();
  st.file_size = a.file_size;
  st.max_size = a.max_size;
  st.allocations = a.allocations;
  st.chunk_bytes = a.chunk_bytes;
  st.free_bytes = a.free_blocks * format::kBlockSize;
  st.free_runs = a.free_runs;
  st.largest_free_run = a.largest_free_run * format::kBlockSize;
  st.internal_fragmentation = a.internal_fragmentation;
  st.external_fragmentation = a.external_fragmentation;
  st.recoveries = sb->recoveries;
  st.uuid = UuidString(sb->uuid);
  for (std::uint64_t i = 0, n = records_->high(); i < n; ++i) {
    const ObjectRecord* r = Record(i);
    if (r && LoadState(*r) == format::kRecordLive) {  // no heap mutex: a snapshot
      ++st.objects;
      st.object_bytes += LoadRelaxed(r->size);
    }
  }
  st.clients = static_cast<std::uint32_t>(clients_->Attached().size());
  return st;
}

std::vector<std::string> HeapImpl::CheckAttached() {
  std::vector<std::string> problems;
  if (read_only_) {
    auto r = CheckSnapshot();
    if (!r.ok()) return {r.status().ToString()};
    return std::move(*r);
  }
  Op op(this);
  CheckSpace(*space_, &file_, slot_, locks_.get(), &problems);
  op.Finish();
  return problems;
}

Result<std::vector<std::string>> HeapImpl::CheckSnapshot() {
  // No heap mutex to take. A snapshot is trusted if the mutex word was the
  // same before and after and mutation_seq did not move: seq is loaded
  // before the word at the start and after it at the end, so an operation
  // that began meanwhile is seen either holding the mutex or having bumped
  // the sequence (it bumps before it unlocks).
  auto* sb = space_->sb();
  auto seq = AtomicField(sb->mutation_seq);
  auto word = AtomicField(sb->heap_mutex);
  auto owner_of = [](std::uint32_t w) { return w & ~HeapMutex::kWaiters; };
  // Operations last microseconds: try again soon, for about 2 s in all.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  std::uint32_t live_owner = 0;
  std::vector<std::string> problems;
  int t = 0;
  for (; t == 0 || std::chrono::steady_clock::now() < give_up; ++t) {
    if (t > 0) std::this_thread::sleep_for(std::chrono::microseconds(std::min(t, 20) * 50));
    const std::uint64_t before = seq.load(std::memory_order_acquire);
    const std::uint32_t w = word.load(std::memory_order_acquire);
    // Held by a dead process, the mutex stays as it is until some client
    // takes it over: a snapshot then shows what the file holds (the undo
    // log's line says if an operation was half done). Held by a live one,
    // wait.
    if (const std::uint32_t o = owner_of(w); o != 0 && !clients_->LivenessLost(o - 1, -1)) {
      live_owner = o;
      continue;
    }
    problems.clear();
    CheckSpace(*space_, &file_, -1, nullptr, &problems);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (owner_of(word.load(std::memory_order_acquire)) == owner_of(w) && seq.load(std::memory_order_acquire) == before) {
      return problems;
    }
    live_owner = 0;
  }
  if (live_owner != 0) {
    return Status::Busy(path_ + ": the heap mutex stayed held by client slot " + std::to_string(live_owner - 1) +
                        " throughout the check; check again, or attached read-write (shmheap check), which waits");
  }
  return Status::Busy(path_ + ": the heap changed during each of " + std::to_string(t) +
                      " read-only checks; check again, or attached read-write (shmheap check), which waits");
}

void HeapImpl::CheckSpace(const Space& space, BackingFile* file, std::int64_t self_slot, const ObjectLocks* own,
                          std::vector<std::string>* problems) {
  auto* sb = space.sb();
  if (sb->undo_count != 0) {
    problems->push_back("undo log holds " + std::to_string(sb->undo_count) +
                        " entries of an interrupted operation (attaching rolls it back)");
  }
  UndoLog log(&space);
  Arena arena(&space, &log, file);
  RecordTable records(&space, &log, &arena);
  ObjectIndex index(&space, &log, &arena, &records);
  struct Chunks : Arena::ChunkVisitor {
    std::unordered_map<std::uint64_t, std::uint64_t> owner;  // data offset -> owner
    void Chunk(std::uint64_t off, std::uint64_t, std::uint64_t o) override { owner[off] = o; }
  } chunks;
  arena.Check(problems, &chunks);
  index.Check(problems);
  // Records: fields, and every chunk they reference is theirs.
  std::uint64_t live = 0;
  auto expect_chunk = [&](std::uint64_t i, std::uint64_t off, const char* what) {
    auto it = chunks.owner.find(off);
    if (it == chunks.owner.end()) {
      problems->push_back("record " + std::to_string(i) + ": " + what + " at " + std::to_string(off) +
                          " is not an allocated chunk");
    } else if (it->second != i + 1) {
      problems->push_back("record " + std::to_string(i) + ": " + what + " chunk belongs to owner " +
                          std::to_string(it->second));
    } else {
      chunks.owner.erase(it);
    }
  };
  for (std::uint64_t i = 0, n = records.high(); i < n; ++i) {
    const ObjectRecord* r = records.Get(i);
    if (!r) {
      problems->push_back("record " + std::to_string(i) + " lies outside the heap");
      continue;
    }
    if (r->state == format::kRecordFree) continue;
    if (r->state != format::kRecordLive && r->state != format::kRecordOrphan) {
      problems->push_back("record " + std::to_string(i) + " has bad state " + std::to_string(r->state));
      continue;
    }
    ++live;
    expect_chunk(i, r->data_off, "data");
    if (r->size > r->capacity || r->capacity != arena.Capacity(r->data_off)) {
      problems->push_back("record " + std::to_string(i) + ": size " + std::to_string(r->size) + " / capacity " +
                          std::to_string(r->capacity) + " do not fit its chunk");
    }
    if (r->state == format::kRecordLive) expect_chunk(i, r->name_off, "name");
    if (r->type_off) expect_chunk(i, r->type_off, "type");
    if (r->link) expect_chunk(i, r->link, "attributes");
  }
  if (live != sb->records_live) {
    problems->push_back("superblock counts " + std::to_string(sb->records_live) + " objects, found " +
                        std::to_string(live));
  }
  // Free-record list: acyclic, only free records.
  std::uint64_t steps = 0;
  for (std::uint64_t f = sb->record_free; f != 0; f = records.Get(f - 1)->link) {
    const ObjectRecord* r = records.Get(f - 1);
    if (!r || r->state != format::kRecordFree || ++steps > records.high()) {
      problems->push_back("free-record list is broken at record " + std::to_string(f - 1));
      break;
    }
  }
  // The library's own chunks: exactly the index table, the record segments
  // and the hold-table segments.
  std::unordered_map<std::uint64_t, bool> pinned;
  std::unordered_map<std::uint64_t, const char*> internal;
  internal[sb->index_table] = "name index table";
  for (unsigned k = 0; k < format::kNumRecordSegments; ++k) {
    if (sb->record_segments[k]) internal[sb->record_segments[k]] = "record segment";
  }
  ClientTable clients(&space, &log, file);
  bool retiring = false;  // a release may be between its hold's removal and its free
  for (std::uint32_t s : clients.Attached()) {
    if (static_cast<std::int64_t>(s) != self_slot) retiring = true;
    const format::ClientSlot* c = clients.Get(s);
    std::uint64_t seg = c->holds_off;
    for (int i = 0; seg != 0 && i < 40; ++i) {
      internal[seg] = "hold-table segment";
      auto* hs = space.At<format::HoldSegment>(seg);
      seg = hs ? hs->next : 0;
    }
    ForEachHold(space, *c, [&](format::HoldEntry& e) {
      if (std::uint64_t d = LoadRelaxed(e.pinned_data)) pinned[d] = true;
    });
  }
  // Read after the hold scan: a release of ours whose hold the scan missed
  // has raised the count by now, and lowers it only after our heap mutex.
  if (own && own->RetiringAny()) retiring = true;
  for (const auto& [off, what] : internal) {
    auto it = chunks.owner.find(off);
    if (it == chunks.owner.end() || it->second != format::kInternalOwner) {
      problems->push_back(std::string(what) + " at " + std::to_string(off) + " is not an internal chunk");
    }
  }
  // Chunks owned by records but not referenced: retired versions must be pinned.
  for (const auto& [off, owner] : chunks.owner) {
    if (owner == 0) continue;  // anonymous
    if (owner == format::kInternalOwner) {
      if (!internal.count(off)) problems->push_back("internal chunk at " + std::to_string(off) + " is leaked");
      continue;
    }
    if (pinned.count(off)) continue;
    // A retired version whose last pin was just dropped is freed by its
    // releaser next (HeapImpl::AfterRelease), or, if that dies first, by the
    // reaper's sweep (SweepUnheld): not a leak while another client is
    // attached or a release of ours is under way. Otherwise it is one.
    const format::ChunkHeader* h = arena.Header(off);
    if (retiring && h && h->flags == format::kChunkRetired) continue;
    problems->push_back("chunk at " + std::to_string(off) + " belongs to record " + std::to_string(owner - 1) +
                        " but nothing references or pins it (leaked)");
  }
}

std::string HeapImpl::uuid() const { return UuidString(space_->sb()->uuid); }

Result<std::vector<std::string>> Heap::Check(const std::string& path) {
  Options o;
  o.mode = OpenMode::kReadOnly;
  auto h = HeapImpl::Attach(path, o);
  if (!h.ok()) return h.status();
  return (*h)->CheckSnapshot();
}

}  // namespace shmheap
