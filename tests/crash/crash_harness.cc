// crash_harness: kill -9 at any instant loses no committed object and leaves
// a consistent heap.
//
// Each round forks a worker that attaches the heap and performs random
// operations forever: named allocate, replace (contents derived from the name
// and a counter), remove, free, rename, realloc and set_type of named objects,
// anonymous alloc/free, and lock/unlock (some locks held across other
// operations, so removed and replaced objects stay pinned). Before each
// operation that creates or changes a named object the worker tells the
// parent through a pipe what it is about to do, and after the call returns it
// reports the result ("committed"). The parent SIGKILLs the worker after a
// random delay of 0-20 ms, attaches the heap (recovery runs), requires
// CheckAttached() to be empty and only itself to be listed as a client, and
// compares every named object with its model: committed operations must be
// there exactly; the one operation that was announced but not reported may
// have happened or not (old or new state, nothing else).
//
// Usage:
//   crash_harness [--rounds N] [--seed S] [--dir DIR] [--verbose]
//                 [--rename-over-existing] [--kill-in-attach] [--release-changed-holds]
//   The full run (1000 rounds, about a minute):
//     build-tests/tests/crash_harness --rounds 1000
//   ctest runs 200 rounds (test crash_harness, label crash).
//   A failure prints the seed and round; --seed S replays the same operation
//   sequence (the kill instants depend on timing, so replay is best effort)
//   and the failing heap is kept in DIR for inspection.
// One file of ~750 lines, past the 600-line mark on purpose: the model, the
// worker that reports to it and the parent that checks against it share the
// Msg protocol and Apply(), and reading them side by side is the point.
//
// Exit status: 0 when every round passed, 1 on the first failing round, 2 on
// bad usage.
//
// Three kinds of operation once found library bugs and are now always on
// (the flags are kept so old command lines still work):
//   --rename-over-existing  renames onto an existing name (a Rename
//       interrupted after freeing the target's chunks corrupted the target).
//   --kill-in-attach        also kills 0-20 ms after fork, often inside attach
//       (a kill holding the heap mutex before the slot was marked attached
//       made every later attach hang).
//   --release-changed-holds  releases held locks on objects changed while
//       held (a kill between the release and its follow-up free leaked the
//       pinned version or the orphan record).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <shmheap/heap.hpp>
#include <string>
#include <vector>

#include "heap/src/format/superblock.h"
#include "heap/src/log.h"
#include "tests/support/heap_test_util.h"

namespace shmheap {
namespace {

using testing::Mix64;

// ------------------------------------------------------------------ model

// A named object as the model sees it: bytes [0, min(filled, size)) are the
// pattern for `seed`, the rest are zero.
struct Obj {
  std::uint64_t seed = 0;
  std::uint64_t filled = 0;
  std::uint64_t size = 0;
  std::string type;
  bool operator==(const Obj&) const = default;
};
using Model = std::map<std::string, Obj>;

enum OpKind : std::uint32_t { kCreate = 1, kReplace, kRemove, kFree, kRename, kRealloc, kSetType, kAppend };
const char* OpName(std::uint32_t op) {
  static const char* names[] = {"?", "create", "replace", "remove", "free", "rename", "realloc", "set_type", "append"};
  return op <= kAppend ? names[op] : "?";
}

enum MsgKind : std::uint32_t { kReady = 1, kBegin, kCommit, kFail };

// One report from the worker. Smaller than PIPE_BUF, so each write is atomic.
struct Msg {
  std::uint32_t kind = 0;
  std::uint32_t op = 0;
  std::uint32_t a = 0;  // name index
  std::uint32_t b = 0;  // second name index (rename target)
  std::int32_t code = 0;
  std::uint32_t pad = 0;
  std::uint64_t size = 0;
  std::uint64_t seed = 0;    // replace: content seed; set_type: type number (0 clears)
  std::uint64_t serial = 0;  // operation number within the round
  char text[160] = {};       // kFail: what went wrong
};
static_assert(sizeof(Msg) < PIPE_BUF);

constexpr std::uint32_t kNames = 48;

std::string NameOf(std::uint32_t i) {
  std::string n = "obj-" + std::to_string(i);
  if (i % 7 == 3) n += "-" + std::string(180, static_cast<char>('a' + i % 26));  // long names
  return n;
}

std::string TypeOf(std::uint64_t t) { return t ? "type/" + std::to_string(t) : std::string(); }

std::uint64_t ContentSeed(const std::string& name, std::uint64_t counter) { return testing::HashOf(name, counter); }

void Apply(Model& m, const Msg& msg) {
  const std::string a = NameOf(msg.a);
  switch (msg.op) {
    case kCreate:
      m[a] = Obj{0, 0, msg.size, ""};
      break;
    case kReplace: {
      Obj& o = m[a];
      o.seed = msg.seed;
      o.filled = o.size = msg.size;
      break;
    }
    case kRemove:
    case kFree:
      m.erase(a);
      break;
    case kRename: {
      const std::string b = NameOf(msg.b);
      if (a == b) break;
      Obj o = m[a];
      m.erase(a);
      m[b] = o;
      break;
    }
    case kRealloc: {
      Obj& o = m[a];
      o.filled = std::min(o.filled, msg.size);
      o.size = msg.size;
      break;
    }
    case kSetType:
      m[a].type = TypeOf(msg.seed);
      break;
    case kAppend: {  // the whole object is now its seed's pattern
      Obj& o = m[a];
      o.filled = o.size = msg.size;
      break;
    }
  }
}

// memcmp that accepts empty ranges (whose data() may be null).
bool SameBytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

std::vector<std::byte> Expected(const Obj& o) {
  std::vector<std::byte> v(o.size);
  testing::FillPattern(std::span<std::byte>(v.data(), std::min(o.filled, o.size)), o.seed);
  return v;
}

// ----------------------------------------------------------------- worker

class Worker {
 public:
  Worker(const std::string& path, Model model, std::uint64_t seed, int fd, bool rename_over_existing,
         bool release_changed_holds)
      : path_(path),
        model_(std::move(model)),
        rng_(seed),
        fd_(fd),
        rename_over_existing_(rename_over_existing),
        release_changed_holds_(release_changed_holds) {}

  [[noreturn]] void Run();

 private:
  void Send(const Msg& m) {
    const char* p = reinterpret_cast<const char*>(&m);
    std::size_t left = sizeof(m);
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) ::_exit(7);
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  [[noreturn]] void Fail(const std::string& what) {
    Msg m;
    m.kind = kFail;
    std::snprintf(m.text, sizeof(m.text), "%s", what.c_str());
    Send(m);
    ::_exit(3);
  }
  std::uint64_t Size();
  std::optional<std::uint32_t> Pick(bool present);
  // Announces `m`, runs `call`, reports its result; applies it to the model
  // when it succeeded. Any failure is a bug (the model knows what exists).
  void Reported(Msg m, const std::function<Status()>& call);
  void Verify(std::uint32_t i);
  void NamedOp(int dice);
  void LockOp();
  void HoldOp();
  void AnonOp();

  std::string path_;
  Model model_;
  std::mt19937_64 rng_;
  int fd_;
  bool rename_over_existing_;
  bool release_changed_holds_;
  std::unique_ptr<Heap> heap_;
  int data_fd_ = -1;  // the backing file, for appends through a descriptor
  std::uint64_t serial_ = 0;
  // A lock kept across other operations, with the contents it saw.
  std::optional<LockGuard> held_;
  std::vector<std::byte> held_bytes_;
  std::string held_name_;   // the name it was locked by (for messages)
  std::string held_track_;  // its current name ("" once unlinked)
  bool held_resized_ = false;
  bool held_changed_ = false;  // the held object was changed or unlinked meanwhile
  struct Anon {
    std::byte* p;
    std::size_t n;
    std::uint64_t seed;
  };
  std::vector<Anon> anon_;
};

std::uint64_t Worker::Size() {
  const int d = static_cast<int>(rng_() % 100);
  if (d < 2) return 0;
  if (d < 50) return 1 + rng_() % 200;
  if (d < 80) return 200 + rng_() % 3800;
  if (d < 98) return 4000 + rng_() % 36000;
  return 40000 + rng_() % 1000000;  // frees of 256 KiB+ punch holes
}

std::optional<std::uint32_t> Worker::Pick(bool present) {
  for (int tries = 0; tries < 16; ++tries) {
    auto i = static_cast<std::uint32_t>(rng_() % kNames);
    if (model_.count(NameOf(i)) == (present ? 1u : 0u)) return i;
  }
  return std::nullopt;
}

void Worker::Reported(Msg m, const std::function<Status()>& call) {
  m.kind = kBegin;
  m.serial = ++serial_;
  Send(m);
  Status s = call();
  m.kind = kCommit;
  m.code = static_cast<std::int32_t>(s.code());
  Send(m);
  if (!s.ok()) Fail(std::string(OpName(m.op)) + " " + NameOf(m.a) + ": " + s.ToString());
  Apply(model_, m);
  if (m.op == kRealloc && NameOf(m.a) == held_track_) held_resized_ = true;
  if (NameOf(m.a) == held_track_ || (m.op == kRename && NameOf(m.b) == held_track_)) held_changed_ = true;
  // Follow the held object under its new name (a realloc by that name
  // resizes it in place); an object renamed over it unlinks it.
  if (m.op == kRename && NameOf(m.a) == held_track_) {
    held_track_ = NameOf(m.b);
  } else if (m.op == kRename && NameOf(m.b) == held_track_) {
    held_track_.clear();
  } else if ((m.op == kRemove || m.op == kFree) && NameOf(m.a) == held_track_) {
    held_track_.clear();
  }
}

void Worker::Verify(std::uint32_t i) {
  const std::string name = NameOf(i);
  auto it = model_.find(name);
  auto f = heap_->Find(name);
  if (it == model_.end()) {
    if (f.code() != Code::kNotFound) Fail(name + " should not exist: " + f.status().ToString());
    return;
  }
  if (!f.ok()) Fail(name + ": " + f.status().ToString());
  std::vector<std::byte> want = Expected(it->second);
  if (!SameBytes(*f, want)) {
    Fail(name + ": contents differ from the model in the worker");
  }
}

void Worker::NamedOp(int dice) {
  Msg m;
  if (dice < 22) {  // create
    auto i = Pick(false);
    if (!i) return;
    m.op = kCreate;
    m.a = *i;
    m.size = Size();
    Reported(m, [&] { return heap_->Allocate(NameOf(m.a), m.size).status(); });
  } else if (dice < 38) {  // replace with contents derived from the name
    auto i = Pick(true);
    if (!i) return;
    m.op = kReplace;
    m.a = *i;
    m.size = Size();
    m.seed = ContentSeed(NameOf(m.a), serial_ + 1);
    std::vector<std::byte> bytes(m.size);
    testing::FillPattern(bytes, m.seed);
    Reported(m, [&] { return heap_->Replace(NameOf(m.a), bytes); });
  } else if (dice < 46) {
    auto i = Pick(true);
    if (!i) return;
    m.op = kRemove;
    m.a = *i;
    Reported(m, [&] { return heap_->Remove(NameOf(m.a)); });
  } else if (dice < 51) {
    auto i = Pick(true);
    if (!i) return;
    m.op = kFree;
    m.a = *i;
    auto f = heap_->Find(NameOf(m.a));
    if (!f.ok()) Fail("find before free: " + f.status().ToString());
    Reported(m, [&] { return heap_->Free(f->data()); });
  } else if (dice < 59) {
    auto i = Pick(true);
    if (!i) return;
    m.op = kRename;
    m.a = *i;
    if (rename_over_existing_) {
      m.b = static_cast<std::uint32_t>(rng_() % kNames);  // may exist: it is replaced
    } else {
      auto b = Pick(false);
      if (!b) return;
      m.b = *b;
    }
    Reported(m, [&] { return heap_->Rename(NameOf(m.a), NameOf(m.b)); });
  } else if (dice < 69) {
    auto i = Pick(true);
    if (!i) return;
    m.op = kRealloc;
    m.a = *i;
    m.size = Size();
    auto f = heap_->Find(NameOf(m.a));
    if (!f.ok()) Fail("find before realloc: " + f.status().ToString());
    Reported(m, [&] { return heap_->Realloc(f->data(), m.size).status(); });
  } else if (dice < 76) {
    // An append through a descriptor of the backing file (WriteVia with
    // pwrite), as the daemon writes: in a version-3 heap the blocks it grows
    // into are not reserved first, so a kill mid-write must leave them
    // returned to the free space, still flagged.
    auto i = Pick(true);
    if (!i) return;
    const Obj& o = model_.at(NameOf(*i));
    // Only a whole pattern ending on a word boundary extends by writing new
    // bytes alone (FillPattern's last partial word differs from the same
    // bytes in a longer pattern, and rewriting old bytes is not atomic).
    if (o.filled != o.size || o.size % 8 != 0) return;
    m.op = kAppend;
    m.a = *i;
    m.size = o.size + Size();
    std::vector<std::byte> want(m.size);
    testing::FillPattern(want, o.seed);
    const std::uint64_t from = o.size;
    auto id = heap_->Lookup(NameOf(m.a));
    if (!id.ok()) Fail("lookup before append: " + id.status().ToString());
    Reported(m, [&] {
      return heap_->WriteVia(*id, from, m.size - from, [&](std::uint64_t file_off) {
        const std::byte* p = want.data() + from;
        std::size_t left = m.size - from;
        for (std::uint64_t at = file_off; left > 0;) {
          ssize_t n = ::pwrite(data_fd_, p, left, static_cast<off_t>(at));
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) return Status::FromErrno("pwrite", n < 0 ? errno : EIO);
          p += n;
          at += static_cast<std::uint64_t>(n);
          left -= static_cast<std::size_t>(n);
        }
        return Status::Ok();
      }).status();
    });
  } else {
    auto i = Pick(true);
    if (!i) return;
    m.op = kSetType;
    m.a = *i;
    m.seed = rng_() % 4 == 0 ? 0 : serial_ + 1;
    Reported(m, [&] { return heap_->SetType(NameOf(m.a), TypeOf(m.seed)); });
  }
  if (rng_() % 8 == 0) {
    Verify(m.a);
    if (m.op == kRename) Verify(m.b);
  }
}

void Worker::LockOp() {
  auto i = Pick(true);
  if (!i) return;
  const std::string name = NameOf(*i);
  const LockMode mode = rng_() & 1 ? LockMode::kWrite : LockMode::kRead;
  auto g = heap_->TryLock(name, mode);
  if (g.code() == Code::kBusy && held_) return;  // conflicts with the held lock (another owner)
  if (!g.ok()) Fail("lock " + name + ": " + g.status().ToString());
  std::vector<std::byte> want = Expected(model_[name]);
  if (!SameBytes(g->data(), want)) {
    Fail(name + ": contents under lock differ from the model");
  }
  if (!g->Unlock().ok()) Fail("unlock " + name);
}

void Worker::HoldOp() {
  if (held_ && held_changed_ && !release_changed_holds_) return;  // kept until the kill (see --release-changed-holds)
  if (held_) {
    // The held version must be exactly what it was when locked, even if the
    // object was replaced, renamed or removed meanwhile (in-place resizing
    // is writing, so then it is not compared).
    if (!held_resized_ && (held_->data().size() != held_bytes_.size() || !SameBytes(held_->data(), held_bytes_))) {
      Fail("held version of " + held_name_ + " changed under its lock");
    }
    Status s = held_->Unlock();
    if (!s.ok()) Fail("unlock held " + held_name_ + ": " + s.ToString());
    held_.reset();
    held_name_.clear();
    return;
  }
  auto i = Pick(true);
  if (!i) return;
  held_name_ = NameOf(*i);
  auto g = heap_->Lock(held_name_, rng_() & 1 ? LockMode::kWrite : LockMode::kRead, NewOwnerToken(),
                       std::chrono::seconds(5));
  if (!g.ok()) Fail("hold " + held_name_ + ": " + g.status().ToString());
  held_bytes_.assign(g->data().begin(), g->data().end());
  held_track_ = held_name_;
  held_resized_ = false;
  held_changed_ = false;
  held_.emplace(std::move(*g));
}

void Worker::AnonOp() {
  if (anon_.size() < 6 && (anon_.empty() || rng_() & 1)) {
    const std::size_t n = 16 + rng_() % 4081;
    auto a = heap_->AllocateAnonymous(n);
    if (!a.ok()) Fail("anonymous allocation: " + a.status().ToString());
    const std::uint64_t seed = rng_();
    testing::FillPattern(*a, seed);
    anon_.push_back({a->data(), n, seed});
    return;
  }
  const std::size_t i = rng_() % anon_.size();
  if (!testing::CheckPattern({anon_[i].p, anon_[i].n}, anon_[i].seed)) Fail("anonymous block overwritten");
  if (!heap_->Free(anon_[i].p).ok()) Fail("free anonymous");
  anon_.erase(anon_.begin() + static_cast<std::ptrdiff_t>(i));
}

void Worker::Run() {
  Options o;
  o.mode = OpenMode::kOpen;
  auto h = Heap::Open(path_, o);
  if (!h.ok()) Fail("attach: " + h.status().ToString());
  heap_ = std::move(*h);
  data_fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
  if (data_fd_ < 0) Fail("open the backing file: " + std::string(std::strerror(errno)));
  Msg ready;
  ready.kind = kReady;
  Send(ready);
  for (;;) {
    const int dice = static_cast<int>(rng_() % 100);
    if (dice < 70) {
      NamedOp(static_cast<int>(rng_() % 100));
    } else if (dice < 80) {
      LockOp();
    } else if (dice < 86) {
      HoldOp();
    } else {
      AnonOp();
    }
  }
}

// ----------------------------------------------------------------- parent

struct Config {
  int rounds = 1000;
  std::uint64_t seed = 0;
  std::string dir;
  bool verbose = false;
  bool rename_over_existing = true;
  bool kill_in_attach = true;
  bool release_changed_holds = true;
};

struct Totals {
  std::uint64_t committed = 0;
  std::uint64_t in_flight_old = 0;  // announced, not reported, found not done
  std::uint64_t in_flight_new = 0;  // announced, not reported, found done
  std::uint64_t killed_before_ready = 0;
};

bool Matches(Heap& heap, const Model& want, std::string* why) {
  auto list = heap.List();
  if (list.size() != want.size()) {
    *why = "heap has " + std::to_string(list.size()) + " objects, model " + std::to_string(want.size());
    for (const auto& info : list) {
      if (!want.count(info.name)) *why += "; unexpected " + info.name.substr(0, 12);
    }
    for (const auto& [name, o] : want) {
      if (heap.Find(name).code() == Code::kNotFound) *why += "; missing " + name.substr(0, 12);
    }
    return false;
  }
  for (const ObjectInfo& info : list) {
    auto it = want.find(info.name);
    if (it == want.end()) {
      *why = "unexpected object " + info.name;
      return false;
    }
    auto f = heap.Find(info.name);
    if (!f.ok()) {
      *why = "find " + info.name + ": " + f.status().ToString();
      return false;
    }
    std::vector<std::byte> bytes = Expected(it->second);
    if (f->size() != bytes.size()) {
      *why =
          info.name.substr(0, 12) + ": size " + std::to_string(f->size()) + ", model " + std::to_string(bytes.size());
      return false;
    }
    if (!SameBytes(*f, bytes)) {
      std::size_t at = 0;
      while (at < bytes.size() && (*f)[at] == bytes[at]) ++at;
      *why = info.name.substr(0, 12) + ": contents differ at byte " + std::to_string(at);
      return false;
    }
    if (info.type != it->second.type) {
      *why = info.name.substr(0, 12) + ": type '" + info.type + "', model '" + it->second.type + "'";
      return false;
    }
  }
  return true;
}

int g_round = -1;
std::uint64_t g_seed = 0;

void OnAlarm(int) {
  char msg[200];
  int n = std::snprintf(msg, sizeof(msg),
                        "crash_harness: FAILED in round %d (seed %llu): attach after the kill hung for 30 s\n", g_round,
                        static_cast<unsigned long long>(g_seed));
  if (n > 0) (void)!::write(2, msg, static_cast<std::size_t>(n));
  ::_exit(1);
}

class Harness {
 public:
  explicit Harness(Config c) : cfg_(std::move(c)), rng_(cfg_.seed) {}
  int Main();

 private:
  bool Round(int round);
  bool Fail(int round, const std::string& what) {
    std::fprintf(stderr,
                 "crash_harness: FAILED in round %d (seed %llu): %s\n"
                 "  heap kept at %s; replay with: crash_harness --seed %llu --rounds %d\n",
                 round, static_cast<unsigned long long>(cfg_.seed), what.c_str(), path_.c_str(),
                 static_cast<unsigned long long>(cfg_.seed), round + 1);
    return false;
  }

  Config cfg_;
  std::mt19937_64 rng_;
  std::string path_;
  Model model_;
  Totals totals_;
};

bool Harness::Round(int round) {
  testing::Pipe pipe;
  const std::uint64_t worker_seed = Mix64(cfg_.seed ^ Mix64(static_cast<std::uint64_t>(round)));
  pid_t pid = ::fork();
  if (pid < 0) return Fail(round, "fork failed");
  if (pid == 0) {
    pipe.CloseRead();
    Worker(path_, model_, worker_seed, pipe.write_fd(), cfg_.rename_over_existing, cfg_.release_changed_holds).Run();
  }
  pipe.CloseWrite();
  // When to kill: usually 0-20 ms after the worker attached, sometimes
  // 0-20 ms after fork (often inside attach itself), sometimes at once.
  const int mode = static_cast<int>(rng_() % 100);
  const bool from_fork = cfg_.kill_in_attach && mode < 15;
  std::int64_t delay_us = (mode < 5 || mode % 10 == 9) ? 0 : static_cast<std::int64_t>(rng_() % 20001);
  auto start = std::chrono::steady_clock::now();
  bool ready = false, dead = false;
  std::optional<Msg> pending;
  std::string failure;
  std::vector<char> buf;
  auto drain = [&](int timeout_ms) {  // reads what is there; false at EOF
    struct pollfd pfd {
      pipe.read_fd(), POLLIN, 0
    };
    if (::poll(&pfd, 1, timeout_ms) <= 0) return true;
    char tmp[sizeof(Msg) * 32];
    ssize_t n = ::read(pipe.read_fd(), tmp, sizeof(tmp));
    if (n <= 0) return n < 0 && errno == EINTR;
    buf.insert(buf.end(), tmp, tmp + n);
    std::size_t used = 0;
    for (; buf.size() - used >= sizeof(Msg); used += sizeof(Msg)) {
      Msg m;
      std::memcpy(&m, buf.data() + used, sizeof(Msg));
      if (m.kind == kReady) {
        ready = true;
        if (!from_fork) start = std::chrono::steady_clock::now();
      } else if (m.kind == kBegin) {
        pending = m;
      } else if (m.kind == kCommit) {
        if (!pending || pending->serial != m.serial) failure = "commit without its announcement";
        pending.reset();
        if (m.code == 0) {
          Apply(model_, m);
          ++totals_.committed;
        }
      } else if (m.kind == kFail) {
        failure = std::string("worker: ") + m.text;
      }
    }
    buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(used));
    return true;
  };
  for (;;) {
    if (!from_fork && !ready) {
      if (std::chrono::steady_clock::now() - start > std::chrono::seconds(30)) {
        failure = "worker did not attach within 30 s";
        break;
      }
      if (!drain(5)) break;
      continue;
    }
    auto left = delay_us -
                std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    if (left <= 0) break;
    if (!drain(static_cast<int>(std::min<std::int64_t>(left / 1000, 5)))) break;
  }
  ::kill(pid, SIGKILL);
  const auto eof_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!dead && std::chrono::steady_clock::now() < eof_deadline) dead = !drain(100);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!failure.empty()) return Fail(round, failure);
  if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
    return Fail(round, "worker exited by itself (status " + std::to_string(status) + ")");
  }
  if (!ready) ++totals_.killed_before_ready;

  // Recover and compare. A hang here is a failure too (SIGALRM handler).
  g_round = round;
  ::alarm(30);
  Options o;
  o.mode = OpenMode::kOpen;
  auto h = Heap::Open(path_, o);
  ::alarm(0);
  if (!h.ok()) return Fail(round, "attach after kill: " + h.status().ToString());
  Heap& heap = **h;
  auto problems = heap.CheckAttached();
  if (!problems.empty()) return Fail(round, "CheckAttached: " + problems.front());
  auto clients = heap.Clients();
  if (clients.size() != 1 || !clients[0].self) {
    return Fail(round, std::to_string(clients.size()) + " clients listed after recovery (dead worker not reaped)");
  }
  std::string why_old, why_new;
  if (Matches(heap, model_, &why_old)) {
    if (pending) ++totals_.in_flight_old;
  } else if (pending) {
    Model next = model_;
    Apply(next, *pending);
    if (!Matches(heap, next, &why_new)) {
      return Fail(round, std::string("interrupted ") + OpName(pending->op) + " of " + NameOf(pending->a).substr(0, 12) +
                             " left neither the old state (" + why_old + ") nor the new one (" + why_new + ")");
    }
    model_ = std::move(next);
    ++totals_.in_flight_new;
  } else {
    return Fail(round, "committed state lost: " + why_old);
  }
  if (heap.Stats().objects != model_.size()) return Fail(round, "Stats().objects disagrees with List()");
  // Every other client is dead and reaped, so nothing can hold an unlinked
  // object any more: records in use are exactly the named objects.
  const auto* sb = reinterpret_cast<const format::Superblock*>(heap.base());
  if (sb->records_live != model_.size()) {
    return Fail(round, std::to_string(sb->records_live - model_.size()) + " orphan records left after recovery");
  }
  if (cfg_.verbose) {
    std::fprintf(stderr, "round %d: killed after %lld us%s, %zu objects, in flight: %s\n", round,
                 static_cast<long long>(delay_us), from_fork ? " from fork" : "", model_.size(),
                 pending ? OpName(pending->op) : "-");
  }
  h->reset();
  if (round % 25 == 24) {
    auto check = Heap::Check(path_);
    if (!check.ok()) return Fail(round, "read-only check: " + check.status().ToString());
    if (!check->empty()) return Fail(round, "read-only check: " + check->front());
  }
  return true;
}

int Harness::Main() {
  g_seed = cfg_.seed;
  ::signal(SIGALRM, OnAlarm);
  std::filesystem::create_directories(cfg_.dir);
  char tmpl[4096];
  std::snprintf(tmpl, sizeof(tmpl), "%s/crash-harness-XXXXXX", cfg_.dir.c_str());
  if (!::mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  path_ = dir + "/crash.heap";
  std::printf("crash_harness: seed %llu, %d rounds, heap %s\n", static_cast<unsigned long long>(cfg_.seed), cfg_.rounds,
              path_.c_str());
  std::fflush(stdout);
  {
    Options o;
    o.mode = OpenMode::kCreate;
    o.max_size = 4ull << 30;
    auto h = Heap::Open(path_, o);
    if (!h.ok()) {
      std::fprintf(stderr, "crash_harness: cannot create %s: %s\n", path_.c_str(), h.status().ToString().c_str());
      return 1;
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < cfg_.rounds; ++r) {
    if (!Round(r)) return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::uint64_t recoveries = 0, file_size = 0;
  {
    auto h = Heap::Open(path_, {});
    if (h.ok()) {
      HeapStats st = (*h)->Stats();
      recoveries = st.recoveries;
      file_size = st.file_size;
    }
  }
  std::printf(
      "crash_harness: PASS %d rounds in %.1f s (seed %llu): %llu operations committed; at the kill %llu announced "
      "operations had not happened and %llu had; %llu kills before attach finished; %llu undo-log recoveries; "
      "%zu objects, heap %.1f MiB\n",
      cfg_.rounds, secs, static_cast<unsigned long long>(cfg_.seed), static_cast<unsigned long long>(totals_.committed),
      static_cast<unsigned long long>(totals_.in_flight_old), static_cast<unsigned long long>(totals_.in_flight_new),
      static_cast<unsigned long long>(totals_.killed_before_ready), static_cast<unsigned long long>(recoveries),
      model_.size(), static_cast<double>(file_size) / (1 << 20));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}

std::string DefaultDir() {
  std::error_code ec;
  if (std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) return "/dev/shm";
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

int Usage() {
  std::fprintf(stderr,
               "usage: crash_harness [--rounds N] [--seed S] [--dir DIR] [--verbose] [--rename-over-existing] "
               "[--kill-in-attach] [--release-changed-holds]\n");
  return 2;
}

}  // namespace
}  // namespace shmheap

int main(int argc, char** argv) {
  shmheap::Config cfg;
  cfg.seed = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) ^
             static_cast<std::uint64_t>(::getpid());
  cfg.dir = shmheap::DefaultDir();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--rounds") {
      const char* v = value();
      if (!v || (cfg.rounds = std::atoi(v)) <= 0) return shmheap::Usage();
    } else if (a == "--seed") {
      const char* v = value();
      if (!v) return shmheap::Usage();
      cfg.seed = std::strtoull(v, nullptr, 10);
    } else if (a == "--dir") {
      const char* v = value();
      if (!v) return shmheap::Usage();
      cfg.dir = v;
    } else if (a == "--verbose") {
      cfg.verbose = true;
    } else if (a == "--rename-over-existing") {
      cfg.rename_over_existing = true;
    } else if (a == "--kill-in-attach") {
      cfg.kill_in_attach = true;
    } else if (a == "--release-changed-holds") {
      cfg.release_changed_holds = true;
    } else {
      return shmheap::Usage();
    }
  }
  // The library warns at every recovery and reaping, which here is every
  // round: keep the output to the summary unless asked.
  if (!cfg.verbose) shmheap::Log()->set_level(spdlog::level::err);
  return shmheap::Harness(cfg).Main();
}
