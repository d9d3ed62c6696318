// POSIX record locks, OFD locks and flock taken on object files are the
// heap object locks that library clients take: they exclude each other in
// both directions, F_GETLK names the holder, waits end when the holder
// unlocks, closes or dies, and a signal interrupts a wait cleanly.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include <shmheap/heap.hpp>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

class FileLocks : public MountFixture {
 protected:
  void SetUp() override {
    MountFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && head -c 4096 /dev/zero > " + Mnt("h/obj")).status, 0);
  }
  std::unique_ptr<Heap> Attach() {
    Options o;
    o.mode = OpenMode::kOpen;
    auto h = Heap::Open(HeapFile("h"), o);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? std::move(*h) : nullptr;
  }
  int Open() { return ::open(Mnt("h/obj").c_str(), O_RDWR); }
  static int Lock(int fd, short type, int cmd = F_SETLK, off_t start = 0, off_t len = 0) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    return ::fcntl(fd, cmd, &fl) == 0 ? 0 : errno;
  }
  // OFD and flock locks are released when the kernel sends FUSE's RELEASE
  // for the closed open file, which it does asynchronously, after close
  // returns (blocking waiters are granted the moment it arrives). Retries a
  // non-blocking attempt - fn returns 0 or an errno - while it meets EAGAIN,
  // for at most 2 s, and returns its last result.
  static int AfterRelease(const std::function<int()>& fn) {
    int err = fn();
    for (int i = 0; i < 200 && err == EAGAIN; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      err = fn();
    }
    return err;
  }
  // Runs fn in a child; the child signals readiness by writing to a pipe.
  pid_t Child(const std::function<int(int ready_fd)>& fn, int* ready_read) {
    int p[2];
    if (::pipe(p) != 0) return -1;
    pid_t pid = Fork([&] {
      ::close(p[0]);
      return fn(p[1]);
    });
    ::close(p[1]);
    *ready_read = p[0];
    return pid;
  }
  static void WaitReady(int fd) {
    char c;
    ASSERT_EQ(::read(fd, &c, 1), 1);
    ::close(fd);
  }
};

TEST_F(FileLocks, FcntlLocksConflictBetweenProcessesAndGetlkNamesTheHolder) {
  int ready = -1;
  pid_t holder = Child(
      [&](int r) {
        int fd = Open();
        if (Lock(fd, F_WRLCK, F_SETLK, 0, 100) != 0) return 1;
        (void)!::write(r, "x", 1);
        ::pause();
        return 0;
      },
      &ready);
  WaitReady(ready);
  int fd = Open();
  EXPECT_EQ(Lock(fd, F_WRLCK, F_SETLK, 50, 10), EAGAIN);
  EXPECT_EQ(Lock(fd, F_WRLCK, F_SETLK, 100, 10), 0) << "ranges that do not overlap do not conflict";
  struct flock q {};
  q.l_type = F_RDLCK;
  q.l_whence = SEEK_SET;
  q.l_start = 0;
  q.l_len = 1;
  ASSERT_EQ(::fcntl(fd, F_GETLK, &q), 0);
  EXPECT_EQ(q.l_type, F_WRLCK);
  EXPECT_EQ(q.l_pid, holder);
  EXPECT_EQ(q.l_start, 0);
  EXPECT_EQ(q.l_len, 100);
  ::kill(holder, SIGKILL);
  Wait(holder);
  EXPECT_EQ(Lock(fd, F_WRLCK, F_SETLKW, 0, 100), 0) << "a dead holder's locks are gone";
  ::close(fd);
}

TEST_F(FileLocks, LibraryWriteLockExcludesFileLocksAndGetlkReportsIt) {
  auto heap = Attach();
  auto g = heap->Lock("obj", LockMode::kWrite);
  ASSERT_TRUE(g.ok());
  int fd = Open();
  EXPECT_EQ(Lock(fd, F_RDLCK), EAGAIN);
  EXPECT_EQ(Lock(fd, F_WRLCK, F_SETLK, 10, 1), EAGAIN);
  struct flock q {};
  q.l_type = F_RDLCK;
  q.l_whence = SEEK_SET;
  ASSERT_EQ(::fcntl(fd, F_GETLK, &q), 0);
  EXPECT_EQ(q.l_type, F_WRLCK);
  EXPECT_EQ(q.l_pid, ::getpid()) << "the library holder is this test process";
  ASSERT_TRUE(g->Unlock().ok());
  EXPECT_EQ(Lock(fd, F_WRLCK), 0);
  ::close(fd);
}

TEST_F(FileLocks, FileLocksExcludeLibraryLocks) {
  auto heap = Attach();
  int fd = Open();
  ASSERT_EQ(Lock(fd, F_RDLCK, F_SETLK, 0, 10), 0);
  EXPECT_TRUE(heap->TryLock("obj", LockMode::kRead, NewOwnerToken()).ok()) << "READ and file read lock share";
  EXPECT_EQ(heap->TryLock("obj", LockMode::kWrite, NewOwnerToken()).code(), Code::kBusy);
  ASSERT_EQ(Lock(fd, F_WRLCK, F_SETLK, 20, 10), 0) << "a file write lock on another range";
  EXPECT_EQ(heap->TryLock("obj", LockMode::kRead, NewOwnerToken()).code(), Code::kBusy)
      << "a library READ lock conflicts with every file write lock";
  ASSERT_EQ(Lock(fd, F_UNLCK, F_SETLK, 0, 0), 0);
  EXPECT_TRUE(heap->TryLock("obj", LockMode::kWrite, NewOwnerToken()).ok());
  ::close(fd);
}

TEST_F(FileLocks, LibraryReadLockBlocksOnlyFileWriters) {
  auto heap = Attach();
  auto g = heap->Lock("obj", LockMode::kRead);
  ASSERT_TRUE(g.ok());
  int fd = Open();
  EXPECT_EQ(Lock(fd, F_RDLCK), 0);
  EXPECT_EQ(Lock(fd, F_WRLCK, F_SETLK, 10, 5), EAGAIN);
  ::close(fd);
}

TEST_F(FileLocks, SetlkwWaitsForTheLibraryHolder) {
  auto heap = Attach();
  auto g = heap->Lock("obj", LockMode::kWrite);
  ASSERT_TRUE(g.ok());
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    int fd = Open();
    got = Lock(fd, F_WRLCK, F_SETLKW) == 0;
    ::close(fd);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(got.load());
  ASSERT_TRUE(g->Unlock().ok());
  waiter.join();
  EXPECT_TRUE(got.load());
}

TEST_F(FileLocks, LibraryWaitsForTheFileHolder) {
  int fd = Open();
  ASSERT_EQ(Lock(fd, F_WRLCK), 0);
  auto heap = Attach();
  std::atomic<bool> got{false};
  std::thread waiter([&] { got = heap->Lock("obj", LockMode::kWrite, NewOwnerToken()).ok(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(got.load());
  ::close(fd);  // closing any descriptor drops the process's POSIX locks
  waiter.join();
  EXPECT_TRUE(got.load());
}

TEST_F(FileLocks, SignalInterruptsAWaitAndLeavesNothingBehind) {
  auto heap = Attach();
  auto g = heap->Lock("obj", LockMode::kWrite);
  ASSERT_TRUE(g.ok());
  int ready = -1;
  pid_t child = Child(
      [&](int r) {
        struct sigaction sa {};
        sa.sa_handler = [](int) {};
        ::sigaction(SIGUSR1, &sa, nullptr);  // no SA_RESTART: the wait returns EINTR
        int fd = Open();
        (void)!::write(r, "x", 1);
        int err = Lock(fd, F_WRLCK, F_SETLKW);
        return err == EINTR ? 0 : 10 + err;
      },
      &ready);
  WaitReady(ready);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(child, SIGUSR1);
  EXPECT_EQ(Wait(child), 0) << "the waiter got EINTR";
  ASSERT_TRUE(g->Unlock().ok());
  // No lock and no waiter was left: everyone can lock at once.
  int fd = Open();
  EXPECT_EQ(Lock(fd, F_WRLCK), 0);
  ::close(fd);
  EXPECT_TRUE(heap->TryLock("obj", LockMode::kWrite, NewOwnerToken()).ok()) << "no heap lock left either";
}

TEST_F(FileLocks, KilledLibraryHolderReleasesTheFileWaiter) {
  int ready = -1;
  pid_t child = Child(
      [&](int r) {
        auto heap = Attach();
        auto g = heap->Lock("obj", LockMode::kWrite);
        (void)!::write(r, "x", 1);
        ::pause();
        return 0;
      },
      &ready);
  WaitReady(ready);
  int fd = Open();
  EXPECT_EQ(Lock(fd, F_WRLCK), EAGAIN);
  ::kill(child, SIGKILL);
  Wait(child);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Lock(fd, F_WRLCK, F_SETLKW), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  ::close(fd);
}

TEST_F(FileLocks, OfdLocksConflictAndGoWithTheLastClose) {
  int a = Open(), b = Open();
  EXPECT_EQ(Lock(a, F_WRLCK, F_OFD_SETLK), 0);
  EXPECT_EQ(Lock(b, F_WRLCK, F_OFD_SETLK), EAGAIN) << "OFD locks of two open files conflict, even in one process";
  ::close(a);
  EXPECT_EQ(AfterRelease([&] { return Lock(b, F_WRLCK, F_OFD_SETLK); }), 0)
      << "closing the open file released its OFD lock";
  ::close(b);
}

TEST_F(FileLocks, FlockIsExclusiveAndIndependentOfFcntl) {
  int a = Open(), b = Open();
  ASSERT_EQ(::flock(a, LOCK_EX | LOCK_NB), 0);
  EXPECT_NE(::flock(b, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(errno, EWOULDBLOCK);
  EXPECT_NE(::flock(b, LOCK_SH | LOCK_NB), 0);
  ::close(a);
  EXPECT_EQ(AfterRelease([&] { return ::flock(b, LOCK_SH | LOCK_NB) == 0 ? 0 : errno; }), 0)
      << "flock goes with the last close of the open file";
  auto heap = Attach();
  EXPECT_EQ(heap->TryLock("obj", LockMode::kWrite, NewOwnerToken()).code(), Code::kBusy) << "flock is a heap lock too";
  ::close(b);
  // flock(1) from util-linux.
  EXPECT_EQ(Sh("flock -n " + Mnt("h/obj") + " true").status, 0);
  ASSERT_EQ(Sh("flock -x " + Mnt("h/obj") + " sleep 1 & sleep 0.3; flock -n " + Mnt("h/obj") + " true").status, 1);
}

TEST_F(FileLocks, ContendedBlockingWaitsAllComplete) {
  // Grants racing with the queuing of the next waiter (this once crashed the
  // daemon: a request answered by another thread before its interrupt
  // callback was registered).
  std::vector<pid_t> kids;
  for (int p = 0; p < 4; ++p) {
    kids.push_back(Fork([&] {
      int fd = Open();
      for (int i = 0; i < 2000; ++i) {
        if (Lock(fd, F_WRLCK, F_SETLKW) != 0 || Lock(fd, F_UNLCK) != 0) return 1;
      }
      return 0;
    }));
  }
  for (pid_t k : kids) EXPECT_EQ(Wait(k), 0);
  int fd = Open();
  EXPECT_EQ(Lock(fd, F_WRLCK), 0) << "nothing is left locked";
  ::close(fd);
}

TEST_F(FileLocks, DeadlockBetweenFileOwnersIsDetected) {
  int a = Open();
  ASSERT_EQ(Lock(a, F_WRLCK, F_SETLK, 0, 1), 0);
  int ready = -1;
  pid_t child = Child(
      [&](int r) {
        int fd = Open();
        if (Lock(fd, F_WRLCK, F_SETLK, 1, 1) != 0) return 1;
        (void)!::write(r, "x", 1);
        return Lock(fd, F_WRLCK, F_SETLKW, 0, 1) == 0 ? 0 : 2;  // waits for the parent
      },
      &ready);
  WaitReady(ready);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(Lock(a, F_WRLCK, F_SETLKW, 1, 1), EDEADLK) << "closing the cycle is refused";
  ::close(a);  // releases the parent's lock: the child proceeds
  EXPECT_EQ(Wait(child), 0);
}

}  // namespace
}  // namespace shmheap::testing
