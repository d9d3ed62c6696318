// Each write(2) to an object is one FUSE request. Unless the daemon answers
// INIT with FUSE_HANDLE_KILLPRIV_V2 - which it adds itself, since libfuse
// 3.14 cannot ask for it (fs/src/kernel_io.h) - the kernel sends a
// GETXATTR(security.capability) before every write, and a small write costs
// two round trips. Clearing set-ID bits, then the daemon's duty, is tested
// in permissions_follow_posix_test.
#include <string>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

class SmallWrites : public MountFixture {
 protected:
  std::vector<std::string> MountOptions() const override { return {"debug"}; }
};

TEST_F(SmallWrites, CostOneRequestEachAndNoGetxattr) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h")).status, 0);
  const std::size_t writes0 = Occurrences(daemon_->log(), "opcode: WRITE ");
  const std::size_t getxattrs0 = Occurrences(daemon_->log(), "opcode: GETXATTR ");
  ASSERT_EQ(Sh("dd if=/dev/zero of=" + Mnt("h/o") + " bs=4k count=64 status=none").status, 0);
  ASSERT_EQ(Sh("dd if=/dev/zero of=" + Mnt("h/o") + " bs=4k count=64 seek=64 conv=notrunc status=none").status, 0);
  const std::string log = daemon_->log();
  if (log.find("does not offer FUSE_HANDLE_KILLPRIV_V2") != std::string::npos) {
    if (UnderCi()) FAIL() << "CI's kernel (>= 5.11) must offer FUSE_HANDLE_KILLPRIV_V2";
    GTEST_SKIP() << "this kernel does not offer FUSE_HANDLE_KILLPRIV_V2";
  }
  EXPECT_NE(log.find("FUSE_HANDLE_KILLPRIV_V2 (set-ID bits are cleared by the daemon)"), std::string::npos);
  EXPECT_EQ(Occurrences(log, "opcode: WRITE ") - writes0, 128u);
  // The kernel still asks before it marks the inode S_NOSEC, and again
  // after each refresh of its attributes (they time out after a second).
  EXPECT_LE(Occurrences(log, "opcode: GETXATTR ") - getxattrs0, 4u) << "against 128 without the flag";
  EXPECT_EQ(Sh("stat -c %s " + Mnt("h/o")).output, "524288\n");
}

}  // namespace
}  // namespace shmheap::testing
