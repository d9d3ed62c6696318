// Clients that die attached: object locks of a process that is SIGKILLed,
// exits without detaching or dies while waiting are released to the others;
// what it held is freed when it is reaped; and a death at the worst instants
// (between a release and its follow-up free, inside attach) leaves a heap
// that the next process can use. Heap-mutex deaths in the middle of an
// operation are covered by tests/crash/crash_harness.cc.
//
// Children attach the heap themselves and report through their exit status.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <shmheap.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <shmheap/heap.hpp>
#include <string>
#include <thread>
#include <vector>

#include "heap/src/format/superblock.h"
#include "heap/src/shared_mutex.h"
#include "tests/support/process_heap_test.h"
#include "tests/support/test_support.h"

namespace shmheap {
namespace {

using namespace std::chrono_literals;
using testing::AllZero;
using testing::Attach;
using testing::CheckStamped;
using testing::FillStamped;
using testing::Fork;
using testing::Join;
using testing::NowMs;
using testing::Pipe;
using testing::SharedArray;
using testing::Wait;
using testing::WaitFor;

class DeadClientTest : public testing::ProcessHeapTest {};

// -------------------------------------------------------------- owner death

// Forks a child that attaches, takes `mode` on each of `names`, reports 'L'
// through `ready`, and then either _exit()s without unlocking or detaching
// (exit_at_once) or sleeps until killed.
pid_t ForkLockHolder(const std::string& path, const std::vector<std::string>& names, LockMode mode, Pipe& ready,
                     bool exit_at_once) {
  return Fork([&] {
    ready.CloseRead();
    auto h = Attach(path);
    CHILD_CHECK(h.ok(), "%s", h.status().ToString().c_str());
    std::vector<LockGuard> guards;
    for (const std::string& name : names) {
      auto g = (*h)->Lock(name, mode);
      CHILD_CHECK(g.ok(), "lock %s: %s", name.c_str(), g.status().ToString().c_str());
      if (mode == LockMode::kWrite) FillStamped(g->data(), 4242);
      guards.push_back(std::move(*g));
    }
    const char c = 'L';
    CHILD_CHECK(ready.Write(&c, 1), "pipe");
    if (exit_at_once) ::_exit(0);  // no unlock, no detach
    for (;;) ::pause();
  });
}

struct WaitOutcome {
  Status status;
  std::int64_t granted_ms = 0;
  bool data_intact = false;
};

// Starts a thread that blocks in Lock(name, mode) (bounded at 10 s, so a
// broken library fails the test instead of hanging it).
std::thread StartWaiter(Heap& heap, const std::string& name, LockMode mode, WaitOutcome* out) {
  return std::thread([&heap, name, mode, out] {
    auto g = heap.Lock(name, mode, NewOwnerToken(), 10s);
    out->granted_ms = NowMs();
    if (!g.ok()) {
      out->status = g.status();
      return;
    }
    std::uint64_t seed = 0;
    out->data_intact = CheckStamped(g->data(), &seed) && seed == 4242;
  });
}

TEST_F(DeadClientTest, WriteLockOfKilledHolderPassesToBlockedWaiter) {
  auto heap = Create();
  ASSERT_TRUE(heap);
  ASSERT_TRUE(heap->Allocate("obj", 64).ok());
  Pipe ready;
  pid_t child = ForkLockHolder(path(), {"obj"}, LockMode::kWrite, ready, false);
  ready.CloseWrite();
  char c;
  ASSERT_TRUE(ready.Read(&c, 1, 10s)) << "child did not take the lock";
  EXPECT_EQ(heap->TryLock("obj", LockMode::kWrite, NewOwnerToken()).code(), Code::kBusy);
  EXPECT_EQ(heap->TryLock("obj", LockMode::kRead, NewOwnerToken()).code(), Code::kBusy);
  EXPECT_EQ(heap->Clients().size(), 2u);

  WaitOutcome out;
  std::thread waiter = StartWaiter(*heap, "obj", LockMode::kWrite, &out);
  std::this_thread::sleep_for(200ms);  // let it block (not required for correctness)
  const std::int64_t killed_ms = NowMs();
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  EXPECT_EQ(Wait(child), 128 + SIGKILL);
  waiter.join();
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_LT(out.granted_ms - killed_ms, 2000) << "the lock of a dead holder is released within ~50 ms";
  EXPECT_TRUE(out.data_intact) << "what the holder wrote before dying is kept";
  ExpectOnlySelfAttached(*heap);
  ExpectConsistent(*heap);
}

TEST_F(DeadClientTest, ReadLockOfKilledHolderPassesToBlockedWriter) {
  auto heap = Create();
  ASSERT_TRUE(heap);
  auto a = heap->Allocate("obj", 64);
  ASSERT_TRUE(a.ok());
  FillStamped(*a, 4242);
  Pipe ready;
  pid_t child = ForkLockHolder(path(), {"obj"}, LockMode::kRead, ready, false);
  ready.CloseWrite();
  char c;
  ASSERT_TRUE(ready.Read(&c, 1, 10s)) << "child did not take the lock";
  {
    auto r = heap->TryLock("obj", LockMode::kRead, NewOwnerToken());
    EXPECT_TRUE(r.ok()) << "readers share the lock";
  }
  EXPECT_EQ(heap->TryLock("obj", LockMode::kWrite, NewOwnerToken()).code(), Code::kBusy);

  WaitOutcome out;
  std::thread waiter = StartWaiter(*heap, "obj", LockMode::kWrite, &out);
  std::this_thread::sleep_for(200ms);
  const std::int64_t killed_ms = NowMs();
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  EXPECT_EQ(Wait(child), 128 + SIGKILL);
  waiter.join();
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_LT(out.granted_ms - killed_ms, 2000);
  EXPECT_TRUE(out.data_intact);
  ExpectOnlySelfAttached(*heap);
  ExpectConsistent(*heap);
}

TEST_F(DeadClientTest, LocksOfChildThatExitsWithoutUnlockingAreReleased) {
  auto heap = Create();
  ASSERT_TRUE(heap);
  ASSERT_TRUE(heap->Allocate("a", 64).ok());
  ASSERT_TRUE(heap->Allocate("b", 64).ok());
  Pipe ready;
  pid_t child = ForkLockHolder(path(), {"a", "b"}, LockMode::kWrite, ready, true);
  ready.CloseWrite();
  char c;
  ASSERT_TRUE(ready.Read(&c, 1, 10s));
  EXPECT_EQ(Wait(child), 0);
  for (const char* name : {"a", "b"}) {
    const std::int64_t t0 = NowMs();
    auto g = heap->Lock(name, LockMode::kWrite, NewOwnerToken(), 10s);
    ASSERT_TRUE(g.ok()) << name << ": " << g.status().ToString();
    EXPECT_LT(NowMs() - t0, 2000);
    std::uint64_t seed = 0;
    EXPECT_TRUE(CheckStamped(g->data(), &seed) && seed == 4242);
  }
  ExpectOnlySelfAttached(*heap);
  ExpectConsistent(*heap);
}

TEST_F(DeadClientTest, ObjectRemovedWhileItsKilledHolderHadItLockedIsFreedOnReap) {
  auto heap = Create();
  ASSERT_TRUE(heap);
  ASSERT_TRUE(heap->Allocate("doomed", 10000).ok());
  const std::uint64_t allocations = heap->Stats().allocations;
  Pipe ready;
  pid_t child = ForkLockHolder(path(), {"doomed"}, LockMode::kWrite, ready, false);
  ready.CloseWrite();
  char c;
  ASSERT_TRUE(ready.Read(&c, 1, 10s));
  ASSERT_TRUE(heap->Remove("doomed").ok());
  EXPECT_EQ(heap->Find("doomed").code(), Code::kNotFound);
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  EXPECT_EQ(Wait(child), 128 + SIGKILL);
  heap->ReapDeadClients();
  ExpectOnlySelfAttached(*heap);
  EXPECT_EQ(heap->Stats().objects, 0u);
  EXPECT_EQ(heap->Stats().allocations, allocations - 2) << "the orphan's data and name chunks are freed";
  ExpectConsistent(*heap);
}

TEST_F(DeadClientTest, KilledWriterWaitingBehindReaderDoesNotStarveLaterReaders) {
  auto heap = Create();
  ASSERT_TRUE(heap);
  ASSERT_TRUE(heap->Allocate("obj", 64).ok());
  auto held = heap->Lock("obj", LockMode::kRead, NewOwnerToken());
  ASSERT_TRUE(held.ok());
  Pipe ready;
  pid_t child = Fork([&] {
    ready.CloseRead();
    auto h = Attach(path());
    CHILD_CHECK(h.ok(), "%s", h.status().ToString().c_str());
    const char c = 'W';
    CHILD_CHECK(ready.Write(&c, 1), "pipe");
    auto g = (*h)->Lock("obj", LockMode::kWrite);  // blocks behind the parent's READ lock
    return 2;                                      // killed before it gets here
  });
  ready.CloseWrite();
  char c;
  ASSERT_TRUE(ready.Read(&c, 1, 10s));
  std::this_thread::sleep_for(300ms);  // the child is now waiting, flagged as a waiting writer
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  EXPECT_EQ(Wait(child), 128 + SIGKILL);
  const std::int64_t t0 = NowMs();
  auto reader = heap->Lock("obj", LockMode::kRead, NewOwnerToken(), 10s);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_LT(NowMs() - t0, 2000) << "a dead waiting writer must not hold back new readers";
  ASSERT_TRUE(reader->Unlock().ok());
  ASSERT_TRUE(held->Unlock().ok());
  auto writer = heap->Lock("obj", LockMode::kWrite, NewOwnerToken(), 10s);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE(writer->Unlock().ok());
  ExpectOnlySelfAttached(*heap);
  ExpectConsistent(*heap);
}

// ------------------------------------- killed between unlock and its free

// Holds the heap mutex of `heap` in the test process, as a long operation of
// this client would, so another process's operation blocks on it.
class RawHeapMutex {
 public:
  explicit RawHeapMutex(Heap& heap) {
    std::uint32_t self = 0;
    for (const ClientInfo& c : heap.Clients()) {
      if (c.self) self = c.slot;
    }
    auto* sb = reinterpret_cast<format::Superblock*>(heap.base());
    mutex_ = std::make_unique<HeapMutex>(&sb->heap_mutex, self, [](std::uint32_t) { return false; });
    (void)mutex_->Lock();
  }
  ~RawHeapMutex() { mutex_->Unlock(); }

 private:
  std::unique_ptr<HeapMutex> mutex_;
};

// A child holds a READ lock on "obj"; the parent then changes the object with
// `change` (replace: the child's version is retired; remove: the object is
// an orphan). The child releases its lock while the parent holds the heap
// mutex, so the release's follow-up free (HeapImpl::AfterRelease) blocks, and
// is SIGKILLed there. Returns after the dead child has been reaped.
void KillBetweenUnlockAndItsFree(Heap& heap, const std::string& path, const std::function<void()>& change) {
  Pipe locked, go;
  pid_t child = Fork([&] {
    locked.CloseRead();
    go.CloseWrite();
    auto h = Attach(path);
    CHILD_CHECK(h.ok(), "%s", h.status().ToString().c_str());
    auto g = (*h)->Lock("obj", LockMode::kRead);
    CHILD_CHECK(g.ok(), "lock: %s", g.status().ToString().c_str());
    const char c = 'L';
    CHILD_CHECK(locked.Write(&c, 1), "pipe");
    char u;
    CHILD_CHECK(go.Read(&u, 1, 30s), "no go");
    (void)g->Unlock();  // blocks in its follow-up free until killed
    return 2;
  });
  locked.CloseWrite();
  go.CloseRead();
  char c;
  ASSERT_TRUE(locked.Read(&c, 1, 10s));
  auto id = heap.Lookup("obj");
  ASSERT_TRUE(id.ok());
  change();
  {
    RawHeapMutex hold(heap);
    const char u = 'U';
    ASSERT_TRUE(go.Write(&u, 1));
    // The lock itself is released without the heap mutex; wait for that.
    const std::int64_t deadline = NowMs() + 10'000;
    for (;;) {
      auto st = heap.Stat(*id);
      ASSERT_TRUE(st.ok()) << st.status().ToString();
      if (st->lock_state == "-") break;
      ASSERT_LT(NowMs(), deadline) << "the child did not release its lock";
      std::this_thread::sleep_for(1ms);
    }
    std::this_thread::sleep_for(20ms);
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    EXPECT_EQ(Wait(child), 128 + SIGKILL);
  }
  heap.ReapDeadClients();
}

// Regression (fixed): heap/src/object_lock.cc ObjectLocks::Unlock drops the hold (unlogged,
// outside the heap mutex) before HeapImpl::AfterRelease frees the retired
// version it pinned; a death in between leaks that version for good (the
// reaper no longer sees a hold, nothing else sweeps). See the report.
TEST_F(DeadClientTest, RetiredVersionIsFreedWhenItsReaderDiesReleasingIt) {
  auto heap = Create();
  ASSERT_TRUE(heap);
  ASSERT_TRUE(heap->Allocate("obj", 3000).ok());
  const std::uint64_t allocations = heap->Stats().allocations;
  std::vector<std::byte> bytes(3000, std::byte{7});
  KillBetweenUnlockAndItsFree(*heap, path(), [&] { ASSERT_TRUE(heap->Replace("obj", bytes).ok()); });
  ExpectOnlySelfAttached(*heap);
  EXPECT_EQ(heap->Stats().allocations, allocations) << "the retired version was not freed";
  ExpectConsistent(*heap);
}

// Regression (fixed): as above, for an object removed while the dying process held it: the
// orphan record and its data stay allocated for good.
TEST_F(DeadClientTest, OrphanIsFreedWhenItsLastHolderDiesReleasingIt) {
  auto heap = Create();
  ASSERT_TRUE(heap);
  ASSERT_TRUE(heap->Allocate("obj", 3000).ok());
  const std::uint64_t allocations = heap->Stats().allocations;
  KillBetweenUnlockAndItsFree(*heap, path(), [&] { ASSERT_TRUE(heap->Remove("obj").ok()); });
  ExpectOnlySelfAttached(*heap);
  const auto* sb = reinterpret_cast<const format::Superblock*>(heap->base());
  EXPECT_EQ(sb->records_live, 0u) << "the orphan record was not freed";
  EXPECT_EQ(heap->Stats().allocations, allocations - 2) << "the orphan's data (and name) chunks were not freed";
  ExpectConsistent(*heap);
}

// ------------------------------------------ reaping a client holding much

// Reaping a dead client frees, in one heap-mutex operation, every orphan and
// retired version its holds kept alive. With many of them that one operation
// needs more undo-log entries than the log has (format::kUndoCapacity), and
// UndoLog::LogWord aborts the process. Since every attach reaps dead
// clients, every later attach then aborts too: the heap is unusable.
// Regression (fixed): heap/src/heap_impl.cc HeapImpl::ReapClient (one Op for all holds);
// see the report.
TEST_F(DeadClientTest, ReapingAClientThatHeldManyRemovedObjectsSucceeds) {
  constexpr int kObjects = 1000;
  auto heap = Create();
  ASSERT_TRUE(heap);
  std::vector<std::string> names;
  for (int i = 0; i < kObjects; ++i) {
    names.push_back("held" + std::to_string(i));
    ASSERT_TRUE(heap->Allocate(names.back(), 100).ok());
  }
  const std::uint64_t allocations = heap->Stats().allocations;
  Pipe ready;
  pid_t holder = ForkLockHolder(path(), names, LockMode::kRead, ready, false);
  ready.CloseWrite();
  char c;
  ASSERT_TRUE(ready.Read(&c, 1, 30s));
  for (const std::string& n : names) ASSERT_TRUE(heap->Remove(n).ok());  // orphans: still held
  ASSERT_EQ(::kill(holder, SIGKILL), 0);
  EXPECT_EQ(Wait(holder), 128 + SIGKILL);
  // Reap in a child first: if reaping aborts, the test process survives.
  pid_t reaper = Fork([&] {
    auto h = Attach(path());
    CHILD_CHECK(h.ok(), "%s", h.status().ToString().c_str());
    return 0;
  });
  ASSERT_EQ(WaitFor(reaper, 60s), 0) << "attaching (which reaps the dead holder) failed or aborted";
  heap->ReapDeadClients();
  ExpectOnlySelfAttached(*heap);
  EXPECT_EQ(heap->Stats().allocations, allocations - 2 * kObjects) << "every orphan was freed";
  ExpectConsistent(*heap);
}

// ------------------------------------------------- killed inside attach

// Leaves the heap as a process does that was SIGKILLed inside attach after it
// took the heap mutex but before its client slot was marked attached
// (HeapImpl::AttachClient reads /proc and the host name in that window): the
// mutex word names client slot `slot`, whose state is still free, and no
// process holds its liveness lock.
void LeaveHeapMutexToDeadAttacher(const std::string& path, std::uint32_t slot) {
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const std::uint32_t word = slot + 1;
  ASSERT_EQ(::pwrite(fd, &word, 4, offsetof(format::Superblock, heap_mutex)), 4);
  ::close(fd);
}

// Attaches in a child, so a hang fails the test instead of blocking it.
int AttachInChild(const std::string& path) {
  pid_t child = Fork([&] {
    auto h = Attach(path);
    CHILD_CHECK(h.ok(), "%s", h.status().ToString().c_str());
    CHILD_CHECK((*h)->CheckAttached().empty(), "inconsistent after recovery");
    return 0;
  });
  return WaitFor(child, 10s);
}

// The next attacher reserves the lowest free slot, which is the dead one, and
// then waits for "its own" slot to release the mutex: forever.
// Regression (fixed): heap/src/shared_mutex.cc HeapMutex::LockFor never declares its own
// slot dead, and ClientTable::IsDead treats a free slot as alive; see the report.
TEST_F(DeadClientTest, AttachAfterAttacherKilledHoldingHeapMutexDoesNotHang) {
  Create().reset();
  LeaveHeapMutexToDeadAttacher(path(), 0);
  EXPECT_EQ(AttachInChild(path()), 0) << "attach hung (-2) or failed";
}

// Same, when the dead attacher's slot is not the one the next attacher gets.
// Regression (fixed): as above (ClientTable::IsDead returns false for a free slot).
TEST_F(DeadClientTest, AttachAfterAttacherInOtherSlotKilledHoldingHeapMutexDoesNotHang) {
  Create().reset();
  LeaveHeapMutexToDeadAttacher(path(), 5);
  EXPECT_EQ(AttachInChild(path()), 0) << "attach hung (-2) or failed";
}

}  // namespace
}  // namespace shmheap
