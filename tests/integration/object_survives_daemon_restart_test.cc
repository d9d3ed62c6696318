// Objects survive an unmount/remount, and a kill -9 of the daemon: every
// object whose write + close (or fsync) completed is intact, and the heaps
// pass `shmheap check`.
#include <fcntl.h>
#include <unistd.h>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

class DaemonRestart : public MountFixture {};

TEST_F(DaemonRestart, CleanRemountKeepsEverything) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && head -c 200000 /dev/urandom > " + dir_->File("src") + " && cp " +
               dir_->File("src") + " " + Mnt("h/o") + " && setfattr -n user.note -v kept " + Mnt("h/o")).status, 0);
  Remount();
  EXPECT_EQ(Sh("cmp " + dir_->File("src") + " " + Mnt("h/o")).status, 0);
  EXPECT_EQ(Sh("getfattr --absolute-names --only-values -n user.note " + Mnt("h/o")).output, "kept");
}

TEST_F(DaemonRestart, KillNineLosesNoCompletedWrite) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h")).status, 0);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Sh("head -c " + std::to_string(1000 + i * 7919) + " /dev/urandom > " + dir_->File("s" + std::to_string(i)) +
                 " && cp " + dir_->File("s" + std::to_string(i)) + " " + Mnt("h/o" + std::to_string(i))).status, 0);
  }
  int fd = ::open(Mnt("h/synced").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "fsynced", 7), 7);
  ASSERT_EQ(::fsync(fd), 0);
  // A writer still going when the daemon dies.
  pid_t writer = Fork([&] {
    Sh("while true; do head -c 100000 /dev/zero > " + Mnt("h/busy") + " || exit 0; done");
    return 0;
  });
  ::usleep(300000);
  daemon_->Kill();
  ::close(fd);
  Wait(writer);
  std::string log;
  daemon_ = std::make_unique<Daemon>(mnt_, heapdir_, MountOptions());
  ASSERT_TRUE(daemon_->Start(&log)) << log;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Sh("cmp " + dir_->File("s" + std::to_string(i)) + " " + Mnt("h/o" + std::to_string(i))).status, 0) << i;
  }
  EXPECT_EQ(Sh("cat " + Mnt("h/synced")).output, "fsynced");
  EXPECT_EQ(Sh(CliPath() + " check " + HeapFile("h")).status, 0);
}

}  // namespace
}  // namespace shmheap::testing
