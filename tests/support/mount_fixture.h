// MountFixture: runs the real shmheapfs daemon in the foreground on a
// temporary mount point and heap directory, waits for the mount, and always
// unmounts in TearDown (killing only the daemon it started, by pid). Tests
// use real tools and real processes against the mount.
//
// Without /dev/fuse or fusermount3 the tests skip, except under CI
// (CI=true), where that is a failure.
#ifndef SHMHEAP_TESTS_SUPPORT_MOUNT_FIXTURE_H_
#define SHMHEAP_TESTS_SUPPORT_MOUNT_FIXTURE_H_

#include <sys/types.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace shmheap::testing {

struct ShellResult {
  int status = -1;     // exit status (128 + signal if killed)
  std::string output;  // stdout and stderr
};

// Runs `cmd` with /bin/sh, capturing output.
ShellResult Sh(const std::string& cmd);
// Reads / writes a whole file (the test's own I/O).
std::string ReadFile(const std::string& path);
bool WriteFile(const std::string& path, const std::string& data);

// Path of the shmheapfs and shmheap binaries under test.
std::string DaemonPath();
std::string CliPath();

class Daemon {
 public:
  Daemon(std::string mnt, std::string heapdir, std::vector<std::string> opts)
      : mnt_(std::move(mnt)), heapdir_(std::move(heapdir)), opts_(std::move(opts)) {}
  ~Daemon() { Stop(); }
  // Starts and waits until mounted (or the daemon died). Returns false with
  // the daemon's output in `log` on failure.
  bool Start(std::string* log);
  // Clean unmount (fusermount3 -u), then waits for the daemon to exit.
  // Returns the daemon's exit status (-1 if it had to be killed).
  int Stop();
  // kill -9 the daemon and lazily detach the dead mount.
  void Kill();
  pid_t pid() const { return pid_; }
  std::string log() const;

 private:
  std::string mnt_, heapdir_;
  std::vector<std::string> opts_;
  pid_t pid_ = -1;
  std::string log_path_;
};

class MountFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Extra -o options for the daemon (override to change).
  virtual std::vector<std::string> MountOptions() const { return {}; }
  // The mount point's name inside the test's directory (override to change).
  virtual std::string MountDirName() const { return "mnt"; }
  // Restarts the daemon on the same heap directory.
  void Remount();

  std::string Mnt(const std::string& rel = "") const { return rel.empty() ? mnt_ : mnt_ + "/" + rel; }
  std::string HeapFile(const std::string& heap) const { return heapdir_ + "/" + heap + ".heap"; }

  std::unique_ptr<TempDir> dir_;
  std::string mnt_, heapdir_;
  std::unique_ptr<Daemon> daemon_;
};

// Why a FUSE mount cannot be made here ("" if it can).
std::string FuseUnavailableReason();
// True when running under CI (CI=true): a missing FUSE is then a failure.
bool UnderCi();
// How many times `what` occurs in `text` (requests in a -o debug trace).
std::size_t Occurrences(const std::string& text, const std::string& what);

}  // namespace shmheap::testing

#endif  // SHMHEAP_TESTS_SUPPORT_MOUNT_FIXTURE_H_
