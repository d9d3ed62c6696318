// A heap at its maximum size answers ENOSPC, and every byte already stored
// stays intact.
#include <fcntl.h>
#include <unistd.h>

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

}  // namespace
}  // namespace shmheap::testing
