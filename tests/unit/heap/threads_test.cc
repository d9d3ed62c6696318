// One Heap shared by many threads of one process, as the FUSE daemon's
// handler threads share theirs: every call of the public API at once, on
// names each thread owns (whose contents it checks byte for byte) and on
// names all threads fight over (which may only fail as the API documents).
// Run under ThreadSanitizer by tests/run_all.sh, this is where a data race
// between lock-free readers (Stat, List, Read by id) and writers shows.
#include <shmheap/heap.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace shmheap {
namespace {

constexpr int kThreads = 4;
constexpr int kSteps = 6000;
constexpr int kOwn = 8;
constexpr int kShared = 4;

std::span<const std::byte> Bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string Pattern(std::mt19937_64& rng, std::size_t len) {
  std::string s(len, '\0');
  for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

// Codes a call on a shared name may give when another thread got there first.
bool Contended(const Status& s) {
  return s.ok() || s.code() == Code::kNotFound || s.code() == Code::kAlreadyExists || s.code() == Code::kStale;
}

// Runs one thread's steps; returns "" or what went wrong.
std::string Worker(Heap& heap, int t) {
  std::mt19937_64 rng(500 + static_cast<unsigned>(t));
  std::map<std::string, std::string> own;
  const OwnerToken owner = 1000 + static_cast<OwnerToken>(t);
  auto where = [&](int step, const std::string& what, const Status& s) {
    return "thread " + std::to_string(t) + " step " + std::to_string(step) + ": " + what + ": " + s.ToString();
  };
  for (int step = 0; step < kSteps; ++step) {
    const std::string n = "t" + std::to_string(t) + "_" + std::to_string(rng() % kOwn);
    const std::string sh = "shared" + std::to_string(rng() % kShared);
    const bool exists = own.count(n) != 0;
    switch (rng() % 10) {
      case 0: {  // create or replace
        std::string data = Pattern(rng, rng() % 20000);
        Status s = exists ? heap.Replace(n, Bytes(data)) : heap.CreateWith(n, Bytes(data), ObjectAttr{}).status();
        if (!s.ok()) return where(step, "store " + n, s);
        own[n] = data;
        break;
      }
      case 1: {  // write by id past the end (grows), then read by id
        if (!exists) break;
        auto id = heap.Lookup(n);
        if (!id.ok()) return where(step, "lookup " + n, id.status());
        std::string& want = own[n];
        const std::string more = Pattern(rng, 1 + rng() % 3000);
        const std::uint64_t at = want.size() ? rng() % want.size() : 0;
        auto w = heap.Write(*id, at, Bytes(more));
        if (!w.ok()) return where(step, "write " + n, w.status());
        if (want.size() < at + more.size()) want.resize(at + more.size());
        want.replace(at, more.size(), more);
        std::string got;
        auto r = heap.Read(*id, 0, 1 << 20, [&](std::span<const std::byte> b) {
          got.assign(reinterpret_cast<const char*>(b.data()), b.size());
        });
        if (!r.ok()) return where(step, "read " + n, r.status());
        if (got != want) return where(step, "read " + n + " differs", Status::Ok());
        break;
      }
      case 2: {  // remove
        Status s = heap.Remove(n);
        if (exists ? !s.ok() : s.code() != Code::kNotFound) return where(step, "remove " + n, s);
        own.erase(n);
        break;
      }
      case 3: {  // rename onto another own name
        const std::string to = "t" + std::to_string(t) + "_" + std::to_string(rng() % kOwn);
        Status s = heap.Rename(n, to);
        if (exists ? !s.ok() : s.code() != Code::kNotFound) return where(step, "rename " + n, s);
        if (exists && to != n) {
          own[to] = own[n];
          own.erase(n);
        }
        break;
      }
      case 4: {  // stat and a write under the lock
        auto st = heap.Stat(n);
        if (!exists) {
          if (st.code() != Code::kNotFound) return where(step, "stat of a removed " + n, st.status());
          break;
        }
        if (!st.ok() || st->size != own[n].size()) return where(step, "stat " + n, st.status());
        if (own[n].empty()) break;
        auto g = heap.Lock(n, LockMode::kWrite, owner);
        if (!g.ok()) return where(step, "lock " + n, g.status());
        g->data()[0] = std::byte{'Z'};
        own[n][0] = 'Z';
        break;
      }
      case 5: {  // an attribute
        if (!exists) break;
        auto id = heap.Lookup(n);
        if (!id.ok()) return where(step, "lookup " + n, id.status());
        const std::string v = Pattern(rng, 1 + rng() % 30);
        Status s = heap.SetXattr(*id, "user.v", v, 0);
        auto got = heap.GetXattr(*id, "user.v");
        if (!s.ok() || !got.ok() || *got != v) return where(step, "xattr " + n, s);
        break;
      }
      case 6: {  // listings while everything changes
        std::set<std::string> mine;
        for (const ObjectInfo& o : heap.List()) {
          if (o.name.rfind("t" + std::to_string(t) + "_", 0) == 0) mine.insert(o.name);
        }
        std::set<std::string> want;
        for (const auto& [name, data] : own) want.insert(name);
        if (mine != want) return where(step, "List() shows other own names than exist", Status::Ok());
        break;
      }
      default: {  // the shared names
        Status s;
        switch (rng() % 5) {
          case 0: s = heap.CreateWith(sh, Bytes(Pattern(rng, rng() % 5000)), ObjectAttr{}).status(); break;
          case 1: s = heap.Replace(sh, Bytes(Pattern(rng, rng() % 5000))); break;
          case 2: s = heap.Remove(sh); break;
          case 3: s = heap.Rename(sh, "shared" + std::to_string(rng() % kShared)); break;
          default: {
            auto id = heap.Lookup(sh);
            if (id.ok()) {
              s = heap.Read(*id, 0, 100, [](std::span<const std::byte>) {}).status();
              if (s.ok()) s = heap.Stat(*id).status();
            }
          }
        }
        if (!Contended(s)) return where(step, "shared " + sh, s);
      }
    }
  }
  for (const auto& [name, data] : own) {
    auto f = heap.Find(name);
    if (!f.ok() || std::string(reinterpret_cast<const char*>(f->data()), f->size()) != data) {
      return where(kSteps, "final " + name, f.status());
    }
  }
  return "";
}

TEST(HeapThreads, FourThreadsOnOneHeapKeepEveryByteAndTheHeapChecksClean) {
  testing::TempDir dir;
  Options o;
  o.max_size = 1ull << 30;
  auto h = Heap::Open(dir.File("threads.heap"), o);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { errors[t] = Worker(**h, t); });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "");
  auto problems = (*h)->CheckAttached();
  EXPECT_TRUE(problems.empty()) << problems.front();
}

}  // namespace
}  // namespace shmheap
