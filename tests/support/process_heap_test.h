// Shared pieces of the multi-process heap tests (tests/unit/heap/
// multiprocess_test.cc, dead_client_test.cc): a fixture owning a heap file on
// tmpfs, and helpers for forked children, which report failure through their
// exit status (CHILD_CHECK) and never use gtest macros.
//
// Thread and process safety: the fixture is used by the test's main thread;
// the helpers may run in any process.
#ifndef SHMHEAP_TESTS_SUPPORT_PROCESS_HEAP_TEST_H_
#define SHMHEAP_TESTS_SUPPORT_PROCESS_HEAP_TEST_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <shmheap/heap.hpp>
#include <span>
#include <string>
#include <vector>

#include "heap/src/format/superblock.h"
#include "tests/support/heap_test_util.h"

namespace shmheap::testing {

// In a child: on failure print where and why, and return 1 from the child.
#define CHILD_CHECK(cond, ...)                                                                                \
  do {                                                                                                        \
    if (!(cond)) {                                                                                            \
      std::fprintf(stderr, "child %d: %s:%d: %s: ", static_cast<int>(::getpid()), __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                                      \
      std::fputc('\n', stderr);                                                                               \
      return 1;                                                                                               \
    }                                                                                                         \
  } while (0)

// Monotonic milliseconds.
inline std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The lines of `v`, one per line (for failure messages).
inline std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& p : v) s += p + "\n";
  return s;
}

// Attaches an existing heap (OpenMode::kOpen).
inline Result<std::unique_ptr<Heap>> Attach(const std::string& path) {
  Options o;
  o.mode = OpenMode::kOpen;
  return Heap::Open(path, o);
}

// True if every byte of `s` is zero.
inline bool AllZero(std::span<const std::byte> s) {
  for (std::byte b : s) {
    if (b != std::byte{0}) return false;
  }
  return true;
}

// Record-table segments allocated in `heap` (each is one arena chunk).
inline int RecordSegments(const Heap& heap) {
  const auto* sb = reinterpret_cast<const format::Superblock*>(heap.base());
  int n = 0;
  for (std::uint64_t seg : sb->record_segments) n += seg != 0;
  return n;
}

// Owns one heap file ("mp.heap") in a fresh tmpfs directory.
class ProcessHeapTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.File("mp.heap"); }

  std::unique_ptr<Heap> Create(std::uint64_t max_size = 1ull << 30) {
    Options o;
    o.mode = OpenMode::kCreate;
    o.max_size = max_size;
    auto h = Heap::Open(path(), o);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? std::move(*h) : nullptr;
  }

  void ExpectConsistent(Heap& heap) {
    auto problems = heap.CheckAttached();
    EXPECT_TRUE(problems.empty()) << Join(problems);
  }

  void ExpectOnlySelfAttached(Heap& heap) {
    auto clients = heap.Clients();
    ASSERT_EQ(clients.size(), 1u) << "a dead client is still listed";
    EXPECT_TRUE(clients[0].self);
    EXPECT_EQ(clients[0].pid, static_cast<std::uint32_t>(::getpid()));
  }

  ShmDir dir_;
};
}  // namespace shmheap::testing

#endif  // SHMHEAP_TESTS_SUPPORT_PROCESS_HEAP_TEST_H_
