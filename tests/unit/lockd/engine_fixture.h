// Shared test fixture for LockEngine tests: a FakeBridge standing in for the
// heap's collective object lock (it records every call and refuses modes
// that conflict with what a pretend library client holds), a recorder for
// completions, and short constructors for lock requests.
//
// Thread safety: FakeBridge is only called under the engine's mutex; the
// fixture itself is used from the test thread.
#ifndef SHMHEAP_TESTS_UNIT_LOCKD_ENGINE_FIXTURE_H_
#define SHMHEAP_TESTS_UNIT_LOCKD_ENGINE_FIXTURE_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <lockd/lock_engine.hpp>
#include <shmheap/status.hpp>

namespace shmheap::lockd {

// gtest printers (found by ADL).
inline const char* Name(LockType t) {
  return t == LockType::kRead ? "read" : t == LockType::kWrite ? "write" : "unlock";
}
inline const char* Name(HeapMode m) {
  return m == HeapMode::kNone ? "none" : m == HeapMode::kRead ? "read" : "write";
}
inline void PrintTo(const Range& r, std::ostream* os) {
  *os << "[" << r.start << ", " << (r.end == kEof ? std::string("EOF") : std::to_string(r.end))
      << "]";
}
inline void PrintTo(const RecordLock& l, std::ostream* os) {
  *os << "{" << Name(l.type) << " [" << l.range.start << ", "
      << (l.range.end == kEof ? std::string("EOF") : std::to_string(l.range.end)) << "] owner 0x"
      << std::hex << l.owner << std::dec << " pid " << l.pid << "}";
}
inline void PrintTo(HeapMode m, std::ostream* os) { *os << Name(m); }

namespace testing {

inline constexpr std::uint64_t kInode = 7;
inline constexpr std::uint64_t kInode2 = 8;
inline constexpr std::uint64_t kA = 0xA, kB = 0xB, kC = 0xC, kD = 0xD;
// Open files for flock tests.
inline constexpr std::uint64_t kF1 = 101, kF2 = 102, kF3 = 103;

inline std::uint32_t PidOf(std::uint64_t owner) { return static_cast<std::uint32_t>(1000 + owner); }

inline RecordLock Lock(LockType t, std::uint64_t owner, std::uint64_t start, std::uint64_t end) {
  return RecordLock{t, Range{start, end}, owner, PidOf(owner)};
}
inline RecordLock Rd(std::uint64_t owner, std::uint64_t start, std::uint64_t end) {
  return Lock(LockType::kRead, owner, start, end);
}
inline RecordLock Wr(std::uint64_t owner, std::uint64_t start, std::uint64_t end) {
  return Lock(LockType::kWrite, owner, start, end);
}
inline RecordLock Un(std::uint64_t owner, std::uint64_t start, std::uint64_t end) {
  return Lock(LockType::kUnlock, owner, start, end);
}
// A flock lock as Locks() reports it.
inline RecordLock FlockOf(std::uint64_t file, LockType t) {
  return RecordLock{t, Range{0, kEof}, file | kFlockOwnerBit, 0};
}

struct BridgeCall {
  enum Op { kAcquire, kReduce } op;
  std::uint64_t inode;
  HeapMode mode;
  friend bool operator==(const BridgeCall&, const BridgeCall&) = default;
  friend void PrintTo(const BridgeCall& c, std::ostream* os) {
    *os << (c.op == kAcquire ? "TryAcquire(" : "Reduce(") << c.inode << ", " << Name(c.mode) << ")";
  }
};
inline BridgeCall Acquire(HeapMode m, std::uint64_t inode = kInode) {
  return BridgeCall{BridgeCall::kAcquire, inode, m};
}
inline BridgeCall Reduce(HeapMode m, std::uint64_t inode = kInode) {
  return BridgeCall{BridgeCall::kReduce, inode, m};
}

// Stands in for the heap: `library` is the mode a library client holds on
// every object; TryAcquire answers kBusy when the mode asked for conflicts
// with it (read/read is fine). `error`, when set, is returned instead.
class FakeBridge : public HeapLockBridge {
 public:
  Status TryAcquire(std::uint64_t inode, HeapMode mode) override {
    calls.push_back(Acquire(mode, inode));
    if (error) return *error;
    const bool conflict =
        library == HeapMode::kWrite || (library == HeapMode::kRead && mode == HeapMode::kWrite);
    return conflict ? Status::Busy("library client holds the object lock") : Status::Ok();
  }
  void Reduce(std::uint64_t inode, HeapMode mode) override {
    calls.push_back(testing::Reduce(mode, inode));
  }

  // Returns and forgets the calls so far.
  std::vector<BridgeCall> Take() { return std::exchange(calls, {}); }

  HeapMode library = HeapMode::kNone;
  std::optional<Status> error;
  std::vector<BridgeCall> calls;
};

struct Completed {
  std::uint64_t id;
  Code code;
  friend bool operator==(const Completed&, const Completed&) = default;
  friend void PrintTo(const Completed& c, std::ostream* os) {
    *os << "{" << c.id << ", " << CodeName(c.code) << "}";
  }
};
inline Completed Granted(std::uint64_t id) { return Completed{id, Code::kOk}; }
inline Completed Interrupted(std::uint64_t id) { return Completed{id, Code::kInterrupted}; }

class EngineTest : public ::testing::Test {
 protected:
  EngineTest()
      : engine_(&bridge_, [this](std::uint64_t id, Status s) {
          completed_.push_back({id, s.code()});
        }) {}

  // Returns and forgets the completions so far.
  std::vector<Completed> Done() { return std::exchange(completed_, {}); }
  std::vector<RecordLock> Locks(std::uint64_t inode = kInode) const { return engine_.Locks(inode); }

  FakeBridge bridge_;
  std::vector<Completed> completed_;
  LockEngine engine_;
};

using Ids = std::vector<std::uint64_t>;
using LockList = std::vector<RecordLock>;

}  // namespace testing
}  // namespace shmheap::lockd

#endif  // SHMHEAP_TESTS_UNIT_LOCKD_ENGINE_FIXTURE_H_
