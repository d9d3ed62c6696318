// Heap (public C++ API), single process: names, versions, replace, locks.
#include <shmheap.h>
#include <shmheap/heap.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "heap/src/format/superblock.h"

#include "tests/support/test_support.h"

namespace shmheap {
namespace {

class HeapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options o;
    o.max_size = 256ull << 20;
    auto h = Heap::Open(dir_.File("t.heap"), o);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    heap_ = std::move(*h);
  }
  void ExpectConsistent() {
    auto p = heap_->CheckAttached();
    EXPECT_TRUE(p.empty()) << p.front();
  }
  testing::TempDir dir_;
  std::unique_ptr<Heap> heap_;
};

std::span<const std::byte> Bytes(const char* s) { return {reinterpret_cast<const std::byte*>(s), std::strlen(s)}; }

TEST_F(HeapTest, AllocateNamedThenFindIt) {
  auto a = heap_->Allocate("object1", 260000);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), 260000u);
  EXPECT_EQ(std::to_integer<int>((*a)[1000]), 0) << "named objects are zero-filled";
  std::memcpy(a->data(), "hello", 5);
  auto f = heap_->Find("object1");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->data(), a->data());
  EXPECT_EQ(std::memcmp(f->data(), "hello", 5), 0);
  ExpectConsistent();
}

// A remove that finds the object pinned by a concurrent read leaves it an
// orphan, which the read's release must then free. The orphan state was once
// stored after the check's lock section: a release in between saw a live
// object, freed nothing, and the orphan's memory leaked until a reap.
TEST_F(HeapTest, AnObjectRemovedWhileAReadPinsItIsFreedByTheRelease) {
  const std::byte payload[64] = {};
  auto warm = heap_->Create("o", 64, ObjectAttr{});
  ASSERT_TRUE(warm.ok());
  ASSERT_TRUE(heap_->Read(*warm, 0, 8, [](std::span<const std::byte>) {}).ok());  // the hold table exists
  ASSERT_TRUE(heap_->Remove("o").ok());
  const std::uint64_t baseline = heap_->Stats().allocations;
  {
    ASSERT_TRUE(heap_->Create("o", 64, ObjectAttr{}).ok());
    auto held = heap_->Lock("o", LockMode::kRead, NewOwnerToken());
    ASSERT_TRUE(held.ok());
    ASSERT_TRUE(heap_->Remove("o").ok());
    EXPECT_GT(heap_->Stats().allocations, baseline) << "a locked object outlives its name";
  }
  EXPECT_EQ(heap_->Stats().allocations, baseline) << "the unlock frees the orphan";
  // The same with reads pinning it from another thread, racing the removes.
  std::atomic<bool> stop{false};
  std::mutex mu;
  ObjectId current;
  std::thread reader([&] {
    while (!stop.load()) {
      ObjectId id;
      {
        std::lock_guard<std::mutex> g(mu);
        id = current;
      }
      if (id.inode) (void)heap_->Read(id, 0, 8, [](std::span<const std::byte>) {});
    }
  });
  for (int i = 0; i < 20000; ++i) {
    auto id = heap_->Create("o", 64, ObjectAttr{});
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ASSERT_TRUE(heap_->Write(*id, 0, payload).ok());
    {
      std::lock_guard<std::mutex> g(mu);
      current = *id;
    }
    ASSERT_TRUE(heap_->Remove("o").ok());
  }
  stop.store(true);
  reader.join();
  EXPECT_EQ(heap_->Stats().allocations, baseline) << "an orphan nothing holds was never freed";
  EXPECT_EQ(heap_->Stats().objects, 0u);
  ExpectConsistent();
}

// clear_mode clears only the bits given, from the mode as it is then: the
// daemon clears set-ID bits with it, and a chmod that came between its
// Stat and its SetAttr must survive.
TEST_F(HeapTest, SetAttrClearModeClearsOnlyThoseBitsOfTheCurrentMode) {
  ASSERT_TRUE(heap_->Allocate("s", 8).ok());
  auto info = heap_->Stat("s");
  ASSERT_TRUE(info.ok());
  const ObjectId id = info->id;
  ASSERT_TRUE(heap_->SetAttr(id, Heap::AttrChange{06777, {}, {}, {}, {}}).ok());
  ASSERT_TRUE(heap_->SetAttr(id, Heap::AttrChange{0700, {}, {}, {}, {}}).ok());  // the "concurrent" chmod
  Heap::AttrChange clear;
  clear.clear_mode = 06000;
  auto after = heap_->SetAttr(id, clear);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->attr.mode & 07777, 0700u);
  ASSERT_TRUE(heap_->SetAttr(id, Heap::AttrChange{06755, {}, {}, {}, {}}).ok());
  clear.clear_mode = 04000;
  after = heap_->SetAttr(id, clear);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->attr.mode & 07777, 02755u);
  EXPECT_EQ(after->attr.mode & 0170000, info->attr.mode & 0170000) << "the type bits stay";
  ExpectConsistent();
}

// The daemon's io consumes a pipe: it must run once per write, whatever it
// answers. An EAGAIN from the copy (kBusy) once sent an in-place overwrite
// down the growth path, which ran io again on a half-read pipe.
TEST_F(HeapTest, WriteViaRunsIoOnceEvenWhenItAnswersBusy) {
  ASSERT_TRUE(heap_->Allocate("o", 4096).ok());
  auto id = heap_->Lookup("o");
  ASSERT_TRUE(id.ok());
  for (std::uint64_t end : {std::uint64_t{100}, std::uint64_t{8192}}) {  // in place, then growing
    int calls = 0;
    auto r = heap_->WriteVia(*id, end - 100, 100, [&](std::uint64_t) {
      ++calls;
      return Status::Busy("EAGAIN from the copy");
    });
    EXPECT_EQ(r.code(), Code::kBusy) << end;
    EXPECT_EQ(calls, 1) << end;
  }
  EXPECT_EQ(heap_->Stat(*id)->size, 4096u) << "the failed growth rolled back";
  ExpectConsistent();
}

TEST_F(HeapTest, AllocateFailsWhenNameExists) {
  ASSERT_TRUE(heap_->Allocate("x", 10).ok());
  EXPECT_EQ(heap_->Allocate("x", 10).code(), Code::kAlreadyExists);
}

TEST_F(HeapTest, BadNamesAreRejected) {
  EXPECT_EQ(heap_->Allocate("", 1).code(), Code::kInvalidArgument);
  EXPECT_EQ(heap_->Allocate("a/b", 1).code(), Code::kInvalidArgument);
  EXPECT_EQ(heap_->Allocate(std::string(256, 'n'), 1).code(), Code::kInvalidArgument);
  EXPECT_EQ(heap_->Allocate(std::string("a\0b", 3), 1).code(), Code::kInvalidArgument);
  EXPECT_TRUE(heap_->Allocate(std::string(255, 'n'), 1).ok());
}

TEST_F(HeapTest, ObjectsSurviveReattach) {
  auto a = heap_->Allocate("persist", 64);
  ASSERT_TRUE(a.ok());
  std::memcpy(a->data(), "kept", 4);
  ASSERT_TRUE(heap_->SetType("persist", "text/plain").ok());
  heap_.reset();
  auto h = Heap::Open(dir_.File("t.heap"), {});
  ASSERT_TRUE(h.ok());
  auto f = (*h)->Find("persist");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(std::memcmp(f->data(), "kept", 4), 0);
  auto st = (*h)->Stat("persist");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->type, "text/plain");
}

TEST_F(HeapTest, FreeRemovesNamedObject) {
  auto a = heap_->Allocate("gone", 100);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(heap_->Free(a->data()).ok());
  EXPECT_EQ(heap_->Find("gone").code(), Code::kNotFound);
  ExpectConsistent();
}

TEST_F(HeapTest, AnonymousAllocationAndRealloc) {
  auto a = heap_->AllocateAnonymous(100);
  ASSERT_TRUE(a.ok());
  std::memset(a->data(), 7, 100);
  auto r = heap_->Realloc(a->data(), 100000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(static_cast<unsigned char*>(*r)[99], 7);
  ASSERT_TRUE(heap_->Free(*r).ok());
  EXPECT_EQ(heap_->Free(*r).code(), Code::kInvalidArgument);
  ExpectConsistent();
}

TEST_F(HeapTest, ReallocOfNamedKeepsNameAndBumpsVersion) {
  auto a = heap_->Allocate("grow", 10);
  ASSERT_TRUE(a.ok());
  std::memcpy(a->data(), "0123456789", 10);
  auto v1 = heap_->Version("grow");
  auto r = heap_->Realloc(a->data(), 50000);
  ASSERT_TRUE(r.ok());
  auto f = heap_->Find("grow");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->size(), 50000u);
  EXPECT_EQ(std::memcmp(f->data(), "0123456789", 10), 0);
  EXPECT_EQ(std::to_integer<int>((*f)[20000]), 0);
  EXPECT_NE(*heap_->Version("grow"), *v1);
  ExpectConsistent();
}

TEST_F(HeapTest, ReplaceKeepsOldVersionForItsReaders) {
  ASSERT_TRUE(heap_->Allocate("doc", 3).ok());
  ASSERT_TRUE(heap_->Replace("doc", Bytes("old")).ok());
  auto v = heap_->Version("doc");
  auto reader = heap_->Lock("doc", LockMode::kRead, NewOwnerToken());
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(heap_->Replace("doc", Bytes("new version")).ok());
  EXPECT_EQ(std::memcmp(reader->data().data(), "old", 3), 0) << "reader keeps the version it acquired";
  EXPECT_FALSE(*heap_->IsCurrent("doc", *v));
  auto now = heap_->Find("doc");
  EXPECT_EQ(std::string(reinterpret_cast<char*>(now->data()), now->size()), "new version");
  ExpectConsistent();  // the old version is pinned, not leaked
  ASSERT_TRUE(reader->Unlock().ok());
  ExpectConsistent();  // and freed on release
  EXPECT_EQ(heap_->Stats().allocations, heap_->Stats().allocations);
}

// A read-only attachment cannot pin, so its Read copies and validates. While
// another process replaces the object as fast as it can (each version a
// different size, every byte the same value), each read must return one
// whole version: the size that goes with its byte value, and no mixture.
TEST_F(HeapTest, ReadOnlyReadsSeeOneWholeVersionWhileAnotherProcessReplaces) {
  auto version_bytes = [](unsigned k) {
    return std::string(100 + (k % 64) * 37, static_cast<char>('A' + (k % 64) % 26));
  };
  ASSERT_TRUE(heap_->CreateWith("doc", Bytes(version_bytes(0).c_str()), ObjectAttr{}).ok());
  const std::string path = dir_.File("t.heap");
  pid_t writer = testing::Fork([&] {
    auto h = Heap::Open(path, Options{});
    if (!h.ok()) return 2;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    for (unsigned k = 1; std::chrono::steady_clock::now() < until; ++k) {
      if (!(*h)->Replace("doc", Bytes(version_bytes(k).c_str())).ok()) return 3;
    }
    return 0;
  });
  Options ro;
  ro.mode = OpenMode::kReadOnly;
  auto reader = Heap::Open(path, ro);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto id = (*reader)->Lookup("doc");
  ASSERT_TRUE(id.ok());
  int reads = 0, torn = 0, busy = 0;
  std::set<std::size_t> sizes;
  while (true) {
    std::string got;
    auto n = (*reader)->Read(*id, 0, 1 << 20, [&](std::span<const std::byte> b) {
      got.assign(reinterpret_cast<const char*>(b.data()), b.size());
    });
    if (n.code() == Code::kBusy) {
      ++busy;
    } else {
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      ++reads;
      sizes.insert(got.size());
      const bool whole = got.size() >= 100 && (got.size() - 100) % 37 == 0 &&
                         got == std::string(got.size(), static_cast<char>('A' + ((got.size() - 100) / 37) % 26));
      if (!whole) ++torn;
    }
    int status;
    if (::waitpid(writer, &status, WNOHANG) == writer) {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      break;
    }
  }
  EXPECT_EQ(torn, 0) << "of " << reads << " reads";
  EXPECT_GT(sizes.size(), 8u) << "the reads overlapped many versions";
  EXPECT_LT(busy, reads);
  ExpectConsistent();
}

// A read-only client maps the heap without write access, so it must read
// extended attributes without the heap mutex. ListXattr once took it anyway
// and died of SIGSEGV; a stale id must still give kStale, not another
// object's attributes.
TEST_F(HeapTest, ReadOnlyClientReadsExtendedAttributes) {
  auto id = heap_->Create("obj", 16, ObjectAttr{});
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(heap_->SetXattr(*id, "user.colour", "blue", 0).ok());
  ASSERT_TRUE(heap_->SetXattr(*id, "user.size", "L", 0).ok());
  Options ro;
  ro.mode = OpenMode::kReadOnly;
  auto reader = Heap::Open(dir_.File("t.heap"), ro);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto names = (*reader)->ListXattr(*id);
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(*names, (std::vector<std::string>{"user.colour", "user.size"}));
  auto colour = (*reader)->GetXattr(*id, "user.colour");
  ASSERT_TRUE(colour.ok()) << colour.status().ToString();
  EXPECT_EQ(*colour, "blue");
  EXPECT_EQ((*reader)->GetXattr(*id, "user.none").code(), Code::kNotFound);

  // The record is reused by a new object with attributes of its own.
  ASSERT_TRUE(heap_->Remove("obj").ok());
  auto next = heap_->Create("next", 16, ObjectAttr{});
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(heap_->SetXattr(*next, "user.colour", "red", 0).ok());
  EXPECT_EQ((*reader)->GetXattr(*id, "user.colour").code(), Code::kStale);
  EXPECT_EQ((*reader)->ListXattr(*id).code(), Code::kStale);
  EXPECT_EQ(heap_->ListXattr(*id).code(), Code::kStale);
  auto red = (*reader)->GetXattr(*next, "user.colour");
  ASSERT_TRUE(red.ok()) << red.status().ToString();
  EXPECT_EQ(*red, "red");
}

TEST_F(HeapTest, RenameIsAtomicAndReplacesTarget) {
  ASSERT_TRUE(heap_->Allocate("a", 1).ok());
  ASSERT_TRUE(heap_->Allocate("b", 2).ok());
  EXPECT_EQ(heap_->Rename("a", "b", true).code(), Code::kAlreadyExists);
  auto id = heap_->Lookup("a");
  ASSERT_TRUE(heap_->Rename("a", "b").ok());
  EXPECT_EQ(heap_->Find("a").code(), Code::kNotFound);
  EXPECT_EQ(heap_->Lookup("b")->inode, id->inode);
  EXPECT_EQ(heap_->List().size(), 1u);
  ExpectConsistent();
}

TEST_F(HeapTest, InodeAndGenerationAreNeverReused) {
  auto a = heap_->Allocate("x", 1);
  auto id1 = *heap_->Lookup("x");
  ASSERT_TRUE(heap_->Remove("x").ok());
  ASSERT_TRUE(heap_->Allocate("x", 1).ok());
  auto id2 = *heap_->Lookup("x");
  EXPECT_FALSE(id1 == id2);
  EXPECT_EQ(heap_->Stat(id1).code(), Code::kStale);
}

TEST_F(HeapTest, TryLockConflictsAndNesting) {
  ASSERT_TRUE(heap_->Allocate("obj", 8).ok());
  OwnerToken a = NewOwnerToken(), b = NewOwnerToken();
  auto w = heap_->Lock("obj", LockMode::kWrite, a);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(heap_->TryLock("obj", LockMode::kRead, b).code(), Code::kBusy);
  auto nested = heap_->TryLock("obj", LockMode::kWrite, a);
  EXPECT_TRUE(nested.ok()) << "the holder may nest";
  EXPECT_EQ(heap_->Stat("obj")->lock_state, "W");
  nested->Unlock().ok();
  EXPECT_EQ(heap_->TryLock("obj", LockMode::kRead, b).code(), Code::kBusy);
  ASSERT_TRUE(w->Unlock().ok());
  auto r1 = heap_->TryLock("obj", LockMode::kRead, a);
  auto r2 = heap_->TryLock("obj", LockMode::kRead, b);
  EXPECT_TRUE(r1.ok() && r2.ok()) << "readers share";
  EXPECT_EQ(heap_->Stat("obj")->lock_state, "R2");
  EXPECT_EQ(heap_->TryLock("obj", LockMode::kWrite, a).code(), Code::kBusy) << "no upgrade while another reads";
}

TEST_F(HeapTest, WriteUnlockBumpsVersion) {
  ASSERT_TRUE(heap_->Allocate("v", 8).ok());
  auto v1 = *heap_->Version("v");
  { auto g = heap_->Lock("v", LockMode::kWrite); }
  EXPECT_EQ(*heap_->Version("v"), v1 + 1);
  { auto g = heap_->Lock("v", LockMode::kRead); }
  EXPECT_EQ(*heap_->Version("v"), v1 + 1);
}

TEST_F(HeapTest, TimedLockTimesOut) {
  ASSERT_TRUE(heap_->Allocate("t", 8).ok());
  auto w = heap_->Lock("t", LockMode::kWrite, NewOwnerToken());
  auto t0 = std::chrono::steady_clock::now();
  auto r = heap_->Lock("t", LockMode::kRead, NewOwnerToken(), std::chrono::milliseconds(100));
  EXPECT_EQ(r.code(), Code::kTimedOut);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(90));
}

TEST_F(HeapTest, BlockedThreadIsWokenOnUnlock) {
  ASSERT_TRUE(heap_->Allocate("w", 8).ok());
  auto w = heap_->Lock("w", LockMode::kWrite);
  std::atomic<bool> got{false};
  std::thread t([&] {
    auto g = heap_->Lock("w", LockMode::kWrite);
    got = g.ok();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(got.load());
  ASSERT_TRUE(w->Unlock().ok());
  t.join();
  EXPECT_TRUE(got.load());
}

TEST_F(HeapTest, UpgradeDeadlockIsDetected) {
  ASSERT_TRUE(heap_->Allocate("d", 8).ok());
  OwnerToken a = NewOwnerToken(), b = NewOwnerToken();
  auto ra = heap_->Lock("d", LockMode::kRead, a);
  auto rb = heap_->Lock("d", LockMode::kRead, b);
  std::atomic<int> a_code{-1};
  std::thread t([&] {
    auto wa = heap_->Lock("d", LockMode::kWrite, a);  // waits for b
    a_code = static_cast<int>(wa.code());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto wb = heap_->Lock("d", LockMode::kWrite, b);  // closes the cycle
  EXPECT_EQ(wb.code(), Code::kDeadlock);
  ASSERT_TRUE(rb->Unlock().ok());  // now a can upgrade
  t.join();
  EXPECT_EQ(a_code.load(), static_cast<int>(Code::kOk));
}

TEST_F(HeapTest, RemoveWhileLockedKeepsDataUntilUnlock) {
  ASSERT_TRUE(heap_->Allocate("held", 4).ok());
  ASSERT_TRUE(heap_->Replace("held", Bytes("data")).ok());
  auto g = heap_->Lock("held", LockMode::kRead, NewOwnerToken());
  ASSERT_TRUE(heap_->Remove("held").ok());
  EXPECT_EQ(heap_->Find("held").code(), Code::kNotFound);
  EXPECT_EQ(std::memcmp(g->data().data(), "data", 4), 0);
  ExpectConsistent();
  ASSERT_TRUE(g->Unlock().ok());
  ExpectConsistent();
  EXPECT_EQ(heap_->Stats().objects, 0u);
}

TEST_F(HeapTest, ManyObjectsGrowTheIndex) {
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(heap_->Allocate("obj" + std::to_string(i), 16).ok()) << i;
  for (int i = 0; i < 20000; i += 997) EXPECT_TRUE(heap_->Find("obj" + std::to_string(i)).ok());
  for (int i = 0; i < 20000; i += 2) ASSERT_TRUE(heap_->Remove("obj" + std::to_string(i)).ok());
  EXPECT_EQ(heap_->List().size(), 10000u);
  ExpectConsistent();
}

std::uint64_t DiskBytesOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

// Rewrites the superblock's format version, as if an older library had made the file.
void SetFormatVersion(const std::string& path, std::uint32_t version) {
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, &version, 4, offsetof(format::Superblock, format_version)), 4);
  ::close(fd);
}

std::uint32_t FormatVersionOf(const std::string& path) {
  std::uint32_t v = 0;
  int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::pread(fd, &v, 4, offsetof(format::Superblock, format_version)), 4);
  ::close(fd);
  return v;
}

TEST_F(HeapTest, RemovingALargeObjectGivesItsDiskSpaceBack) {
  constexpr std::size_t kSize = 16u << 20;
  auto a = heap_->Allocate("big", kSize);
  ASSERT_TRUE(a.ok());
  std::memset(a->data(), 0x77, kSize);
  ASSERT_TRUE(heap_->Allocate("after", 16).ok());
  const std::uint64_t before = DiskBytesOf(dir_.File("t.heap"));
  ASSERT_TRUE(heap_->Remove("big").ok());
  EXPECT_LE(DiskBytesOf(dir_.File("t.heap")) + kSize - (1u << 20), before);
  ExpectConsistent();
  // The space is reused, reserved again, and holds what is stored in it.
  auto b = heap_->Allocate("again", kSize);
  ASSERT_TRUE(b.ok());
  EXPECT_GE(DiskBytesOf(dir_.File("t.heap")) + (1u << 20), before);
  EXPECT_EQ(std::to_integer<int>((*b)[kSize / 2]), 0) << "named objects are zero-filled";
  std::memset(b->data(), 0x11, kSize);
  ExpectConsistent();
}

// Writes `bytes` at object offset `off` as the daemon does: WriteVia, with
// pwrite on this process's own descriptor `fd` of the backing file.
Result<std::uint64_t> PwriteVia(Heap& h, ObjectId id, int fd, std::uint64_t off, const std::string& bytes) {
  return h.WriteVia(id, off, bytes.size(), [&](std::uint64_t file_off) {
    ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(file_off));
    if (n < 0) return Status::FromErrno("pwrite", errno);
    if (static_cast<std::size_t>(n) != bytes.size()) return Status::NoSpace("short write");
    return Status::Ok();
  });
}

// Appends `chunk` through the backing file at `path` until the object holds `total` bytes.
::testing::AssertionResult AppendThroughFile(Heap& h, ObjectId id, const std::string& path, std::uint64_t total,
                                             const std::string& chunk) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ::testing::AssertionFailure() << "open " << path << ": " << std::strerror(errno);
  for (std::uint64_t off = 0; off < total; off += chunk.size()) {
    auto r = PwriteVia(h, id, fd, off, chunk);
    if (!r.ok()) {
      ::close(fd);
      return ::testing::AssertionFailure() << "append at " << off << ": " << r.status().ToString();
    }
  }
  ::close(fd);
  return ::testing::AssertionSuccess();
}

// A heap on a disk smaller than its maximum size, filled both ways: by
// library stores through the mapping (blocks are reserved before they are
// handed out) and by appends through a descriptor of the backing file, as
// the daemon writes (WriteVia).
// Either way a full disk must be a clean kNoSpace, never SIGBUS (which
// would kill this test), with everything stored before it intact.
class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      if (std::getenv("CI") && std::string(std::getenv("CI")) == "true") FAIL() << "CI runs as root";
      GTEST_SKIP() << "mounting a small tmpfs needs root";
    }
    mnt_ = dir_.File("small");
    ASSERT_EQ(::mkdir(mnt_.c_str(), 0700), 0);
    // In a mount namespace of this process's own (when it is still single-
    // threaded, as under ctest), the tmpfs goes away with the process even
    // if a SIGBUS kills it; TearDown unmounts it otherwise.
    if (::unshare(CLONE_NEWNS) == 0) ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    ASSERT_EQ(::mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=24m"), 0) << std::strerror(errno);
    mounted_ = true;
    Options o;
    o.max_size = 1ull << 30;  // far beyond the disk
    auto h = Heap::Open(mnt_ + "/h.heap", o);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    heap_ = std::move(*h);
  }
  void TearDown() override {
    heap_.reset();
    if (mounted_) ::umount2(mnt_.c_str(), MNT_DETACH);
  }
  testing::TempDir dir_;
  std::string mnt_;
  bool mounted_ = false;
  std::unique_ptr<Heap> heap_;
};

TEST_F(FullDiskTest, LibraryStoresGetNoSpaceNotSigbus) {
  constexpr std::size_t kSize = 1u << 20;
  int stored = 0;
  for (;; ++stored) {
    auto a = heap_->Allocate("obj" + std::to_string(stored), kSize);
    if (!a.ok()) {
      EXPECT_EQ(a.code(), Code::kNoSpace) << a.status().ToString();
      break;
    }
    std::memset(a->data(), 'a' + stored % 26, kSize);  // SIGBUS here if not reserved
    ASSERT_LT(stored, 64) << "a 24 MiB disk took 64 MiB";
  }
  EXPECT_GE(stored, 16);
  for (int i = 0; i < stored; ++i) {
    auto f = heap_->Find("obj" + std::to_string(i));
    ASSERT_TRUE(f.ok());
    ASSERT_EQ(std::to_integer<char>((*f)[kSize - 1]), 'a' + i % 26);
  }
  EXPECT_TRUE(heap_->CheckAttached().empty());
  ASSERT_TRUE(heap_->Remove("obj0").ok());
  ASSERT_TRUE(heap_->Remove("obj1").ok());
  auto again = heap_->Allocate("again", kSize);
  ASSERT_TRUE(again.ok()) << "freed space is usable again: " << again.status().ToString();
  std::memset(again->data(), 'z', kSize);
}

TEST_F(FullDiskTest, AppendsThroughTheFileGetNoSpaceAndKeepWhatWasWritten) {
  auto id = heap_->Create("log", 0, ObjectAttr{});
  ASSERT_TRUE(id.ok());
  int fd = ::open((mnt_ + "/h.heap").c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const std::string chunk(256u << 10, 'w');
  std::uint64_t written = 0;
  Status last;
  for (int i = 0; i < 400; ++i) {
    auto r = PwriteVia(*heap_, *id, fd, written, chunk);
    if (!r.ok()) {
      last = r.status();
      break;
    }
    written += chunk.size();
  }
  ::close(fd);
  ASSERT_EQ(last.code(), Code::kNoSpace) << last.ToString();
  EXPECT_GE(written, 8u << 20);
  auto info = heap_->Stat(*id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, written) << "a failed append leaves the size as it was";
  std::string back;
  ASSERT_TRUE(heap_->Read(*id, 0, written, [&](std::span<const std::byte> b) {
    back.assign(reinterpret_cast<const char*>(b.data()), b.size());
  }).ok());
  EXPECT_EQ(back, std::string(written, 'w'));
  EXPECT_TRUE(heap_->CheckAttached().empty());
  // Growing the object into its margin from the library on the full disk:
  // kNoSpace (the margin is not reserved in a version-3 heap) or room
  // found; a store into the new bytes is never SIGBUS.
  if (info->capacity > info->size + (64u << 10)) {
    Status grow = heap_->Truncate(*id, info->capacity);
    if (grow.ok()) {
      auto f = heap_->Find("log");
      ASSERT_TRUE(f.ok());
      std::memset(f->data() + written, 'm', f->size() - written);
    } else {
      EXPECT_EQ(grow.code(), Code::kNoSpace) << grow.ToString();
      EXPECT_EQ(heap_->Stat(*id)->size, written) << "a failed resize changes nothing";
    }
  }
  // After room is freed, library stores fill the disk again: the space the
  // failed append took and gave back (and the file length its rolled-back
  // growth left) is reserved before it is handed out, so this ends in
  // kNoSpace, not SIGBUS.
  ASSERT_TRUE(heap_->Truncate(*id, 0).ok());
  int stored = 0;
  for (;; ++stored) {
    auto a = heap_->Allocate("after" + std::to_string(stored), 1u << 20);
    if (!a.ok()) {
      EXPECT_EQ(a.code(), Code::kNoSpace) << a.status().ToString();
      break;
    }
    std::memset(a->data(), 'x', 1u << 20);
    ASSERT_LT(stored, 64);
  }
  EXPECT_GE(stored, 4);
  EXPECT_TRUE(heap_->CheckAttached().empty());
}

TEST(HeapFormatTest, VersionOneHeapOpensAndStaysVersionOne) {
  testing::TempDir dir;
  const std::string path = dir.File("v1.heap");
  {
    Options o;
    o.max_size = 256ull << 20;
    // Room for everything below without growing: version 3 grows into
    // space flagged unreserved, which a version-1 file never has.
    o.initial_size = 16u << 20;
    auto h = Heap::Open(path, o);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    auto a = (*h)->Allocate("big", 8u << 20);
    ASSERT_TRUE(a.ok());
    std::memset(a->data(), 0x42, 8u << 20);
    ASSERT_TRUE((*h)->Allocate("small", 5).ok());
  }
  ASSERT_EQ(FormatVersionOf(path), format::kFormatVersion);
  // Until now nothing was freed or grown, so the file is also a valid
  // version-1 file (no run flags): make it one, as the previous library wrote.
  SetFormatVersion(path, 1);
  EXPECT_EQ(shmheap_check(path.c_str(), nullptr), 0);
  auto h = Heap::Open(path, Options{});
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  auto f = (*h)->Find("big");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(std::to_integer<int>((*f)[12345]), 0x42);
  const std::uint64_t before = DiskBytesOf(path);
  ASSERT_TRUE((*h)->Remove("big").ok());
  EXPECT_EQ(DiskBytesOf(path), before) << "no holes in a file an older library may open";
  EXPECT_TRUE((*h)->CheckAttached().empty());
  h->reset();
  EXPECT_EQ(FormatVersionOf(path), 1u);
  EXPECT_EQ(shmheap_check(path.c_str(), nullptr), 0);
}

// A version-2 file (holes only where large frees punched them) opens as it
// is and stays version 2: growth reserves all it adds, appends reserve
// their margin, and no large run is ever flagged - a version-2 library
// would free such runs without marking them as needing a reservation.
TEST(HeapFormatTest, VersionTwoHeapGrowsReservedAndStaysVersionTwo) {
  testing::TempDir dir;
  const std::string path = dir.File("v2.heap");
  {
    Options o;
    o.max_size = 256ull << 20;
    o.initial_size = 4u << 20;
    auto h = Heap::Open(path, o);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    ASSERT_TRUE((*h)->Allocate("small", 5).ok());
  }
  SetFormatVersion(path, 2);
  EXPECT_EQ(shmheap_check(path.c_str(), nullptr), 0);
  auto h = Heap::Open(path, Options{});
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  auto id = (*h)->Create("log", 0, ObjectAttr{});
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(AppendThroughFile(**h, *id, path, 24u << 20, std::string(256u << 10, 'v')));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_GE(static_cast<std::uint64_t>(st.st_blocks) * 512, static_cast<std::uint64_t>(st.st_size) - (1u << 20))
      << "a version-2 heap reserves what it grows by";
  EXPECT_TRUE((*h)->CheckAttached().empty());  // which reports large-run flags in a version-2 heap
  h->reset();
  EXPECT_EQ(FormatVersionOf(path), 2u);
  EXPECT_EQ(shmheap_check(path.c_str(), nullptr), 0);
}

// A new (version-3) heap of up to 1 GiB; `h` is a Result, as Heap::Open's.
class FormatThreeTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(h.ok()) << h.status().ToString(); }
  static Options GiB() {
    Options o;
    o.max_size = 1ull << 30;
    return o;
  }
  testing::TempDir dir;
  const std::string path = dir.File("v3.heap");
  Result<std::unique_ptr<Heap>> h = Heap::Open(path, GiB());
};

// Version 3 reserves lazily: appends through the file descriptor leave
// nothing to zero (the heap file's disk use follows what was written, not
// its length or the object's margin), and a library resize into the margin
// reserves it first.
TEST_F(FormatThreeTest, ReservesOnlyWhatIsUsed) {
  ASSERT_EQ(FormatVersionOf(path), 3u);
  auto id = (*h)->Create("log", 0, ObjectAttr{});
  ASSERT_TRUE(id.ok());
  constexpr std::uint64_t kTotal = 96u << 20;
  ASSERT_TRUE(AppendThroughFile(**h, *id, path, kTotal, std::string(512u << 10, 'w')));
  auto info = (*h)->Stat(*id);
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->size, kTotal);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  const std::uint64_t disk = static_cast<std::uint64_t>(st.st_blocks) * 512;
  // Reserving at growth (version 2) would also hold the object's margin
  // (an eighth) and the file's growth step: 108 MiB or more here.
  EXPECT_LT(disk, kTotal + (4u << 20)) << "written bytes plus metadata, no zeroed margin; file length "
                                       << st.st_size << ", capacity " << info->capacity;
  EXPECT_TRUE((*h)->CheckAttached().empty());
  std::string back;
  ASSERT_TRUE((*h)->Read(*id, kTotal - 10, 10, [&](std::span<const std::byte> b) {
    back.assign(reinterpret_cast<const char*>(b.data()), b.size());
  }).ok());
  EXPECT_EQ(back, std::string(10, 'w'));
  // Growing into the margin through the library reserves and zero-fills it.
  ASSERT_TRUE((*h)->Truncate(*id, kTotal + (1u << 20)).ok());
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_GE(static_cast<std::uint64_t>(st.st_blocks) * 512, disk + (1u << 20) - (64u << 10));
  auto data = (*h)->Find("log");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(std::to_integer<int>((*data)[kTotal + 12345]), 0);
  EXPECT_TRUE((*h)->CheckAttached().empty());
}

// A write through the descriptor that fails rolls its growth back, but the
// file keeps the length (ftruncate) with holes in it. The next growth that
// reserves (a library allocation) must reserve those holes too, not take
// the file's length for reserved space.
TEST_F(FormatThreeTest, RolledBackLazyGrowthIsReservedByTheNextGrowth) {
  auto id = (*h)->Create("log", 0, ObjectAttr{});
  ASSERT_TRUE(id.ok());
  // A first append makes "log" a large chunk at the end of the heap, which
  // the next one grows in place, lazily.
  ASSERT_TRUE(AppendThroughFile(**h, *id, path, 64u << 10, std::string(64u << 10, 'l')));
  constexpr std::uint64_t kBig = 32u << 20;
  auto failed =
      (*h)->WriteVia(*id, 64u << 10, kBig, [](std::uint64_t) { return Status::IOError("refused", EIO); });
  ASSERT_EQ(failed.code(), Code::kIOError);
  ASSERT_EQ((*h)->Stat(*id)->size, 64u << 10);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  ASSERT_GE(static_cast<std::uint64_t>(st.st_size), kBig) << "the rolled-back growth kept the file's length";
  const std::uint64_t before = DiskBytesOf(path);
  ASSERT_LT(before, kBig / 2) << "and the length is holes";
  auto a = (*h)->AllocateAnonymous(kBig);  // not zero-filled: nothing but the reservation allocates disk
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_GE(DiskBytesOf(path), before + kBig - (1u << 20)) << "the allocation's blocks were reserved";
  std::memset(a->data(), 'r', kBig);
  EXPECT_TRUE((*h)->CheckAttached().empty());
}

}  // namespace
}  // namespace shmheap
