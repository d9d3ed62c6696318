// MountFixture implementation.
#include "tests/support/mount_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace shmheap::testing {

namespace {

// How /proc/self/mounts writes a path: space, tab, newline and backslash
// as \ooo.
std::string MountsEscaped(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\%03o", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool IsMounted(const std::string& mnt_path) {
  const std::string mnt = MountsEscaped(mnt_path);
  std::ifstream in("/proc/self/mounts");
  std::string dev, point, type;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    ls >> dev >> point >> type;
    if (point == mnt && type.rfind("fuse", 0) == 0) return true;
  }
  return false;
}

// waitpid with a timeout; returns the status or -2 on timeout.
int WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() > deadline) return -2;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

ShellResult Sh(const std::string& cmd) {
  ShellResult r;
  std::string full = "(" + cmd + "\n) 2>&1";  // newline: cmd may end in a heredoc
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  out.close();
  return static_cast<bool>(out);
}

std::string DaemonPath() { return SHMHEAPFS_BIN; }
std::string CliPath() { return SHMHEAP_CLI_BIN; }

std::string FuseUnavailableReason() {
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return "/dev/fuse is not available";
  if (Sh("command -v fusermount3").status != 0) return "fusermount3 is not installed";
  return "";
}

std::size_t Occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

bool UnderCi() { return std::getenv("CI") && std::string(std::getenv("CI")) == "true"; }

bool Daemon::Start(std::string* log) {
  log_path_ = heapdir_ + "/../daemon.log";
  std::vector<std::string> args = {DaemonPath(), "-f", "-o", "heapdir=" + heapdir_ + ",log_level=debug"};
  for (const auto& o : opts_) {
    args.push_back("-o");
    args.push_back(o);
  }
  args.push_back(mnt_);
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 500; ++i) {
    if (IsMounted(mnt_)) return true;
    if (WaitFor(pid_, std::chrono::milliseconds(0)) >= 0) break;  // it exited
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (log) *log = this->log();
  Stop();
  return false;
}

int Daemon::Stop() {
  if (pid_ <= 0) return 0;
  int status = -2;
  if (IsMounted(mnt_)) Sh("fusermount3 -u '" + mnt_ + "'");
  status = WaitFor(pid_, std::chrono::seconds(10));
  if (status == -2) {
    ::kill(pid_, SIGKILL);
    WaitFor(pid_, std::chrono::seconds(5));
    status = -1;
  }
  if (IsMounted(mnt_)) Sh("fusermount3 -u -z '" + mnt_ + "'");
  pid_ = -1;
  return status;
}

void Daemon::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  WaitFor(pid_, std::chrono::seconds(5));
  pid_ = -1;
  Sh("fusermount3 -u -z '" + mnt_ + "'");
}

std::string Daemon::log() const { return ReadFile(log_path_); }

void MountFixture::SetUp() {
  if (std::string why = FuseUnavailableReason(); !why.empty()) {
    if (UnderCi()) FAIL() << "FUSE is required under CI (CI=true): " << why;
    GTEST_SKIP() << why;
  }
  dir_ = std::make_unique<TempDir>();
  ::chmod(dir_->path().c_str(), 0755);  // other users reach the mount in permission tests
  mnt_ = dir_->File(MountDirName());
  heapdir_ = dir_->File("heaps");
  ::mkdir(mnt_.c_str(), 0755);
  ::mkdir(heapdir_.c_str(), 0755);
  daemon_ = std::make_unique<Daemon>(mnt_, heapdir_, MountOptions());
  std::string log;
  ASSERT_TRUE(daemon_->Start(&log)) << "daemon did not mount:\n" << log;
}

void MountFixture::TearDown() {
  if (daemon_) {
    int st = daemon_->Stop();
    EXPECT_EQ(st, 0) << "daemon did not exit cleanly:\n" << daemon_->log();
    daemon_.reset();
  }
}

void MountFixture::Remount() {
  ASSERT_EQ(daemon_->Stop(), 0) << daemon_->log();
  daemon_ = std::make_unique<Daemon>(mnt_, heapdir_, MountOptions());
  std::string log;
  ASSERT_TRUE(daemon_->Start(&log)) << "daemon did not mount again:\n" << log;
}

}  // namespace shmheap::testing
