// POSIX: an object still open (or mapped) stays readable after unlink and
// after being renamed over, until its last close.
#include <fcntl.h>
#include <unistd.h>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

class UnlinkWhileOpen : public MountFixture {};

TEST_F(UnlinkWhileOpen, OpenDescriptorStillReadsAfterUnlink) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && printf 'keep me' > " + Mnt("h/o")).status, 0);
  int fd = ::open(Mnt("h/o").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::unlink(Mnt("h/o").c_str()), 0);
  EXPECT_NE(::access(Mnt("h/o").c_str(), F_OK), 0);
  char buf[16] = {};
  EXPECT_EQ(::pread(fd, buf, sizeof(buf), 0), 7);
  EXPECT_STREQ(buf, "keep me");
  EXPECT_EQ(::pwrite(fd, "K", 1, 0), 1) << "still writable";
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);
  ::close(fd);
  // After the last close the object is gone from the heap.
  EXPECT_EQ(Sh(CliPath() + " stat " + HeapFile("h") + " | grep '^objects'").output.find("objects:                0"),
            0u);
}

TEST_F(UnlinkWhileOpen, RenameOverKeepsTheOldVersionForItsReader) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && printf old > " + Mnt("h/doc") + " && printf new > " + Mnt("h/doc.tmp"))
                .status, 0);
  int fd = ::open(Mnt("h/doc").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::rename(Mnt("h/doc.tmp").c_str(), Mnt("h/doc").c_str()), 0);
  char buf[8] = {};
  EXPECT_EQ(::pread(fd, buf, sizeof(buf), 0), 3);
  EXPECT_STREQ(buf, "old");
  EXPECT_EQ(Sh("cat " + Mnt("h/doc")).output, "new");
  ::close(fd);
  EXPECT_EQ(Sh(CliPath() + " check " + HeapFile("h")).status, 0);
}

}  // namespace
}  // namespace shmheap::testing
