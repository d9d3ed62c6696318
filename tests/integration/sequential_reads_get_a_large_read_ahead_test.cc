// Sequential reads of an object reach the daemon as large requests. The
// kernel starts every FUSE mount with a 128 KiB read-ahead window that INIT
// cannot raise (fs/src/read_ahead.h); the daemon raises its mount's window
// through sysfs to -o read_ahead=SIZE (default 1M) at the first open, and
// read_ahead=0 keeps the kernel's. Raising it needs root.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

// The mount's window in KiB, found from stat(2) of the mount, not the way the
// daemon finds it (mountinfo).
std::string WindowKib(const std::string& mnt) {
  struct stat st {};
  if (::stat(mnt.c_str(), &st) != 0) return "stat failed";
  std::string v = ReadFile("/sys/class/bdi/" + std::to_string(major(st.st_dev)) + ":" +
                           std::to_string(minor(st.st_dev)) + "/read_ahead_kb");
  while (!v.empty() && v.back() == '\n') v.pop_back();
  return v;
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A 4 MiB object written, then read from a fresh mount (an empty page cache)
// with 1 MiB reads; returns how many READ requests the daemon served.
class ReadAheadFixture : public MountFixture {
 protected:
  // -o debug: libfuse traces every request into the daemon's log. A space
  // in the mount point's name: mountinfo escapes it.
  std::vector<std::string> MountOptions() const override { return Extra("debug"); }
  std::string MountDirName() const override { return "mount point"; }
  virtual std::vector<std::string> Extra(const std::string& debug) const { return {debug}; }

  std::size_t ColdReadRequests() {
    const std::string obj = "'" + Mnt("h/big") + "'";
    EXPECT_EQ(Sh("mkdir '" + Mnt("h") + "' && head -c 4194304 /dev/urandom > " + obj).status, 0);
    Remount();
    const std::size_t before = Count(daemon_->log(), "opcode: READ ");
    EXPECT_EQ(Sh("dd if=" + obj + " of=/dev/null bs=1M").status, 0);
    return Count(daemon_->log(), "opcode: READ ") - before;
  }
};

class DefaultReadAhead : public ReadAheadFixture {};

TEST_F(DefaultReadAhead, IsOneMebibyteAfterTheFirstOpen) {
  if (::geteuid() != 0) GTEST_SKIP() << "raising a mount's read-ahead needs root";
  const std::string before = WindowKib(Mnt());
  EXPECT_EQ(before, "128") << "the kernel's own window, before any open";
  ASSERT_EQ(Sh("mkdir '" + Mnt("h") + "' && echo x > '" + Mnt("h/o") + "'").status, 0);
  EXPECT_EQ(WindowKib(Mnt()), "1024");
}

TEST_F(DefaultReadAhead, ColdSequentialReadsComeInHalfMebibyteRequests) {
  if (::geteuid() != 0) GTEST_SKIP() << "raising a mount's read-ahead needs root";
  // 512 KiB requests (max_write sizes max_pages): eight for 4 MiB; 128 KiB
  // ones would be 32.
  const std::size_t n = ColdReadRequests();
  EXPECT_GE(n, 8u);
  EXPECT_LE(n, 12u) << daemon_->log().substr(0, 20000);
}

class KernelReadAhead : public ReadAheadFixture {
 protected:
  std::vector<std::string> Extra(const std::string& debug) const override { return {debug, "read_ahead=0"}; }
};

TEST_F(KernelReadAhead, ZeroKeepsTheKernelsWindowAndItsSmallRequests) {
  const std::size_t n = ColdReadRequests();
  EXPECT_EQ(WindowKib(Mnt()), "128");
  EXPECT_GE(n, 32u) << "128 KiB requests";
}

class ChosenReadAhead : public ReadAheadFixture {
 protected:
  std::vector<std::string> Extra(const std::string&) const override { return {"read_ahead=256K"}; }
};

TEST_F(ChosenReadAhead, IsTheSizeAsked) {
  if (::geteuid() != 0) GTEST_SKIP() << "raising a mount's read-ahead needs root";
  ASSERT_EQ(Sh("mkdir '" + Mnt("h") + "' && echo x > '" + Mnt("h/o") + "'").status, 0);
  EXPECT_EQ(WindowKib(Mnt()), "256");
}

TEST(ReadAheadOption, BadSizesExitTwoWithAMessage) {
  TempDir d;
  for (const char* bad : {"read_ahead=lots", "read_ahead=2G", "read_ahead=-1"}) {
    auto r = Sh(DaemonPath() + " -f -o heapdir=" + d.File("h") + "," + bad + " " + d.path());
    EXPECT_EQ(r.status, 2) << bad << ": " << r.output;
    EXPECT_NE(r.output.find("read_ahead"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace shmheap::testing
