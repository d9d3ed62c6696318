// heap_bench: libshmheap against Boost.Interprocess and a process-shared
// pthread mutex, measured side by side in one run (Google Benchmark).
//
//   NamedAllocFree    shmalloc(name) + shfree, and Allocate + Remove, 64 bytes,
//                     vs managed_mapped_file construct<char>(name)[64] + destroy
//   FindAmong100k     shmheap_find / Heap::Find among 100k objects vs find<char>
//   AnonMix           anonymous alloc/free, random sizes 16..4096, 1k live,
//                     vs allocate / deallocate
//   LockUnlockByName  shmheap_lock_object_name WRITE + UNLOCK (and the C++
//                     Lock guard), uncontended, vs a PTHREAD_PROCESS_SHARED
//                     pthread_mutex_t in a shared file mapping
//   FindAtN           Heap::Find at 1k and 1M objects (10M with --huge)
//   Fragmentation     HeapStats fragmentation after a random alloc/free mix
//
// Every heap lives on /dev/shm (tmpfs), both ours and Boost's. Run it through
// tests/bench/run_heap_bench.sh, which prints the table of ratios.
// Usage: heap_bench [--huge] [google benchmark flags]
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <pthread.h>
#include <shmheap.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <boost/interprocess/managed_mapped_file.hpp>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <shmheap/heap.hpp>
#include <string>
#include <vector>

#include "tests/support/heap_test_util.h"

#ifndef SHMHEAP_BUILD_TYPE
#define SHMHEAP_BUILD_TYPE "unknown"
#endif

namespace {

namespace bip = boost::interprocess;
using shmheap::testing::ShmDir;

constexpr std::size_t kObjSize = 64;
bool g_huge = false;

ShmDir& Dir() {
  static ShmDir dir;
  return dir;
}

std::string Fresh(const std::string& stem) {
  static int n = 0;
  return Dir().File(stem + std::to_string(n++));
}

std::vector<std::string> Names(std::size_t n) {
  std::vector<std::string> v;
  v.reserve(n);
  char buf[32];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof(buf), "obj%zu", i);
    v.emplace_back(buf);
  }
  return v;
}

shmheap_t* NewCHeap() {
  shmheap_t* h = shmheap_attach(Fresh("c").c_str(), SHMHEAP_CREATE, 0);
  if (!h) std::fprintf(stderr, "shmheap_attach: %s\n", shmheap_last_error());
  return h;
}

std::unique_ptr<shmheap::Heap> NewHeap() {
  shmheap::Options o;
  o.mode = shmheap::OpenMode::kCreate;
  auto h = shmheap::Heap::Open(Fresh("cpp"), o);
  if (!h.ok()) {
    std::fprintf(stderr, "Heap::Open: %s\n", h.status().ToString().c_str());
    return nullptr;
  }
  return std::move(*h);
}

std::unique_ptr<bip::managed_mapped_file> NewBoost(std::size_t bytes) {
  return std::make_unique<bip::managed_mapped_file>(bip::create_only, Fresh("boost").c_str(), bytes);
}

// ------------------------------------------------ (a) named alloc + free

void BM_Shmheap_NamedAllocFree(benchmark::State& state) {
  shmheap_t* h = NewCHeap();
  const auto names = Names(1024);
  std::size_t i = 0;
  for (auto _ : state) {
    void* p = shmalloc(h, kObjSize, names[i++ & 1023].c_str());
    benchmark::DoNotOptimize(p);
    if (!p || shfree(h, p) != 0) state.SkipWithError("shmalloc/shfree failed");
  }
  shmheap_detach(h);
}
BENCHMARK(BM_Shmheap_NamedAllocFree);

void BM_ShmheapCpp_NamedAllocateRemove(benchmark::State& state) {
  auto h = NewHeap();
  const auto names = Names(1024);
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string& n = names[i++ & 1023];
    auto a = h->Allocate(n, kObjSize);
    benchmark::DoNotOptimize(a);
    if (!a.ok() || !h->Remove(n).ok()) state.SkipWithError("Allocate/Remove failed");
  }
}
BENCHMARK(BM_ShmheapCpp_NamedAllocateRemove);

void BM_Boost_NamedConstructDestroy(benchmark::State& state) {
  auto seg = NewBoost(64 << 20);
  const auto names = Names(1024);
  std::size_t i = 0;
  for (auto _ : state) {
    const char* n = names[i++ & 1023].c_str();
    char* p = seg->construct<char>(n)[kObjSize](0);
    benchmark::DoNotOptimize(p);
    if (!seg->destroy<char>(n)) state.SkipWithError("destroy failed");
  }
}
BENCHMARK(BM_Boost_NamedConstructDestroy);

// --------------------------------------------- (b) find among 100k objects

constexpr std::size_t kFindN = 100'000;

std::vector<std::size_t> RandomIndexes(std::size_t n, std::size_t count) {
  std::mt19937_64 rng(7);
  std::vector<std::size_t> v(count);
  for (auto& x : v) x = rng() % n;
  return v;
}

void BM_Shmheap_FindAmong100k(benchmark::State& state) {
  shmheap_t* h = NewCHeap();
  const auto names = Names(kFindN);
  for (const auto& n : names) shmalloc(h, kObjSize, n.c_str());
  const auto idx = RandomIndexes(kFindN, 4096);
  std::size_t i = 0;
  for (auto _ : state) {
    void* p = shmheap_find(h, names[idx[i++ & 4095]].c_str(), nullptr);
    benchmark::DoNotOptimize(p);
    if (!p) state.SkipWithError("shmheap_find failed");
  }
  shmheap_detach(h);
}
BENCHMARK(BM_Shmheap_FindAmong100k);

void BM_ShmheapCpp_FindAmong100k(benchmark::State& state) {
  auto h = NewHeap();
  const auto names = Names(kFindN);
  for (const auto& n : names) (void)h->Allocate(n, kObjSize);
  const auto idx = RandomIndexes(kFindN, 4096);
  std::size_t i = 0;
  for (auto _ : state) {
    auto f = h->Find(names[idx[i++ & 4095]]);
    benchmark::DoNotOptimize(f);
    if (!f.ok()) state.SkipWithError("Find failed");
  }
}
BENCHMARK(BM_ShmheapCpp_FindAmong100k);

void BM_Boost_FindAmong100k(benchmark::State& state) {
  auto seg = NewBoost(256 << 20);
  const auto names = Names(kFindN);
  for (const auto& n : names) seg->construct<char>(n.c_str())[kObjSize](0);
  const auto idx = RandomIndexes(kFindN, 4096);
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = seg->find<char>(names[idx[i++ & 4095]].c_str());
    benchmark::DoNotOptimize(r);
    if (!r.first) state.SkipWithError("find failed");
  }
}
BENCHMARK(BM_Boost_FindAmong100k);

// ------------------------------------------------- (c) anonymous alloc mix

constexpr std::size_t kLive = 1000;

std::vector<std::size_t> RandomSizes() {
  std::mt19937_64 rng(11);
  std::vector<std::size_t> v(8192);
  for (auto& s : v) s = 16 + rng() % (4096 - 16 + 1);
  return v;
}

void BM_Shmheap_AnonMix(benchmark::State& state) {
  shmheap_t* h = NewCHeap();
  const auto sizes = RandomSizes();
  std::vector<void*> live(kLive);
  for (std::size_t i = 0; i < kLive; ++i) live[i] = shmalloc(h, sizes[i], nullptr);
  std::size_t i = 0;
  for (auto _ : state) {
    void*& slot = live[i % kLive];
    shfree(h, slot);
    slot = shmalloc(h, sizes[i++ & 8191], nullptr);
    if (!slot) state.SkipWithError("shmalloc failed");
  }
  shmheap_detach(h);
}
BENCHMARK(BM_Shmheap_AnonMix);

void BM_Boost_AnonMix(benchmark::State& state) {
  auto seg = NewBoost(256 << 20);
  const auto sizes = RandomSizes();
  std::vector<void*> live(kLive);
  for (std::size_t i = 0; i < kLive; ++i) live[i] = seg->allocate(sizes[i]);
  std::size_t i = 0;
  for (auto _ : state) {
    void*& slot = live[i % kLive];
    seg->deallocate(slot);
    slot = seg->allocate(sizes[i++ & 8191]);
  }
}
BENCHMARK(BM_Boost_AnonMix);

// ------------------------------------------------ (d) lock + unlock by name

void BM_Shmheap_LockUnlockByName(benchmark::State& state) {
  shmheap_t* h = NewCHeap();
  shmalloc(h, kObjSize, "lockme");
  for (auto _ : state) {
    void* p = shmheap_lock_object_name(h, SHMHEAP_LOCK, "lockme", SHMHEAP_WRITE);
    benchmark::DoNotOptimize(p);
    if (!p || !shmheap_lock_object_name(h, SHMHEAP_UNLOCK, "lockme", SHMHEAP_WRITE)) {
      state.SkipWithError("lock failed");
    }
  }
  shmheap_detach(h);
}
BENCHMARK(BM_Shmheap_LockUnlockByName);

void BM_ShmheapCpp_LockGuardByName(benchmark::State& state) {
  auto h = NewHeap();
  (void)h->Allocate("lockme", kObjSize);
  for (auto _ : state) {
    auto g = h->Lock("lockme", shmheap::LockMode::kWrite);
    benchmark::DoNotOptimize(g);
    if (!g.ok()) state.SkipWithError("lock failed");
  }
}
BENCHMARK(BM_ShmheapCpp_LockGuardByName);

void BM_PthreadMutexShared_LockUnlock(benchmark::State& state) {
  const std::string path = Fresh("mutex");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0600);
  if (fd < 0 || ::ftruncate(fd, 4096) != 0) {
    state.SkipWithError("mutex file");
    return;
  }
  void* mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  auto* m = static_cast<pthread_mutex_t*>(mem);
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(m, &a);
  for (auto _ : state) {
    pthread_mutex_lock(m);
    benchmark::ClobberMemory();
    pthread_mutex_unlock(m);
  }
  pthread_mutex_destroy(m);
  ::munmap(mem, 4096);
}
BENCHMARK(BM_PthreadMutexShared_LockUnlock);

// ------------------------------------------- (e) lookup at 1k vs 1M (10M)

struct Populated {
  std::unique_ptr<shmheap::Heap> heap;
  std::vector<std::string> probe;  // names looked up, in random order
};

Populated& HeapWith(std::size_t n) {
  static std::map<std::size_t, Populated> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  Populated p;
  shmheap::Options o;
  o.mode = shmheap::OpenMode::kCreate;
  o.max_size = 256ull << 30;
  auto opened = shmheap::Heap::Open(Fresh("n"), o);
  if (!opened.ok()) {
    std::fprintf(stderr, "Heap::Open: %s\n", opened.status().ToString().c_str());
    std::abort();
  }
  p.heap = std::move(opened).value();
  char buf[32];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof(buf), "obj%zu", i);
    (void)p.heap->Allocate(buf, 16);
  }
  std::mt19937_64 rng(3);
  for (int i = 0; i < 4096; ++i) {
    std::snprintf(buf, sizeof(buf), "obj%zu", static_cast<std::size_t>(rng() % n));
    p.probe.emplace_back(buf);
  }
  return cache.emplace(n, std::move(p)).first->second;
}

void BM_ShmheapCpp_FindAtN(benchmark::State& state) {
  Populated& p = HeapWith(static_cast<std::size_t>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    auto f = p.heap->Find(p.probe[i++ & 4095]);
    benchmark::DoNotOptimize(f);
    if (!f.ok()) state.SkipWithError("Find failed");
  }
  state.counters["file_MiB"] = static_cast<double>(p.heap->Stats().file_size) / (1 << 20);
}

// ---------------------------------------------------------- fragmentation

void BM_ShmheapCpp_FragmentationAfterMix(benchmark::State& state) {
  auto h = NewHeap();
  std::mt19937_64 rng(5);
  std::vector<std::pair<void*, std::size_t>> live;
  shmheap::HeapStats st;
  for (auto _ : state) {
    for (int op = 0; op < 200'000; ++op) {
      // About 2000 live allocations, sizes log-uniform 16 B .. 64 KiB.
      if (live.empty() || (live.size() < 4000 && rng() % 100 < 50 + (live.size() < 2000 ? 5 : -5))) {
        const std::size_t base = std::size_t{16} << (rng() % 12);
        const std::size_t size = base + rng() % base;
        auto a = h->AllocateAnonymous(size);
        if (a.ok()) live.emplace_back(a->data(), size);
      } else {
        const std::size_t k = rng() % live.size();
        (void)h->Free(live[k].first);
        live[k] = live.back();
        live.pop_back();
      }
    }
    st = h->Stats();
  }
  std::uint64_t requested = 0;
  for (const auto& l : live) requested += l.second;
  state.counters["internal_frag"] = st.internal_fragmentation;
  state.counters["external_frag"] = st.external_fragmentation;
  // Space lost to size-class rounding, which internal_frag does not count.
  state.counters["rounding_loss"] =
      st.chunk_bytes ? 1.0 - static_cast<double>(requested) / static_cast<double>(st.chunk_bytes) : 0;
  state.counters["file_MiB"] = static_cast<double>(st.file_size) / (1 << 20);
  state.counters["free_runs"] = static_cast<double>(st.free_runs);
  state.counters["live_allocs"] = static_cast<double>(live.size());
}
BENCHMARK(BM_ShmheapCpp_FragmentationAfterMix)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--huge") == 0) {
      g_huge = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  auto* lookup = benchmark::RegisterBenchmark("BM_ShmheapCpp_FindAtN", BM_ShmheapCpp_FindAtN);
  lookup->Arg(1000)->Arg(1'000'000);
  if (g_huge) lookup->Arg(10'000'000);
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
  struct utsname u {};
  ::uname(&u);
  benchmark::AddCustomContext("build_type", SHMHEAP_BUILD_TYPE);
  benchmark::AddCustomContext("kernel", u.release);
  benchmark::AddCustomContext("heap_dir", Dir().path());
  benchmark::AddCustomContext("lookup_big_n", g_huge ? "10M (--huge)" : "1M (10M with --huge)");
  benchmark::AddCustomContext("heap_max_size", "64 GiB default; 256 GiB for FindAtN");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
