// Sequential reads of an object reach the daemon as large requests. The
// kernel starts every FUSE mount with a 128 KiB read-ahead window that INIT
// cannot raise (fs/src/read_ahead.h); the daemon raises its mount's window
// through sysfs to -o read_ahead=SIZE (default 1M) at the first open, and
// read_ahead=0 keeps the kernel's. Raising it needs root and a writable /sys.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

// The mount's read_ahead_kb file, found from stat(2) of the mount, not the
// way the daemon finds it (mountinfo).
std::string WindowFile(const std::string& mnt) {
  struct stat st {};
  if (::stat(mnt.c_str(), &st) != 0) return "";
  return "/sys/class/bdi/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)) +
         "/read_ahead_kb";
}

std::string WindowKib(const std::string& mnt) {
  std::string v = ReadFile(WindowFile(mnt));
  while (!v.empty() && v.back() == '\n') v.pop_back();
  return v;
}

std::string Tail(const std::string& s) { return s.size() > 8000 ? s.substr(s.size() - 8000) : s; }

class ReadAheadFixture : public MountFixture {
 protected:
  // A space in the mount point's name: mountinfo escapes it.
  std::string MountDirName() const override { return "mount point"; }

  // Why the daemon cannot raise the window here ("" if it can).
  std::string CannotRaise() const {
    if (::geteuid() != 0) return "raising a mount's read-ahead needs root";
    if (::access(WindowFile(Mnt()).c_str(), W_OK) != 0) return "the mount's read_ahead_kb is not writable";
    return "";
  }

  // Writes a 4 MiB object, remounts (an empty page cache), reads it with
  // 1 MiB reads; returns how many READ requests the daemon served (libfuse
  // traces each with -o debug).
  std::size_t ColdReadRequests() {
    const std::string obj = "'" + Mnt("h/big") + "'";
    EXPECT_EQ(Sh("mkdir '" + Mnt("h") + "' && head -c 4194304 /dev/urandom > " + obj).status, 0);
    Remount();
    const std::size_t before = Occurrences(daemon_->log(), "opcode: READ ");
    EXPECT_EQ(Sh("dd if=" + obj + " of=/dev/null bs=1M").status, 0);
    return Occurrences(daemon_->log(), "opcode: READ ") - before;
  }
};

class DefaultReadAhead : public ReadAheadFixture {
 protected:
  std::vector<std::string> MountOptions() const override { return {"debug"}; }
};

TEST_F(DefaultReadAhead, IsOneMebibyteAfterTheFirstOpen) {
  if (std::string why = CannotRaise(); !why.empty()) GTEST_SKIP() << why;
  EXPECT_NE(WindowKib(Mnt()), "1024") << "the kernel's own window (128 KiB), before any open";
  ASSERT_EQ(Sh("mkdir '" + Mnt("h") + "' && echo x > '" + Mnt("h/o") + "'").status, 0);
  EXPECT_EQ(WindowKib(Mnt()), "1024");
}

TEST_F(DefaultReadAhead, ColdSequentialReadsComeInLargeRequests) {
  if (std::string why = CannotRaise(); !why.empty()) GTEST_SKIP() << why;
  // 512 KiB requests (max_write sizes max_pages): eight for 4 MiB, give or
  // take the kernel's ramp-up; 128 KiB ones would be 32.
  const std::size_t n = ColdReadRequests();
  EXPECT_GE(n, 8u);
  EXPECT_LE(n, 16u) << Tail(daemon_->log());
}

class KernelReadAhead : public ReadAheadFixture {
 protected:
  std::vector<std::string> MountOptions() const override { return {"debug", "read_ahead=0"}; }
};

TEST_F(KernelReadAhead, ZeroKeepsTheKernelsWindowAndItsSmallRequests) {
  const std::string kernels = WindowKib(Mnt());
  const std::size_t n = ColdReadRequests();
  EXPECT_EQ(WindowKib(Mnt()), kernels) << "untouched by the opens";
  if (kernels == "128") {
    EXPECT_GE(n, 32u) << "128 KiB requests";
  }
}

class ChosenReadAhead : public ReadAheadFixture {
 protected:
  std::vector<std::string> MountOptions() const override { return {"read_ahead=256K"}; }
};

TEST_F(ChosenReadAhead, IsTheSizeAsked) {
  if (std::string why = CannotRaise(); !why.empty()) GTEST_SKIP() << why;
  ASSERT_EQ(Sh("mkdir '" + Mnt("h") + "' && echo x > '" + Mnt("h/o") + "'").status, 0);
  EXPECT_EQ(WindowKib(Mnt()), "256");
}

TEST(ReadAheadOption, BadSizesExitTwoWithAMessage) {
  TempDir d;
  for (const char* bad : {"read_ahead=lots", "read_ahead=2G", "read_ahead=-1", "read_ahead=2K"}) {
    // timeout: an accepted size would mount and stay in the foreground.
    auto r = Sh("timeout 10 " + DaemonPath() + " -f -o heapdir=" + d.File("h") + "," + bad + " " + d.path());
    EXPECT_EQ(r.status, 2) << bad << ": " << r.output;
    EXPECT_NE(r.output.find("read_ahead"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace shmheap::testing
