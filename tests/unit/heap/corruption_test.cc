// A corrupt heap file yields a clean Status, never a crash, a hang or a
// sanitizer report.
//
// Specific cases check the error each kind of damage gives (bad magic,
// unsupported version, truncated or empty file, sizes and offsets out of
// bounds). The random test copies a heap full of objects, flips random bytes
// in the superblock, undo log and client table (the first ~260 KB), the page
// table, the name index, the object records and the name chunks, and then
// runs the read-only Check, attaches, checks, lists, finds, stats, locks and
// changes objects. Each round runs in a forked child with a time limit, so a
// crash or hang is reported with the round's seed instead of ending the run.
// Label "corruption"; tests/run_all.sh runs it under ASan+UBSan.
//   SHMHEAP_CORRUPTION_ROUNDS=N  rounds of the random test (default 300)
//   SHMHEAP_CORRUPTION_SEED=S    first round's seed (default 1)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <shmheap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <shmheap/heap.hpp>
#include <string>
#include <vector>

#include "heap/src/format/record.h"
#include "heap/src/format/superblock.h"
#include "heap/src/format/undo_entry.h"
#include "heap/src/recovery.h"
#include "tests/support/heap_test_util.h"
#include "tests/support/test_support.h"

namespace shmheap {
namespace {

using namespace std::chrono_literals;
using format::ObjectRecord;
using format::Superblock;

std::vector<char> ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

void WriteAll(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::uint64_t EnvOr(const char* name, std::uint64_t dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : dflt;
}

// A byte range of the heap file that holds one kind of metadata.
struct Region {
  const char* what;
  std::uint64_t off, len;
};

class CorruptionTest : public ::testing::Test {
 protected:
  // The heap every case damages: a few hundred named objects of many sizes,
  // some typed, removed (index tombstones, free records), renamed, replaced
  // and resized, anonymous memory, and growth past the first page table.
  static void SetUpTestSuite() {
    dir_ = new testing::ShmDir();
    golden_path_ = dir_->File("golden.heap");
    names_ = new std::vector<std::string>();
    Options o;
    o.mode = OpenMode::kCreate;
    o.max_size = 256ull << 20;
    auto h = Heap::Open(golden_path_, o);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    Heap& heap = **h;
    std::mt19937_64 rng(42);
    for (int i = 0; i < 400; ++i) {
      std::string name = "obj" + std::to_string(i);
      if (i % 9 == 4) name += "-" + std::string(100, 'n');
      const std::size_t size = i % 10 == 0 ? 20000 + rng() % 40000 : 1 + rng() % 3000;
      auto a = heap.Allocate(name, size);
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      testing::FillPattern(*a, i);
      if (i % 3 == 0) {
        ASSERT_TRUE(heap.SetType(name, "type/" + std::to_string(i)).ok());
      }
      names_->push_back(name);
    }
    for (int i = 0; i < 400; i += 7) ASSERT_TRUE(heap.Remove((*names_)[i]).ok());
    auto removed = [](int i) { return i % 7 == 0; };
    for (int i = 1; i < 400; i += 50) {
      if (removed(i)) continue;
      ASSERT_TRUE(heap.Rename((*names_)[i], "renamed" + std::to_string(i)).ok());
    }
    std::vector<std::byte> bytes(5000, std::byte{1});
    for (int i = 2; i < 400; i += 40) {
      if (removed(i)) continue;
      ASSERT_TRUE(heap.Replace((*names_)[i], bytes).ok());
    }
    for (int i = 3; i < 400; i += 40) {
      if (removed(i)) continue;
      auto f = heap.Find((*names_)[i]);
      ASSERT_TRUE(f.ok());
      ASSERT_TRUE(heap.Realloc(f->data(), f->size() + 10000).ok());
    }
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(heap.AllocateAnonymous(16 + rng() % 5000).ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(heap.Allocate("big" + std::to_string(i), 1500000).ok());
    for (int i = 1; i < 400; i += 50) {
      if (!removed(i)) names_->push_back("renamed" + std::to_string(i));
    }
    for (int i = 0; i < 3; ++i) names_->push_back("big" + std::to_string(i));
    ASSERT_TRUE(heap.CheckAttached().empty());
    h->reset();
    golden_ = new std::vector<char>(ReadAll(golden_path_));
    ASSERT_GE(golden_->size(), sizeof(Superblock));
  }

  static void TearDownTestSuite() {
    delete golden_;
    delete names_;
    delete dir_;
  }

  static const Superblock& GoldenSb() { return *reinterpret_cast<const Superblock*>(golden_->data()); }

  // A copy of the golden heap at `path`, changed by `edit`.
  static void WriteEdited(const std::string& path, const std::function<void(std::vector<char>&)>& edit) {
    std::vector<char> copy = *golden_;
    edit(copy);
    WriteAll(path, copy);
  }

  static Superblock& Sb(std::vector<char>& file) { return *reinterpret_cast<Superblock*>(file.data()); }

  // Every metadata region of the golden heap.
  static std::vector<Region> Regions() {
    const Superblock& sb = GoldenSb();
    std::vector<Region> r;
    r.push_back({"superblock", 0, 840});
    r.push_back({"undo log", kUndoOffset, 64 * sizeof(format::UndoEntry)});
    r.push_back({"client table", kClientTableOffset, 16 * 128});
    r.push_back({"first 260 KB", 0, kArenaStart});
    r.push_back({"page table", sb.pageinfo_off, (sb.file_size / format::kBlockSize) * 16});
    r.push_back({"name index", sb.index_table, sb.index_capacity * 8});
    std::uint64_t records_left = sb.record_high;
    for (unsigned k = 0; k < format::kNumRecordSegments && records_left; ++k) {
      const std::uint64_t n = std::min(records_left, format::kRecordSeg0 << k);
      if (sb.record_segments[k]) r.push_back({"records", sb.record_segments[k], n * sizeof(ObjectRecord)});
      records_left -= n;
    }
    // Name and type chunks of the first records.
    const auto* rec = reinterpret_cast<const ObjectRecord*>(golden_->data() + sb.record_segments[0]);
    for (int i = 0; i < 64; ++i) {
      if (rec[i].state != format::kRecordLive) continue;
      r.push_back({"name chunk", rec[i].name_off - 16, rec[i].name_len + 16});
      if (rec[i].type_off) r.push_back({"type chunk", rec[i].type_off - 16, rec[i].type_len + 16});
    }
    return r;
  }

  std::string path() const { return dir_->File("t.heap"); }

  static testing::ShmDir* dir_;
  static std::string golden_path_;
  static std::vector<std::string>* names_;
  static std::vector<char>* golden_;
};

testing::ShmDir* CorruptionTest::dir_ = nullptr;
std::string CorruptionTest::golden_path_;
std::vector<std::string>* CorruptionTest::names_ = nullptr;
std::vector<char>* CorruptionTest::golden_ = nullptr;

Code OpenCode(const std::string& path) {
  Options o;
  o.mode = OpenMode::kOpen;
  return Heap::Open(path, o).code();
}

Code CheckCode(const std::string& path) { return Heap::Check(path).code(); }

int AttachErrno(const std::string& path) {
  errno = 0;
  shmheap_t* h = shmheap_attach(path.c_str(), 0, 0);
  if (h) {
    shmheap_detach(h);
    return 0;
  }
  return errno;
}

// ------------------------------------------------------------ named cases

TEST_F(CorruptionTest, GoldenHeapIsConsistent) {
  auto problems = Heap::Check(golden_path_);
  ASSERT_TRUE(problems.ok()) << problems.status().ToString();
  EXPECT_TRUE(problems->empty());
}

TEST_F(CorruptionTest, BadMagicIsCorruption) {
  WriteEdited(path(), [](auto& f) { Sb(f).magic ^= 0xFF; });
  EXPECT_EQ(CheckCode(path()), Code::kCorruption);
  EXPECT_EQ(OpenCode(path()), Code::kCorruption);
  EXPECT_EQ(AttachErrno(path()), EUCLEAN);
  EXPECT_NE(std::string(shmheap_last_error()).find("magic"), std::string::npos) << shmheap_last_error();
}

TEST_F(CorruptionTest, WrongVersionIsVersionMismatch) {
  WriteEdited(path(), [](auto& f) { Sb(f).format_version = format::kFormatVersion + 1; });
  EXPECT_EQ(CheckCode(path()), Code::kVersionMismatch);
  EXPECT_EQ(OpenCode(path()), Code::kVersionMismatch);
  EXPECT_EQ(AttachErrno(path()), EPROTO);
}

TEST_F(CorruptionTest, TruncatedFileIsCorruption) {
  WriteEdited(path(), [](auto& f) { f.resize(f.size() / 2); });
  EXPECT_EQ(CheckCode(path()), Code::kCorruption);
  EXPECT_EQ(OpenCode(path()), Code::kCorruption);
  EXPECT_EQ(AttachErrno(path()), EUCLEAN);
}

TEST_F(CorruptionTest, FileShorterThanASuperblockIsCorruption) {
  WriteEdited(path(), [](auto& f) { f.resize(100); });
  EXPECT_EQ(OpenCode(path()), Code::kCorruption);
  EXPECT_EQ(CheckCode(path()), Code::kCorruption);
}

TEST_F(CorruptionTest, ZeroLengthFileIsCorruption) {
  WriteEdited(path(), [](auto& f) { f.clear(); });
  EXPECT_EQ(CheckCode(path()), Code::kCorruption);
  EXPECT_EQ(OpenCode(path()), Code::kCorruption);
  EXPECT_EQ(AttachErrno(path()), EUCLEAN);
}

TEST_F(CorruptionTest, HeapSizeLargerThanTheRealFileIsCorruption) {
  WriteEdited(path(), [](auto& f) { Sb(f).file_size = f.size() + 64 * format::kBlockSize; });
  EXPECT_EQ(CheckCode(path()), Code::kCorruption);
  EXPECT_EQ(OpenCode(path()), Code::kCorruption);
}

TEST_F(CorruptionTest, PageTableOffsetOutOfBoundsIsCorruption) {
  WriteEdited(path(), [](auto& f) { Sb(f).pageinfo_off = Sb(f).file_size + format::kBlockSize; });
  EXPECT_EQ(CheckCode(path()), Code::kCorruption);
  EXPECT_EQ(OpenCode(path()), Code::kCorruption);
}

TEST_F(CorruptionTest, PageTableTooSmallForTheHeapIsCorruption) {
  WriteEdited(path(), [](auto& f) { Sb(f).pageinfo_count = Sb(f).file_size / format::kBlockSize - 1; });
  EXPECT_EQ(OpenCode(path()), Code::kCorruption);
}

// Found by the crash harness: a process killed inside Arena::Grow, after the
// logged store of the new heap size and before the new page table is
// published, left a heap that attach refused as corrupt instead of rolling
// the operation back.
TEST_F(CorruptionTest, KillBetweenGrowthAndNewPageTableIsRolledBack) {
  std::uint64_t old_size = 0;
  WriteEdited(path(), [&](auto& f) {
    Superblock& sb = Sb(f);
    old_size = sb.file_size;
    const std::uint64_t grown = (sb.pageinfo_count + 16) * format::kBlockSize;
    auto* log = reinterpret_cast<format::UndoEntry*>(f.data() + sb.undo_off);
    log[0] = format::UndoEntry{offsetof(Superblock, file_size), old_size};
    f.resize(grown, 0);
    Superblock& sb2 = Sb(f);  // resize may move the bytes
    sb2.file_size = grown;
    sb2.undo_count = 1;
    sb2.heap_mutex = 1;  // held by client slot 0 (slot + 1), whose process is gone
  });
  {
    Options o;
    o.mode = OpenMode::kOpen;
    auto h = Heap::Open(path(), o);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_TRUE((*h)->CheckAttached().empty());
  }
  auto problems = Heap::Check(path());
  ASSERT_TRUE(problems.ok()) << problems.status().ToString();
  EXPECT_TRUE(problems->empty()) << (*problems)[0];
  std::ifstream in(path(), std::ios::binary);
  Superblock sb{};
  in.read(reinterpret_cast<char*>(&sb), sizeof(sb));
  EXPECT_EQ(sb.file_size, old_size);
  EXPECT_EQ(sb.undo_count, 0u);
}

TEST_F(CorruptionTest, IndexCapacityNotAPowerOfTwoIsCorruption) {
  WriteEdited(path(), [](auto& f) { Sb(f).index_capacity = 1536; });
  EXPECT_EQ(CheckCode(path()), Code::kCorruption);
  EXPECT_EQ(OpenCode(path()), Code::kCorruption);
}

TEST_F(CorruptionTest, IndexTableOutOfBoundsIsCorruption) {
  WriteEdited(path(), [](auto& f) { Sb(f).index_table = Sb(f).file_size - 8; });
  EXPECT_EQ(OpenCode(path()), Code::kCorruption);
}

TEST_F(CorruptionTest, RecordSegmentOutOfBoundsIsCorruption) {
  WriteEdited(path(), [](auto& f) { Sb(f).record_segments[0] = Sb(f).file_size; });
  EXPECT_EQ(OpenCode(path()), Code::kCorruption);
}

TEST_F(CorruptionTest, UndoCountBeyondTheLogIsCorruption) {
  WriteEdited(path(), [](auto& f) { Sb(f).undo_count = format::kUndoCapacity + 1; });
  EXPECT_EQ(OpenCode(path()), Code::kCorruption);
}

// The superblock is fine but one record's name points outside the file:
// attaching works, the check names the record, and lookups never follow it.
TEST_F(CorruptionTest, NameOffsetOutsideTheFileIsReportedAndNotFollowed) {
  const Superblock& sb = GoldenSb();
  const auto* rec = reinterpret_cast<const ObjectRecord*>(golden_->data() + sb.record_segments[0]);
  int victim = 0;
  while (rec[victim].state != format::kRecordLive) ++victim;
  const std::string name(golden_->data() + rec[victim].name_off, rec[victim].name_len);
  WriteEdited(path(), [&](auto& f) {
    auto* r = reinterpret_cast<ObjectRecord*>(f.data() + sb.record_segments[0]);
    r[victim].name_off = 1ull << 40;
  });
  auto check = Heap::Check(path());
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_FALSE(check->empty()) << "the read-only check must report the bad name";
  Options o;
  o.mode = OpenMode::kOpen;
  auto h = Heap::Open(path(), o);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_FALSE((*h)->CheckAttached().empty());
  EXPECT_EQ((*h)->Find(name).code(), Code::kNotFound);
  auto list = (*h)->List();
  EXPECT_FALSE(list.empty());
  for (const ObjectInfo& info : list) {
    if (info.name.empty()) continue;  // the damaged record
    EXPECT_TRUE((*h)->Find(info.name).ok()) << info.name;
  }
  EXPECT_EQ(shmheap_check(path().c_str(), nullptr), 1);
}

// A flipped undo-log count makes stale entries look like an interrupted
// operation; attaching rolls them back. That may damage the heap (the check
// then says so) but must not crash.
TEST_F(CorruptionTest, StaleUndoEntriesThatLookPendingAreRolledBackWithoutCrashing) {
  for (std::uint32_t count : {1u, 7u, 64u, 500u}) {
    WriteEdited(path(), [&](auto& f) {
      Sb(f).undo_count = count;
      Sb(f).heap_mutex = 0;
    });
    auto check = Heap::Check(path());
    ASSERT_TRUE(check.ok()) << check.status().ToString();
    EXPECT_FALSE(check->empty()) << "the read-only check reports a pending undo log";
    Options o;
    o.mode = OpenMode::kOpen;
    auto h = Heap::Open(path(), o);
    if (!h.ok()) continue;  // a clean error is fine too
    (void)(*h)->CheckAttached();
    for (const ObjectInfo& info : (*h)->List()) (void)(*h)->Find(info.name);
  }
}

// ----------------------------------------------------------- random flips

struct Flip {
  const char* region;
  std::uint64_t off;
  int width;  // 1, 4 or 8 bytes
  std::uint64_t value;
};

std::string Describe(const std::vector<Flip>& flips) {
  std::string s;
  char buf[128];
  for (const Flip& f : flips) {
    std::snprintf(buf, sizeof(buf), " %s@%llu/%d=0x%llx", f.region, static_cast<unsigned long long>(f.off), f.width,
                  static_cast<unsigned long long>(f.value));
    s += buf;
  }
  return s;
}

// Exercises a (possibly damaged) heap the way a client would. Returns 0; a
// crash, sanitizer report or hang is what the parent looks for.
// counts[0]: rounds whose heap was refused with a Status; counts[1]: attached.
int Exercise(const std::string& path, const std::vector<std::string>& names, std::uint64_t* counts) {
  auto check = Heap::Check(path);
  if (check.ok()) (void)check->size();
  Options o;
  o.mode = OpenMode::kOpen;
  auto h = Heap::Open(path, o);
  if (!h.ok()) {  // a clean error
    ++counts[0];
    return 0;
  }
  ++counts[1];
  Heap& heap = **h;
  (void)heap.CheckAttached();
  (void)heap.Clients();
  (void)heap.Stats();
  for (const ObjectInfo& info : heap.List()) {
    if (info.name.empty()) continue;
    (void)heap.Find(info.name);
    (void)heap.Stat(info.name);
    (void)heap.Stat(info.id);
  }
  for (const std::string& name : names) {
    auto f = heap.Find(name);
    if (f.ok() && !f->empty()) (void)std::to_integer<int>((*f)[f->size() - 1]);
    (void)heap.Version(name);
    if (auto g = heap.TryLock(name, LockMode::kWrite); g.ok()) (void)g->Unlock();
    if (auto g = heap.Lock(name, LockMode::kRead, NewOwnerToken(), 50ms); g.ok()) (void)g->Unlock();
  }
  // Changes on a damaged heap: each either works or fails cleanly.
  if (auto a = heap.Allocate("fresh", 100); a.ok()) (void)heap.Remove("fresh");
  if (auto a = heap.AllocateAnonymous(5000); a.ok()) (void)heap.Free(a->data());
  std::vector<std::byte> bytes(300, std::byte{3});
  (void)heap.Replace(names[5], bytes);
  (void)heap.Rename(names[6], "moved");
  (void)heap.SetType(names[8], "t");
  (void)heap.Remove(names[9]);
  (void)heap.CheckAttached();
  h->reset();
  return 0;
}

TEST_F(CorruptionTest, RandomByteFlipsNeverCrashOrHang) {
  const std::uint64_t rounds = EnvOr("SHMHEAP_CORRUPTION_ROUNDS", 300);
  const std::uint64_t seed0 = EnvOr("SHMHEAP_CORRUPTION_SEED", 1);
  const std::vector<Region> regions = Regions();
  std::vector<std::string> failures;
  testing::SharedArray<std::uint64_t> counts(2);
  for (std::uint64_t round = 0; round < rounds; ++round) {
    const std::uint64_t seed = seed0 + round;
    std::mt19937_64 rng(seed);
    std::vector<char> file = *golden_;
    std::vector<Flip> flips;
    const int n = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) {
      const Region& r = regions[rng() % regions.size()];
      const int width = std::array<int, 3>{1, 4, 8}[rng() % 3];
      std::uint64_t off = r.off + rng() % std::max<std::uint64_t>(r.len, 1);
      off &= ~static_cast<std::uint64_t>(width - 1);
      if (off + width > file.size()) continue;
      std::uint64_t value = 0;
      switch (rng() % 4) {
        case 0:
          value = 1ull << (rng() % (8 * width));
          break;  // one bit
        case 1:
          value = rng();
          break;  // random
        case 2:
          value = rng() % 4096;
          break;  // small
        default:
          value = rng() % (GoldenSb().file_size + 8192);
          break;  // plausible offset
      }
      std::uint64_t old = 0;
      std::memcpy(&old, file.data() + off, width);
      const std::uint64_t v = (rng() % 4 == 0) ? (old ^ value) : value;
      std::memcpy(file.data() + off, &v, width);
      flips.push_back({r.what, off, width, v});
    }
    WriteAll(path(), file);
    pid_t child = testing::Fork([&] { return Exercise(path(), *names_, counts.data()); });
    const int status = testing::WaitFor(child, 60s);
    if (status != 0) {
      failures.push_back("seed " + std::to_string(seed) + ": " +
                         (status == -2 ? std::string("hang") : "exit status " + std::to_string(status)) + " after" +
                         Describe(flips));
    }
  }
  std::printf("%llu rounds: %llu heaps refused with a Status, %llu attached and exercised\n",
              static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(counts[0]),
              static_cast<unsigned long long>(counts[1]));
  EXPECT_GT(counts[1], rounds / 4) << "too few damaged heaps attached to exercise anything";
  std::string all;
  for (const auto& f : failures) all += "  " + f + "\n";
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << rounds << " rounds crashed or hung "
                                << "(rerun one with SHMHEAP_CORRUPTION_SEED=<seed> SHMHEAP_CORRUPTION_ROUNDS=1):\n"
                                << all;
}

}  // namespace
}  // namespace shmheap
