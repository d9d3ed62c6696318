// The PUPS demonstration: 8 processes lock `obj` with fcntl through the
// mount and 8 lock it through the library; each increments the counter
// stored in the object 10,000 times while holding the lock (file users with
// pread/pwrite, or through a mapping with msync before unlock). The final
// count must be exactly 160,000.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <shmheap.h>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

constexpr int kPerProcess = 10000;

class PupsCounter : public MountFixture {};

int FileWorker(const std::string& path, bool via_mmap) {
  int fd = ::open(path.c_str(), O_RDWR);
  if (fd < 0) return 1;
  void* map = via_mmap ? ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : nullptr;
  if (map == MAP_FAILED) return 2;
  struct flock fl {};
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 8;
  for (int i = 0; i < kPerProcess; ++i) {
    fl.l_type = F_WRLCK;
    if (::fcntl(fd, F_SETLKW, &fl) != 0) return 3;
    std::uint64_t v;
    if (via_mmap) {
      std::memcpy(&v, map, 8);
      ++v;
      std::memcpy(map, &v, 8);
      if (::msync(map, 4096, MS_SYNC) != 0) return 4;
    } else {
      if (::pread(fd, &v, 8, 0) != 8) return 5;
      ++v;
      if (::pwrite(fd, &v, 8, 0) != 8) return 6;
    }
    fl.l_type = F_UNLCK;
    if (::fcntl(fd, F_SETLK, &fl) != 0) return 7;
  }
  if (map) ::munmap(map, 4096);
  ::close(fd);
  return 0;
}

int LibraryWorker(const std::string& heap_path) {
  shmheap_t* h = shmheap_attach(heap_path.c_str(), 0, 0);
  if (!h) return 11;
  for (int i = 0; i < kPerProcess; ++i) {
    auto* c = static_cast<std::uint64_t*>(shmheap_lock_object_name(h, SHMHEAP_LOCK, "obj", SHMHEAP_WRITE));
    if (!c) return 12;
    std::uint64_t v;
    std::memcpy(&v, c, 8);
    ++v;
    std::memcpy(c, &v, 8);
    if (!shmheap_lock_object_name(h, SHMHEAP_UNLOCK, "obj", SHMHEAP_WRITE)) return 13;
  }
  return shmheap_detach(h) == 0 ? 0 : 14;
}

TEST_F(PupsCounter, SixteenProcessesCountToExactly160000) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && head -c 4096 /dev/zero > " + Mnt("h/obj")).status, 0);
  std::vector<pid_t> pids;
  for (int i = 0; i < 8; ++i) {
    // Half of the file users go through a mapping, half through pread/pwrite.
    pids.push_back(Fork([&, i] { return FileWorker(Mnt("h/obj"), i % 2 == 1); }));
    pids.push_back(Fork([&] { return LibraryWorker(HeapFile("h")); }));
  }
  for (pid_t p : pids) EXPECT_EQ(Wait(p), 0);
  std::uint64_t count = 0;
  int fd = ::open(Mnt("h/obj").c_str(), O_RDONLY);
  ASSERT_EQ(::pread(fd, &count, 8, 0), 8);
  ::close(fd);
  EXPECT_EQ(count, 16u * kPerProcess);
  EXPECT_EQ(Sh(CliPath() + " check " + HeapFile("h")).status, 0);
}

}  // namespace
}  // namespace shmheap::testing
