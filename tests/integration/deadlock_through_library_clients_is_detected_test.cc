// A cycle of waiting owners that runs through a library client is detected:
// a file owner waits for a library client that waits for that file owner.
// Whichever side closes the cycle, a file request gets EDEADLK and the
// library client then gets its lock.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <shmheap/heap.hpp>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

class CrossDeadlock : public MountFixture {
 protected:
  void SetUp() override {
    MountFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && touch " + Mnt("h/x") + " " + Mnt("h/y")).status, 0);
    Options o;
    o.mode = OpenMode::kOpen;
    auto h = Heap::Open(HeapFile("h"), o);
    ASSERT_TRUE(h.ok());
    heap_ = std::move(*h);
  }
  static int Lock(int fd, int cmd) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    return ::fcntl(fd, cmd, &fl) == 0 ? 0 : errno;
  }
  std::unique_ptr<Heap> heap_;
};

TEST_F(CrossDeadlock, FileOwnerClosingTheCycleGetsEdeadlk) {
  int x = ::open(Mnt("h/x").c_str(), O_RDWR), y = ::open(Mnt("h/y").c_str(), O_RDWR);
  ASSERT_EQ(Lock(x, F_SETLK), 0);  // this process (a file owner) holds x
  OwnerToken lib = NewOwnerToken();
  auto gy = heap_->Lock("y", LockMode::kWrite, lib);  // the library client holds y
  ASSERT_TRUE(gy.ok());
  std::atomic<int> code{-1};
  std::thread waiter([&] { code = static_cast<int>(heap_->Lock("x", LockMode::kWrite, lib).code()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the library client waits for x
  EXPECT_EQ(Lock(y, F_SETLKW), EDEADLK) << "waiting for y would close the cycle";
  ::close(x);  // drops this process's lock on x: the library client proceeds
  waiter.join();
  EXPECT_EQ(code.load(), static_cast<int>(Code::kOk));
  ::close(y);
}

TEST_F(CrossDeadlock, LibraryClientClosingTheCycleBreaksItToo) {
  OwnerToken lib = NewOwnerToken();
  auto gy = heap_->Lock("y", LockMode::kWrite, lib);
  ASSERT_TRUE(gy.ok());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t file_owner = Fork([&] {
    int x = ::open(Mnt("h/x").c_str(), O_RDWR), y = ::open(Mnt("h/y").c_str(), O_RDWR);
    if (Lock(x, F_SETLK) != 0) return 1;
    (void)!::write(ready[1], "x", 1);
    int err = Lock(y, F_SETLKW);  // waits for the library client
    return err == EDEADLK ? 0 : 10 + err;  // exiting releases x
  });
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the file owner waits for y
  auto gx = heap_->Lock("x", LockMode::kWrite, lib, std::chrono::seconds(10));  // closes the cycle
  EXPECT_TRUE(gx.ok()) << gx.status().ToString();
  EXPECT_EQ(Wait(file_owner), 0) << "the file owner's wait was refused with EDEADLK";
}

}  // namespace
}  // namespace shmheap::testing
