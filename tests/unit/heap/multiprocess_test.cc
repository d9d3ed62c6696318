// One heap shared by several real processes: concurrent allocation, freeing
// and locking; a counter under WRITE locks; growth while others read; and a
// handle inherited across fork. (Processes that die attached are covered by
// dead_client_test.cc.)
//
// Every child attaches the heap itself (a handle must not cross fork) and
// reports failure through its exit status and a line on stderr; children
// never use gtest macros. Timing assertions are generous bounds only.
#include <gtest/gtest.h>
#include <sched.h>
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
using testing::RecordSegments;
using testing::SharedArray;
using testing::Wait;
using testing::WaitFor;

class MultiProcessTest : public testing::ProcessHeapTest {};

// ------------------------------------------------ concurrent alloc/free/lock

constexpr int kProcs = 8;
constexpr int kShared = 32;
constexpr std::size_t kSharedSize = 256;

struct WorkerResult {
  std::uint64_t kept;        // own named objects left in the heap
  std::uint64_t kept_bytes;  // their sizes
  std::uint64_t locks;       // locks taken
};

std::string SharedName(std::uint64_t i) { return "shared" + std::to_string(i); }

// Randomly allocates and frees own named objects and anonymous memory, and
// locks shared objects and other processes' objects. Own objects and
// anonymous memory are checked before every free; data written under a WRITE
// lock is checked when re-locked.
int AllocFreeLockWorker(const std::string& path, int k, WorkerResult* out) {
  auto h = Attach(path);
  CHILD_CHECK(h.ok(), "%s", h.status().ToString().c_str());
  Heap& heap = **h;
  std::mt19937_64 rng(1000 + k);
  struct Own {
    std::string name;
    std::uint64_t seed;
    std::size_t size;
  };
  struct Anon {
    std::byte* p;
    std::size_t n;
    std::uint64_t seed;
  };
  std::vector<Own> own;
  std::vector<Anon> anon;
  std::uint64_t serial = 0;
  auto next_seed = [&] { return (static_cast<std::uint64_t>(k + 1) << 48) | ++serial; };
  for (int it = 0; it < 4000; ++it) {
    const int dice = static_cast<int>(rng() % 100);
    if (dice < 18 && own.size() < 200) {
      const std::uint64_t seed = next_seed();
      std::string name = "p" + std::to_string(k) + "_" + std::to_string(seed & 0xFFFF);
      const std::size_t size = 16 + rng() % 9000;
      auto a = heap.Allocate(name, size);
      CHILD_CHECK(a.ok(), "allocate %s: %s", name.c_str(), a.status().ToString().c_str());
      CHILD_CHECK(a->size() == size && AllZero(*a), "new object %s is not zero-filled", name.c_str());
      auto g = heap.Lock(name, LockMode::kWrite);
      CHILD_CHECK(g.ok(), "lock %s: %s", name.c_str(), g.status().ToString().c_str());
      FillStamped(g->data(), seed);
      own.push_back({name, seed, size});
    } else if (dice < 28 && !own.empty()) {
      const std::size_t i = rng() % own.size();
      auto f = heap.Find(own[i].name);
      CHILD_CHECK(f.ok(), "find %s: %s", own[i].name.c_str(), f.status().ToString().c_str());
      std::uint64_t seed = 0;
      CHILD_CHECK(f->size() == own[i].size && CheckStamped(*f, &seed) && seed == own[i].seed, "own object %s changed",
                  own[i].name.c_str());
      Status s = (rng() & 1) ? heap.Remove(own[i].name) : heap.Free(f->data());
      CHILD_CHECK(s.ok(), "free %s: %s", own[i].name.c_str(), s.ToString().c_str());
      CHILD_CHECK(heap.Find(own[i].name).code() == Code::kNotFound, "%s still found", own[i].name.c_str());
      own.erase(own.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (dice < 40 && anon.size() < 16) {
      const std::size_t n = 16 + rng() % 4081;
      auto a = heap.AllocateAnonymous(n);
      CHILD_CHECK(a.ok(), "anonymous %zu: %s", n, a.status().ToString().c_str());
      const std::uint64_t seed = next_seed();
      testing::FillPattern(*a, seed);
      anon.push_back({a->data(), n, seed});
    } else if (dice < 50 && !anon.empty()) {
      const std::size_t i = rng() % anon.size();
      CHILD_CHECK(testing::CheckPattern({anon[i].p, anon[i].n}, anon[i].seed),
                  "anonymous block of %zu bytes was overwritten", anon[i].n);
      Status s = heap.Free(anon[i].p);
      CHILD_CHECK(s.ok(), "free anonymous: %s", s.ToString().c_str());
      anon.erase(anon.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (dice < 70) {
      // Shared objects always hold stamped contents written under a WRITE lock.
      const std::string name = SharedName(rng() % kShared);
      auto g = heap.Lock(name, LockMode::kWrite);
      CHILD_CHECK(g.ok(), "lock %s: %s", name.c_str(), g.status().ToString().c_str());
      ++out->locks;
      CHILD_CHECK(g->data().size() == kSharedSize && CheckStamped(g->data()), "%s torn", name.c_str());
      const std::uint64_t seed = next_seed();
      FillStamped(g->data(), seed);
      sched_yield();
      std::uint64_t got = 0;
      CHILD_CHECK(CheckStamped(g->data(), &got) && got == seed, "%s changed while WRITE-locked", name.c_str());
      Status s = g->Unlock();
      CHILD_CHECK(s.ok(), "unlock %s: %s", name.c_str(), s.ToString().c_str());
    } else if (dice < 85) {
      // READ-lock a shared object or (a guess at) another process's object.
      std::string name = (rng() & 1) ? SharedName(rng() % kShared)
                                     : "p" + std::to_string(rng() % kProcs) + "_" + std::to_string(1 + rng() % 300);
      auto g = heap.Lock(name, LockMode::kRead);
      if (!g.ok()) {
        CHILD_CHECK(g.code() == Code::kNotFound, "lock %s: %s", name.c_str(), g.status().ToString().c_str());
        continue;
      }
      ++out->locks;
      // A just-allocated object is zero until its creator's WRITE lock fills it.
      CHILD_CHECK(CheckStamped(g->data()) || AllZero(g->data()), "%s torn under READ lock", name.c_str());
    } else if (!own.empty()) {
      Own& o = own[rng() % own.size()];
      {
        auto g = heap.Lock(o.name, LockMode::kWrite);
        CHILD_CHECK(g.ok(), "lock %s: %s", o.name.c_str(), g.status().ToString().c_str());
        std::uint64_t got = 0;
        CHILD_CHECK(CheckStamped(g->data(), &got) && got == o.seed, "%s lost what we wrote", o.name.c_str());
        o.seed = next_seed();
        FillStamped(g->data(), o.seed);
      }
      auto g = heap.Lock(o.name, LockMode::kRead);
      CHILD_CHECK(g.ok(), "relock %s: %s", o.name.c_str(), g.status().ToString().c_str());
      std::uint64_t got = 0;
      CHILD_CHECK(CheckStamped(g->data(), &got) && got == o.seed, "%s not intact when re-locked", o.name.c_str());
      out->locks += 2;
    }
  }
  for (const Anon& a : anon) {
    CHILD_CHECK(testing::CheckPattern({a.p, a.n}, a.seed), "anonymous block overwritten");
    CHILD_CHECK(heap.Free(a.p).ok(), "free anonymous at exit");
  }
  for (const Own& o : own) {
    auto f = heap.Find(o.name);
    std::uint64_t got = 0;
    CHILD_CHECK(f.ok() && CheckStamped(*f, &got) && got == o.seed, "%s changed", o.name.c_str());
    out->kept += 1;
    out->kept_bytes += o.size;
  }
  h->reset();  // detach
  return 0;
}

TEST_F(MultiProcessTest, EightProcessesAllocateFreeAndLockConcurrently) {
  auto heap = Create();
  ASSERT_TRUE(heap);
  for (int i = 0; i < kShared; ++i) {
    auto a = heap->Allocate(SharedName(i), kSharedSize);
    ASSERT_TRUE(a.ok());
    FillStamped(*a, i + 1);
  }
  const HeapStats before = heap->Stats();
  const int segments_before = RecordSegments(*heap);
  SharedArray<WorkerResult> results(kProcs);
  std::vector<pid_t> pids;
  for (int k = 0; k < kProcs; ++k) {
    pids.push_back(Fork([&, k] { return AllocFreeLockWorker(path(), k, &results[k]); }));
  }
  for (pid_t pid : pids) EXPECT_EQ(WaitFor(pid, 300s), 0);

  ExpectConsistent(*heap);
  ExpectOnlySelfAttached(*heap);
  std::uint64_t kept = 0, kept_bytes = 0, locks = 0;
  for (int k = 0; k < kProcs; ++k) {
    kept += results[k].kept;
    kept_bytes += results[k].kept_bytes;
    locks += results[k].locks;
  }
  EXPECT_GT(locks, 1000u);
  auto list = heap->List();
  EXPECT_EQ(list.size(), kShared + kept);
  for (const ObjectInfo& o : list) {
    auto f = heap->Find(o.name);
    ASSERT_TRUE(f.ok()) << o.name;
    EXPECT_TRUE(CheckStamped(*f)) << o.name << " is torn";
    EXPECT_EQ(o.lock_state, "-") << o.name << " is still locked";
  }
  const HeapStats after = heap->Stats();
  EXPECT_EQ(after.objects, kShared + kept);
  EXPECT_EQ(after.object_bytes, kShared * kSharedSize + kept_bytes);
  // Every anonymous block, hold table and freed object went back: what is
  // left is the data and name chunk of each kept object, plus new record
  // segments (the index table may have been rebuilt: one chunk for one).
  EXPECT_EQ(after.allocations,
            before.allocations + 2 * kept + static_cast<std::uint64_t>(RecordSegments(*heap) - segments_before));
}

// ------------------------------------------------------------------ counter

TEST_F(MultiProcessTest, CounterIncrementedUnderWriteLockByEightProcessesIsExact) {
  constexpr int kIncrements = 10'000;
  shmheap_t* h = shmheap_attach(path().c_str(), SHMHEAP_CREATE, 64ull << 20);
  ASSERT_NE(h, nullptr) << shmheap_last_error();
  auto* counter = static_cast<std::uint64_t*>(shmalloc(h, sizeof(std::uint64_t), "counter"));
  ASSERT_NE(counter, nullptr) << shmheap_last_error();
  const std::uint64_t version0 = shmheap_version(h, "counter");
  std::vector<pid_t> pids;
  for (int k = 0; k < kProcs; ++k) {
    pids.push_back(Fork([&] {
      shmheap_t* c = shmheap_attach(path().c_str(), 0, 0);
      CHILD_CHECK(c != nullptr, "attach: %s", shmheap_last_error());
      for (int i = 0; i < kIncrements; ++i) {
        auto* p = static_cast<std::uint64_t*>(shmheap_lock_object_name(c, SHMHEAP_LOCK, "counter", SHMHEAP_WRITE));
        CHILD_CHECK(p != nullptr, "lock: %s", shmheap_last_error());
        const std::uint64_t v = *p;
        if (i % 64 == 0) sched_yield();  // widen the window a lost update would need
        *p = v + 1;
        CHILD_CHECK(shmheap_lock_object_name(c, SHMHEAP_UNLOCK, "counter", SHMHEAP_WRITE) != nullptr, "unlock: %s",
                    shmheap_last_error());
      }
      CHILD_CHECK(shmheap_detach(c) == 0, "detach");
      return 0;
    }));
  }
  for (pid_t pid : pids) EXPECT_EQ(WaitFor(pid, 300s), 0);
  EXPECT_EQ(*counter, std::uint64_t{kProcs} * kIncrements);
  EXPECT_EQ(shmheap_version(h, "counter"), version0 + std::uint64_t{kProcs} * kIncrements)
      << "every write-unlock publishes a new version";
  EXPECT_EQ(shmheap_check(path().c_str(), nullptr), 0);
  EXPECT_EQ(shmheap_detach(h), 0);
}

// ---------------------------------------------------- growth while reading

TEST_F(MultiProcessTest, ReadersSeeIntactDataWhileAnotherProcessGrowsTheHeap) {
  constexpr int kObjects = 200;
  constexpr int kReaders = 4;
  constexpr int kBig = 64;
  auto heap = Create(1ull << 30);
  ASSERT_TRUE(heap);
  auto size_of = [](int i) { return static_cast<std::size_t>(16 + (i * 977) % 20000); };
  for (int i = 0; i < kObjects; ++i) {
    auto a = heap->Allocate("r" + std::to_string(i), size_of(i));
    ASSERT_TRUE(a.ok());
    FillStamped(*a, 7000 + i);
  }
  const auto* sb = reinterpret_cast<const format::Superblock*>(heap->base());
  const std::uint64_t size0 = heap->Stats().file_size;
  const std::uint64_t table0 = sb->pageinfo_off;
  // [0]: the grower is done; [1 + r]: reads by reader r.
  SharedArray<std::uint64_t> shared(1 + kReaders);

  pid_t grower = Fork([&] {
    auto h = Attach(path());
    CHILD_CHECK(h.ok(), "%s", h.status().ToString().c_str());
    std::vector<int> live;
    for (int b = 0; b < kBig; ++b) {
      const std::string name = "big" + std::to_string(b);
      const std::size_t size = (512u << 10) * (1 + b % 4);
      auto a = (*h)->Allocate(name, size);
      CHILD_CHECK(a.ok(), "allocate %s: %s", name.c_str(), a.status().ToString().c_str());
      auto g = (*h)->Lock(name, LockMode::kWrite);
      CHILD_CHECK(g.ok(), "lock %s", name.c_str());
      FillStamped(g->data(), 90000 + b);
      live.push_back(b);
      if (b % 5 == 4) {  // leave holes behind
        CHILD_CHECK((*h)->Remove("big" + std::to_string(live.front())).ok(), "remove");
        live.erase(live.begin());
      }
    }
    for (int b : live) {
      auto f = (*h)->Find("big" + std::to_string(b));
      std::uint64_t seed = 0;
      CHILD_CHECK(f.ok() && CheckStamped(*f, &seed) && seed == 90000u + b, "big%d changed", b);
    }
    std::atomic_ref<std::uint64_t>(shared[0]).store(1);
    return 0;
  });
  std::vector<pid_t> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.push_back(Fork([&, r] {
      auto h = Attach(path());
      CHILD_CHECK(h.ok(), "%s", h.status().ToString().c_str());
      std::mt19937_64 rng(r);
      std::uint64_t reads = 0;
      while (std::atomic_ref<std::uint64_t>(shared[0]).load() == 0 || reads < 200) {
        const int i = static_cast<int>(rng() % kObjects);
        const std::string name = "r" + std::to_string(i);
        std::uint64_t seed = 0;
        if (reads % 4 == 0) {
          auto g = (*h)->Lock(name, LockMode::kRead);
          CHILD_CHECK(g.ok(), "lock %s: %s", name.c_str(), g.status().ToString().c_str());
          CHILD_CHECK(g->data().size() == size_of(i) && CheckStamped(g->data(), &seed) && seed == 7000u + i,
                      "%s changed", name.c_str());
        } else {
          auto f = (*h)->Find(name);
          CHILD_CHECK(f.ok(), "find %s: %s", name.c_str(), f.status().ToString().c_str());
          CHILD_CHECK(f->size() == size_of(i) && CheckStamped(*f, &seed) && seed == 7000u + i, "%s changed",
                      name.c_str());
        }
        if (reads % 16 == 0) {  // a big object may be mid-fill (zero) or gone
          auto g = (*h)->Lock("big" + std::to_string(rng() % kBig), LockMode::kRead);
          CHILD_CHECK(g.ok() || g.code() == Code::kNotFound, "lock big: %s", g.status().ToString().c_str());
          if (g.ok()) CHILD_CHECK(CheckStamped(g->data()) || AllZero(g->data()), "big object torn");
        }
        ++reads;
      }
      shared[1 + r] = reads;
      return 0;
    }));
  }
  EXPECT_EQ(WaitFor(grower, 300s), 0);
  for (pid_t pid : readers) EXPECT_EQ(WaitFor(pid, 300s), 0);
  for (int r = 0; r < kReaders; ++r) EXPECT_GE(shared[1 + r], 200u);

  const std::uint64_t size1 = heap->Stats().file_size;
  EXPECT_GE(size1, 48ull << 20) << "the heap grew from " << size0;
  EXPECT_NE(sb->pageinfo_off, table0) << "the page table was rebuilt";
  for (int i = 0; i < kObjects; ++i) {
    auto f = heap->Find("r" + std::to_string(i));
    std::uint64_t seed = 0;
    ASSERT_TRUE(f.ok());
    EXPECT_TRUE(CheckStamped(*f, &seed) && seed == 7000u + i) << i;
  }
  ExpectConsistent(*heap);
  ExpectOnlySelfAttached(*heap);
}

TEST_F(MultiProcessTest, InheritedHandleIsRefusedInChildAndParentStaysAlive) {
  auto heap = Create();
  ASSERT_TRUE(heap);
  ASSERT_TRUE(heap->Allocate("obj", 64).ok());
  pid_t child = Fork([&] {
    CHILD_CHECK(heap->Allocate("from-child", 8).code() == Code::kInvalidArgument, "inherited handle allocated");
    CHILD_CHECK(heap->Lock("obj", LockMode::kWrite).code() == Code::kInvalidArgument, "inherited handle locked");
    return 0;
  });
  EXPECT_EQ(Wait(child), 0);
  // The child closed its copies of the parent's descriptors; the parent's
  // liveness lock must survive that, so a new process still sees it alive.
  pid_t observer = Fork([&] {
    auto h = Attach(path());
    CHILD_CHECK(h.ok(), "%s", h.status().ToString().c_str());
    auto clients = (*h)->Clients();
    CHILD_CHECK(clients.size() == 2, "%zu clients", clients.size());
    for (const ClientInfo& ci : clients) CHILD_CHECK(ci.alive, "client pid %u looks dead", ci.pid);
    return 0;
  });
  EXPECT_EQ(Wait(observer), 0);
  EXPECT_EQ(heap->Find("from-child").code(), Code::kNotFound);
  ExpectOnlySelfAttached(*heap);
  ExpectConsistent(*heap);
}

// ------------------------------------------------ check while others work

// `check` of a heap others are using reports only real damage: not the
// moment between a reader dropping the last pin of a replaced version and
// freeing it (the CI failure this test was written for), and, read-only,
// not an operation half done (it waits for a snapshot no commit changed).
TEST_F(MultiProcessTest, ChecksWhileOtherProcessesReadAndReplaceFindNothingWrong) {
  auto heap = Create();
  ASSERT_TRUE(heap);
  ASSERT_TRUE(heap->CreateWith("obj", std::as_bytes(std::span("first", 5)), ObjectAttr{}).ok());
  // The children work until the parent has made enough checks of both
  // kinds (or a generous deadline passes): a slow sanitizer build gets the
  // time it needs.
  SharedArray<int> stop(1);
  const std::int64_t deadline = NowMs() + 20000;
  auto working = [&] { return std::atomic_ref<int>(stop[0]).load() == 0 && NowMs() < deadline; };
  auto reader = [&] {
    auto h = Attach(path());
    CHILD_CHECK(h.ok(), "%s", h.status().ToString().c_str());
    for (int n = 1; working(); ++n) {
      auto id = (*h)->Lookup("obj");
      CHILD_CHECK(id.ok(), "lookup: %s", id.status().ToString().c_str());
      auto r = (*h)->Read(*id, 0, 1 << 16, [](std::span<const std::byte>) {});
      CHILD_CHECK(r.ok() || r.code() == Code::kStale, "read: %s", r.status().ToString().c_str());
      if (n % 256 == 0) std::this_thread::sleep_for(1ms);
    }
    return 0;
  };
  auto replacer = [&] {
    auto h = Attach(path());
    CHILD_CHECK(h.ok(), "%s", h.status().ToString().c_str());
    std::mt19937_64 rng(7);
    std::vector<std::byte> bytes(9000);
    for (int n = 1; working(); ++n) {
      bytes.resize(1 + rng() % 9000);
      Status s = (*h)->Replace("obj", bytes);
      CHILD_CHECK(s.ok(), "replace: %s", s.ToString().c_str());
      // Quiet moments, in which a read-only check can find a snapshot.
      if (n % 64 == 0) std::this_thread::sleep_for(2ms);
    }
    return 0;
  };
  std::vector<pid_t> children{Fork(reader), Fork(reader), Fork(replacer)};
  int read_write_checks = 0, read_only_checks = 0, busy = 0;
  std::string first_problem;
  const std::int64_t least = NowMs() + 1500;
  while (first_problem.empty() && NowMs() < deadline &&
         (NowMs() < least || read_write_checks < 20 || read_only_checks < 3)) {
    std::vector<std::string> problems;
    if ((read_write_checks + read_only_checks + busy) % 2 == 0) {
      auto r = Heap::Check(path());
      if (!r.ok()) {
        // kBusy is allowed (no quiet snapshot in 2 s).
        if (r.code() != Code::kBusy) first_problem = "read-only check: " + r.status().ToString();
        ++busy;
        continue;
      }
      ++read_only_checks;
      problems = std::move(*r);
    } else {
      ++read_write_checks;
      problems = heap->CheckAttached();
    }
    if (!problems.empty()) first_problem = Join(problems);
  }
  std::atomic_ref<int>(stop[0]).store(1);
  for (pid_t c : children) EXPECT_EQ(Wait(c), 0);
  EXPECT_EQ(first_problem, "");
  EXPECT_GE(read_write_checks, 20);
  EXPECT_GE(read_only_checks, 3) << busy << " read-only checks found no quiet snapshot";
  ExpectConsistent(*heap);
}

}  // namespace
}  // namespace shmheap
