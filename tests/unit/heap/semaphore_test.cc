// Counting semaphores kept as heap objects (Minibase's latches): counts,
// blocking and timed waits, wake-up by post, many processes, and the C API.
#include <shmheap.h>
#include <shmheap/heap.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace shmheap {
namespace {

class SemaphoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = Heap::Open(dir_.File("s.heap"), {});
    ASSERT_TRUE(h.ok());
    heap_ = std::move(*h);
  }
  testing::TempDir dir_;
  std::unique_ptr<Heap> heap_;
};

TEST_F(SemaphoreTest, CountsDownAndUp) {
  ASSERT_TRUE(heap_->SemCreate("s", 2).ok());
  EXPECT_EQ(heap_->SemCreate("s", 1).code(), Code::kAlreadyExists);
  EXPECT_TRUE(heap_->SemTryWait("s").ok());
  EXPECT_TRUE(heap_->SemWait("s").ok());
  EXPECT_EQ(heap_->SemTryWait("s").code(), Code::kBusy);
  ASSERT_TRUE(heap_->SemPost("s").ok());
  EXPECT_EQ(*heap_->SemValue("s"), 1u);
  EXPECT_EQ(heap_->Stat("s")->type, "shmheap.semaphore");
}

TEST_F(SemaphoreTest, OrdinaryObjectsAreNotSemaphores) {
  ASSERT_TRUE(heap_->Allocate("plain", 16).ok());
  EXPECT_EQ(heap_->SemPost("plain").code(), Code::kInvalidArgument);
  EXPECT_EQ(heap_->SemWait("missing").code(), Code::kNotFound);
}

TEST_F(SemaphoreTest, TimedWaitTimesOutAndPostWakesAWaiter) {
  ASSERT_TRUE(heap_->SemCreate("s", 0).ok());
  EXPECT_EQ(heap_->SemWait("s", std::chrono::milliseconds(50)).code(), Code::kTimedOut);
  std::atomic<bool> done{false};
  std::thread waiter([&] { done = heap_->SemWait("s").ok(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(done.load());
  ASSERT_TRUE(heap_->SemPost("s").ok());
  waiter.join();
  EXPECT_TRUE(done.load());
  EXPECT_EQ(*heap_->SemValue("s"), 0u);
}

TEST_F(SemaphoreTest, ProcessesConsumeExactlyWhatIsPosted) {
  ASSERT_TRUE(heap_->SemCreate("jobs", 0).ok());
  std::vector<pid_t> kids;
  for (int k = 0; k < 4; ++k) {
    kids.push_back(testing::Fork([&] {
      shmheap_t* h = shmheap_attach(dir_.File("s.heap").c_str(), 0, 0);
      if (!h) return 1;
      for (int i = 0; i < 250; ++i) {
        if (shmheap_sem_wait(h, "jobs") != 0) return 2;
      }
      return shmheap_detach(h);
    }));
  }
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(heap_->SemPost("jobs").ok());
  for (pid_t k : kids) EXPECT_EQ(testing::Wait(k), 0);
  EXPECT_EQ(*heap_->SemValue("jobs"), 0u);
}

TEST_F(SemaphoreTest, CApiWorks) {
  heap_.reset();
  shmheap_t* h = shmheap_attach(dir_.File("s.heap").c_str(), 0, 0);
  ASSERT_NE(h, nullptr);
  ASSERT_EQ(shmheap_sem_create(h, "c", 1), 0);
  EXPECT_EQ(shmheap_sem_trywait(h, "c"), 0);
  EXPECT_EQ(shmheap_sem_trywait(h, "c"), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(shmheap_sem_post(h, "c"), 0);
  unsigned v = 0;
  EXPECT_EQ(shmheap_sem_getvalue(h, "c", &v), 0);
  EXPECT_EQ(v, 1u);
  EXPECT_EQ(shmheap_sem_post(h, "nope"), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(shmheap_detach(h), 0);
}

}  // namespace
}  // namespace shmheap
