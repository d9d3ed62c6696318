// mmap of object files works from C and Python (mmap, numpy.memmap), and
// the coherence rules of the README hold in both directions between file
// users and processes attached through the library:
//  - write(2) through the mount is in the heap when write returns;
//  - stores through a mapping reach the heap on msync/fsync/close;
//  - library writes (under a WRITE lock) are seen by the next open, and by
//    an existing mapping or cache within a short bounded delay.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <shmheap/heap.hpp>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

class Coherence : public MountFixture {
 protected:
  void SetUp() override {
    MountFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(Sh("mkdir " + Mnt("h")).status, 0);
  }
  std::unique_ptr<Heap> Attach() {
    Options o;
    o.mode = OpenMode::kOpen;
    auto h = Heap::Open(HeapFile("h"), o);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? std::move(*h) : nullptr;
  }
  static std::string Bytes(std::span<std::byte> s) { return std::string(reinterpret_cast<char*>(s.data()), s.size()); }
  // Polls fn until true or 3 s (the watcher's bound is well under that).
  template <typename F>
  static bool Eventually(F fn) {
    for (int i = 0; i < 300; ++i) {
      if (fn()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
};

TEST_F(Coherence, WriteIsInTheHeapWhenItReturns) {
  auto heap = Attach();
  int fd = ::open(Mnt("h/o").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "written", 7, 0), 7);
  auto f = heap->Find("o");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Bytes(*f), "written");
  ::close(fd);
}

// The versions an append passes through (resized, then written) are the
// kernel's own change: the watcher must not take them for a library write
// and drop the file's page cache while it is being written.
TEST_F(Coherence, WritingThroughTheMountKeepsTheKernelsPageCache) {
  int fd = ::open(Mnt("h/big").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  std::vector<char> chunk(1 << 20, 'x');
  const auto start = std::chrono::steady_clock::now();
  std::size_t size = 0;
  // Long enough for a dozen watcher passes to fall among the writes, and for
  // the attributes to time out twice (fstat then fetches them: a changed
  // mtime must not drop the cache either).
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2500) && size < (512u << 20)) {
    ASSERT_EQ(::write(fd, chunk.data(), chunk.size()), static_cast<ssize_t>(chunk.size()));
    size += chunk.size();
    struct stat st;
    ASSERT_EQ(::fstat(fd, &st), 0);
    ASSERT_EQ(static_cast<std::size_t>(st.st_size), size);
    std::this_thread::sleep_for(std::chrono::milliseconds(4));
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(p, MAP_FAILED);
  const std::size_t pages = size / 4096;
  std::vector<unsigned char> resident(pages);
  ASSERT_EQ(::mincore(p, size, resident.data()), 0);
  std::size_t dropped = 0;
  for (unsigned char r : resident) dropped += (r & 1) ? 0 : 1;
  // The bugs this guards against dropped 80-100 % of the pages (the watcher
  // taking our own appends for a library change; AUTO_INVAL_DATA on every
  // attribute refresh). On our VMs the kernel also reclaims cold page-cache
  // pages on its own: kdamond runs a DAMON "pageout" scheme (perf's
  // mm_filemap_delete_from_page_cache events came from kdamond.0). A 64 MiB
  // FUSE file left idle for 12 s lost 534 of 16384 pages here and 959 under
  // libfuse's passthrough_ll. Allow 5 %.
  EXPECT_LE(dropped, pages / 20) << "of " << pages << " pages written";
  ::munmap(p, size);
  ::close(fd);
}

// Pages of `fd`'s first `size` bytes not in the kernel's page cache.
std::size_t PagesNotCached(int fd, std::size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return size / 4096;
  std::vector<unsigned char> resident(size / 4096);
  std::size_t missing = resident.size();
  if (::mincore(p, size, resident.data()) == 0) {
    missing = 0;
    for (unsigned char r : resident) missing += (r & 1) ? 0 : 1;
  }
  ::munmap(p, size);
  return missing;
}

TEST_F(Coherence, FileUsersLockCyclesKeepTheKernelsPageCache) {
  // Lock, write, unlock, as the PUPS counter does: the heap version moves on
  // every write unlock, but no library client changed anything, so the
  // kernel's cached pages must stay (neither the grant nor the watcher may
  // take the file user's own unlock for a foreign change).
  constexpr std::size_t kSize = 4u << 20;
  int fd = ::open(Mnt("h/cycled").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  std::vector<char> data(kSize, 'c');
  ASSERT_EQ(::pwrite(fd, data.data(), kSize, 0), static_cast<ssize_t>(kSize));
  ASSERT_LE(PagesNotCached(fd, kSize), kSize / 4096 / 20);
  for (int i = 0; i < 30; ++i) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    ASSERT_EQ(::fcntl(fd, F_SETLKW, &fl), 0);
    ASSERT_EQ(::pwrite(fd, "x", 1, i * 4096), 1);
    fl.l_type = F_UNLCK;
    ASSERT_EQ(::fcntl(fd, F_SETLK, &fl), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the watcher look too
  }
  // Without the fix every page went (1024 of 1024); a few can go missing
  // for the reason WritingThroughTheMountKeepsTheKernelsPageCache describes
  // (DAMON reclaims cold pages; 8 seen once).
  EXPECT_LE(PagesNotCached(fd, kSize), kSize / 4096 / 20) << "of " << kSize / 4096 << " pages";
  // A library write under the lock is still seen at the next file lock.
  auto heap = Attach();
  {
    auto g = heap->Lock("cycled", LockMode::kWrite);
    ASSERT_TRUE(g.ok());
    g->data()[0] = std::byte{'L'};
  }
  struct flock fl {};
  fl.l_type = F_RDLCK;
  fl.l_whence = SEEK_SET;
  ASSERT_EQ(::fcntl(fd, F_SETLKW, &fl), 0);
  char c = 0;
  ASSERT_EQ(::pread(fd, &c, 1, 0), 1);
  EXPECT_EQ(c, 'L');
  fl.l_type = F_UNLCK;
  ASSERT_EQ(::fcntl(fd, F_SETLK, &fl), 0);
  ::close(fd);
}

TEST_F(Coherence, TwoProcessesMappingOneFileSeeEachOthersStores) {
  ASSERT_EQ(Sh("truncate -s 4096 " + Mnt("h/shared")).status, 0);
  int fd = ::open(Mnt("h/shared").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<volatile char*>(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  pid_t child = Fork([&] {
    int cfd = ::open(Mnt("h/shared").c_str(), O_RDWR);
    auto* q = static_cast<volatile char*>(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0));
    if (q == MAP_FAILED) return 2;
    q[100] = 'C';
    for (int i = 0; i < 2000 && q[200] != 'P'; ++i) ::usleep(1000);
    return q[200] == 'P' ? 0 : 1;
  });
  for (int i = 0; i < 2000 && p[100] != 'C'; ++i) ::usleep(1000);
  EXPECT_EQ(p[100], 'C');
  p[200] = 'P';
  EXPECT_EQ(Wait(child), 0);
  ::munmap(const_cast<char*>(p), 4096);
  ::close(fd);
}

TEST_F(Coherence, MappedStoresReachTheHeapOnMsync) {
  auto heap = Attach();
  ASSERT_EQ(Sh("truncate -s 8192 " + Mnt("h/m")).status, 0);
  int fd = ::open(Mnt("h/m").c_str(), O_RDWR);
  auto* p = static_cast<char*>(::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  std::memcpy(p + 5000, "via mmap", 8);
  ASSERT_EQ(::msync(p, 8192, MS_SYNC), 0);
  EXPECT_EQ(Bytes(heap->Find("m")->subspan(5000, 8)), "via mmap");
  std::memcpy(p + 6000, "via fsync", 9);
  ASSERT_EQ(::fsync(fd), 0);
  EXPECT_EQ(Bytes(heap->Find("m")->subspan(6000, 9)), "via fsync");
  std::memcpy(p + 7000, "via close", 9);
  ::munmap(p, 8192);
  ::close(fd);
  EXPECT_EQ(Bytes(heap->Find("m")->subspan(7000, 9)), "via close");
}

TEST_F(Coherence, PythonMmapAndNumpyMemmapWork) {
  auto heap = Attach();
  ASSERT_EQ(Sh("truncate -s 800 " + Mnt("h/arr")).status, 0);
  auto py = Sh("/usr/bin/python3 - <<'PYEOF'\n"
               "import mmap, numpy as np\n"
               "with open('" + Mnt("h/arr") + "', 'r+b') as f:\n"
               "    m = mmap.mmap(f.fileno(), 0)\n"
               "    m[0:5] = b'hello'\n"
               "    m.flush()\n"
               "    m.close()\n"
               "a = np.memmap('" + Mnt("h/arr") + "', dtype=np.float64, mode='r+', offset=8, shape=(99,))\n"
               "a[:] = np.arange(99) * 0.5\n"
               "a.flush()\n"
               "b = np.memmap('" + Mnt("h/arr") + "', dtype=np.float64, mode='r', offset=8, shape=(99,))\n"
               "print(float(b.sum()))\n"
               "PYEOF");
  ASSERT_EQ(py.status, 0) << py.output;
  EXPECT_EQ(py.output, "2425.5\n");
  auto f = heap->Find("arr");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Bytes(f->subspan(0, 5)), "hello");
  double v;
  std::memcpy(&v, f->data() + 8 + 98 * 8, 8);
  EXPECT_EQ(v, 49.0);
}

TEST_F(Coherence, LibraryWritesAreSeenByTheNextOpen) {
  ASSERT_EQ(Sh("printf aaaa > " + Mnt("h/lib")).status, 0);
  EXPECT_EQ(Sh("cat " + Mnt("h/lib")).output, "aaaa");  // now in the kernel's page cache
  auto heap = Attach();
  {
    auto g = heap->Lock("lib", LockMode::kWrite);
    ASSERT_TRUE(g.ok());
    std::memcpy(g->data().data(), "bbbb", 4);
  }
  EXPECT_EQ(Sh("cat " + Mnt("h/lib")).output, "bbbb");
}

// The next open sees a replacement's size, not only its bytes: the kernel's
// cached attributes (here from the cat before) would otherwise end the read
// at the old size until they time out. Both directions, growing and
// shrinking, each the very next open.
TEST_F(Coherence, LibraryReplaceIsSeenBySizeAndContentAtTheNextOpen) {
  ASSERT_EQ(Sh("printf short > " + Mnt("h/r")).status, 0);
  EXPECT_EQ(Sh("cat " + Mnt("h/r")).output, "short");
  auto heap = Attach();
  auto bytes = [](const std::string& s) {
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(s.data()), s.size());
  };
  const std::string longer = "a much longer replacement";
  ASSERT_TRUE(heap->Replace("r", bytes(longer)).ok());
  EXPECT_EQ(Sh("cat " + Mnt("h/r")).output, longer);
  ASSERT_TRUE(heap->Replace("r", bytes("tiny")).ok());
  EXPECT_EQ(Sh("cat " + Mnt("h/r")).output, "tiny");
  // Attributes from a listing (readdirplus) are as stale as a lookup's.
  EXPECT_EQ(Sh("ls -l " + Mnt("h") + " >/dev/null").status, 0);
  ASSERT_TRUE(heap->Replace("r", bytes(longer + longer)).ok());
  EXPECT_EQ(Sh("cat " + Mnt("h/r")).output, longer + longer);
}

TEST_F(Coherence, ExistingMappingSeesLibraryWritesWithinABoundedDelay) {
  ASSERT_EQ(Sh("truncate -s 4096 " + Mnt("h/live")).status, 0);
  int fd = ::open(Mnt("h/live").c_str(), O_RDONLY);
  auto* p = static_cast<volatile char*>(::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(p[10], 0);
  auto heap = Attach();
  {
    auto g = heap->Lock("live", LockMode::kWrite);
    ASSERT_TRUE(g.ok());
    g->data()[10] = std::byte{'L'};
  }
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(Eventually([&] { return p[10] == 'L'; })) << "the watcher must invalidate the mapping";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  ::munmap(const_cast<char*>(p), 4096);
  ::close(fd);
}

TEST_F(Coherence, ObjectsAllocatedByTheLibraryAppearAsFiles) {
  auto heap = Attach();
  auto a = heap->Allocate("from_lib", 6);
  ASSERT_TRUE(a.ok());
  std::memcpy(a->data(), "libobj", 6);
  EXPECT_EQ(Sh("cat " + Mnt("h/from_lib")).output, "libobj");
  EXPECT_NE(Sh("ls " + Mnt("h")).output.find("from_lib"), std::string::npos);
}

}  // namespace
}  // namespace shmheap::testing
