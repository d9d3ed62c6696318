// A heap at its maximum size answers ENOSPC, and every byte already stored
// stays intact. A file size limit on the daemon (ulimit -f) is EFBIG for the
// write that passes it, not a daemon killed by SIGXFSZ.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

class FullHeap : public MountFixture {
 protected:
  std::vector<std::string> MountOptions() const override { return {"max_heap_size=4M"}; }
};

TEST_F(FullHeap, WritesPastTheMaximumFailWithEnospcAndLoseNothing) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h")).status, 0);
  ASSERT_EQ(Sh("head -c 1000000 /dev/urandom > " + dir_->File("keep") + " && cp " + dir_->File("keep") + " " +
               Mnt("h/keep")).status, 0);
  int fd = ::open(Mnt("h/fill").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  std::vector<char> chunk(256 * 1024, 'f');
  int err = 0;
  for (int i = 0; i < 64; ++i) {
    if (::write(fd, chunk.data(), chunk.size()) < 0) {
      err = errno;
      break;
    }
  }
  ::close(fd);
  EXPECT_EQ(err, ENOSPC);
  EXPECT_EQ(Sh("cmp " + dir_->File("keep") + " " + Mnt("h/keep")).status, 0) << "stored data is intact";
  EXPECT_EQ(Sh(CliPath() + " check " + HeapFile("h")).status, 0);
  // Space comes back after removing the filler.
  ASSERT_EQ(Sh("rm " + Mnt("h/fill") + " && head -c 500000 /dev/zero > " + Mnt("h/again")).status, 0);
}

class DaemonFileSizeLimit : public MountFixture {};

TEST_F(DaemonFileSizeLimit, WritesPastItFailWithEfbigAndTheDaemonLives) {
  if (Sh("command -v prlimit").status != 0) GTEST_SKIP() << "no prlimit (util-linux)";
  ASSERT_EQ(Sh("mkdir " + Mnt("h")).status, 0);
  ASSERT_EQ(Sh("head -c 300000 /dev/urandom > " + dir_->File("keep") + " && cp " + dir_->File("keep") + " " +
               Mnt("h/keep")).status, 0);
  struct stat st {};
  ASSERT_EQ(::stat(HeapFile("h").c_str(), &st), 0);
  // The limit, on the running daemon: the heap file may grow 4 MiB more.
  const long long limit = static_cast<long long>(st.st_size) + (4 << 20);
  auto pl = Sh("prlimit --pid " + std::to_string(daemon_->pid()) + " --fsize=" + std::to_string(limit));
  ASSERT_EQ(pl.status, 0) << pl.output;
  int fd = ::open(Mnt("h/fill").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  std::vector<char> chunk(256 * 1024, 'f');
  int err = 0;
  for (int i = 0; i < 64 && err == 0; ++i) {
    if (::write(fd, chunk.data(), chunk.size()) < 0) err = errno;
  }
  ::close(fd);
  EXPECT_EQ(err, EFBIG) << std::strerror(err);
  EXPECT_EQ(::kill(daemon_->pid(), 0), 0) << "the daemon is alive";
  EXPECT_EQ(Sh("cmp " + dir_->File("keep") + " " + Mnt("h/keep")).status, 0) << "stored data is intact";
  ASSERT_EQ(::stat(HeapFile("h").c_str(), &st), 0);
  EXPECT_LE(st.st_size, limit);
  EXPECT_EQ(Sh(CliPath() + " check " + HeapFile("h")).status, 0);
  // Within the limit, writes still work.
  ASSERT_EQ(Sh("rm " + Mnt("h/fill") + " && head -c 100000 /dev/zero > " + Mnt("h/small")).status, 0);
}

}  // namespace
}  // namespace shmheap::testing
