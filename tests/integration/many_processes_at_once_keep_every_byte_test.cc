// Many processes at once, through the mount and through the library, on one
// heap: every file a process owns reads back exactly as that process last
// wrote it (by read(2), by mmap, by stat's size, in readdir), shared names
// that all of them create, rename and remove give only the errors POSIX
// allows, and afterwards the heap passes `shmheap check` and the daemon
// exits cleanly.
//
// Each process runs a fixed number of operations from a seeded generator,
// so a failure names its process, operation and step, and replays.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <shmheap/heap.hpp>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

constexpr int kFileWorkers = 4;
constexpr int kSteps = 1200;
constexpr int kOwnNames = 12;
constexpr int kSharedNames = 6;

// Fork with a deadline: a child stuck on a hung daemon dies of SIGALRM
// (exit status 128 + 14) instead of outliving the test and its mount.
pid_t Forked(const std::function<int()>& fn) {
  return Fork([&fn] {
    ::alarm(120);
    return fn();
  });
}

// Reports a broken expectation from a child and gives its exit status.
int Broken(int worker, int step, const std::string& what) {
  std::fprintf(stderr, "worker %d step %d: %s (last errno %d: %s)\n", worker, step, what.c_str(), errno,
               std::strerror(errno));
  return 1;
}

std::string Pattern(std::mt19937_64& rng, std::size_t len) {
  std::string s(len, '\0');
  for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

bool ReadAll(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  out->clear();
  char buf[16384];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out->append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return n == 0;
}

bool WriteWhole(const std::string& path, const std::string& data, int flags) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | flags, 0644);
  if (fd < 0) return false;
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      if (n == 0) errno = EIO;  // not a stale errno
      ::close(fd);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return ::close(fd) == 0;
}

// One process working through the mount. Its own names ("wW_K") no one
// else touches, so it knows what each must hold; the shared names ("sK")
// every process creates, renames and removes.
int FileWorker(const std::string& dir, int w) {
  std::mt19937_64 rng(1000 + static_cast<unsigned>(w));
  std::map<std::string, std::string> own;  // name -> expected contents
  auto own_name = [&](std::uint64_t k) { return "w" + std::to_string(w) + "_" + std::to_string(k % kOwnNames); };
  auto shared_name = [&](std::uint64_t k) { return "s" + std::to_string(k % kSharedNames); };
  auto path = [&](const std::string& n) { return dir + "/" + n; };
  auto gone_ok = [] { return errno == ENOENT; };
  // A shared name may also have been removed by the library client, which
  // the kernel learns of only when it asks: ESTALE, as over NFS.
  auto shared_gone_ok = [] { return errno == ENOENT || errno == ESTALE; };

  for (int step = 0; step < kSteps; ++step) {
    const std::string n = own_name(rng());
    const bool exists = own.count(n) != 0;
    switch (rng() % 12) {
      case 0: {  // replace the whole contents
        std::string data = Pattern(rng, rng() % 70000);
        if (!WriteWhole(path(n), data, O_TRUNC)) return Broken(w, step, "write " + n);
        own[n] = data;
        break;
      }
      case 1: {  // append
        std::string data = Pattern(rng, 1 + rng() % 9000);
        if (!WriteWhole(path(n), data, O_APPEND)) return Broken(w, step, "append " + n);
        own[n] += data;
        break;
      }
      case 2: {  // truncate, shorter or longer
        const std::size_t len = rng() % 80000;
        int rc = ::truncate(path(n).c_str(), static_cast<off_t>(len));
        if (exists ? rc != 0 : (rc == 0 || !gone_ok())) return Broken(w, step, "truncate " + n);
        if (exists) own[n].resize(len, '\0');
        break;
      }
      case 3: {  // rename onto another own name, replacing it
        const std::string to = own_name(rng());
        int rc = ::rename(path(n).c_str(), path(to).c_str());
        if (exists ? rc != 0 : (rc == 0 || !gone_ok())) return Broken(w, step, "rename " + n + " " + to);
        if (exists && to != n) {
          own[to] = own[n];
          own.erase(n);
        }
        break;
      }
      case 4: {  // unlink
        int rc = ::unlink(path(n).c_str());
        if (exists ? rc != 0 : (rc == 0 || !gone_ok())) return Broken(w, step, "unlink " + n);
        own.erase(n);
        break;
      }
      case 5: {  // read(2)
        std::string got;
        const bool ok = ReadAll(path(n), &got);
        if (exists ? !ok : (ok || !gone_ok())) return Broken(w, step, "read " + n);
        if (exists && got != own[n]) {
          return Broken(w, step, "read " + n + ": " + std::to_string(got.size()) + " bytes, expected " +
                                     std::to_string(own[n].size()));
        }
        break;
      }
      case 6: {  // a store through a shared mapping, then read back by read(2)
        if (!exists || own[n].empty()) break;
        int fd = ::open(path(n).c_str(), O_RDWR);
        if (fd < 0) return Broken(w, step, "open for mmap " + n);
        std::string& want = own[n];
        void* p = ::mmap(nullptr, want.size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) return Broken(w, step, "mmap " + n);
        if (std::memcmp(p, want.data(), want.size()) != 0) return Broken(w, step, "mapping of " + n + " differs");
        const std::size_t at = rng() % want.size();
        const std::string patch = Pattern(rng, std::min<std::size_t>(want.size() - at, 1 + rng() % 5000));
        std::memcpy(static_cast<char*>(p) + at, patch.data(), patch.size());
        want.replace(at, patch.size(), patch);
        if (::msync(p, want.size(), MS_SYNC) != 0) return Broken(w, step, "msync " + n);
        ::munmap(p, want.size());
        ::close(fd);
        break;
      }
      case 7: {  // stat
        struct stat st {};
        int rc = ::stat(path(n).c_str(), &st);
        if (exists ? rc != 0 : (rc == 0 || !gone_ok())) return Broken(w, step, "stat " + n);
        if (exists && static_cast<std::size_t>(st.st_size) != own[n].size()) {
          return Broken(w, step, "stat " + n + ": size " + std::to_string(st.st_size) + ", expected " +
                                     std::to_string(own[n].size()));
        }
        break;
      }
      case 8: {  // an extended attribute, set and read back
        const std::string v = Pattern(rng, 1 + rng() % 40);
        int rc = ::setxattr(path(n).c_str(), "user.tag", v.data(), v.size(), 0);
        if (exists ? rc != 0 : (rc == 0 || !gone_ok())) return Broken(w, step, "setxattr " + n);
        if (!exists) break;
        char buf[64];
        ssize_t got = ::getxattr(path(n).c_str(), "user.tag", buf, sizeof(buf));
        if (got != static_cast<ssize_t>(v.size()) || std::memcmp(buf, v.data(), v.size()) != 0) {
          return Broken(w, step, "getxattr " + n);
        }
        break;
      }
      case 9: {  // readdir shows exactly the own names that exist
        DIR* d = ::opendir(dir.c_str());
        if (!d) return Broken(w, step, "opendir");
        std::set<std::string> seen, want;
        const std::string prefix = "w" + std::to_string(w) + "_";
        errno = 0;
        while (struct dirent* e = ::readdir(d)) {
          const std::string name = e->d_name;
          if (name.rfind(prefix, 0) == 0 && !seen.insert(name).second) return Broken(w, step, "readdir twice: " + name);
        }
        const bool failed = errno != 0;
        ::closedir(d);
        if (failed) return Broken(w, step, "readdir");
        for (const auto& [name, data] : own) want.insert(name);
        if (seen != want) {
          std::string got;
          for (const auto& name : seen) got += name + " ";
          return Broken(w, step, "readdir shows " + got);
        }
        break;
      }
      default: {  // the shared names: create, rename, remove, read
        const std::string s = shared_name(rng()), t = shared_name(rng());
        int rc = 0;
        switch (rng() % 4) {
          case 0:
            if (!WriteWhole(path(s), Pattern(rng, rng() % 20000), O_TRUNC) && !shared_gone_ok()) rc = -1;
            break;
          case 1:
            if (::rename(path(s).c_str(), path(t).c_str()) != 0 && !shared_gone_ok()) rc = -1;
            break;
          case 2:
            if (::unlink(path(s).c_str()) != 0 && !shared_gone_ok()) rc = -1;
            break;
          default: {
            std::string got;
            if (!ReadAll(path(s), &got) && !shared_gone_ok()) rc = -1;
          }
        }
        if (rc != 0) return Broken(w, step, "shared name " + s);
      }
    }
  }
  // Finally, every own name once more.
  for (int k = 0; k < kOwnNames; ++k) {
    const std::string n = own_name(static_cast<std::uint64_t>(k));
    std::string got;
    const bool ok = ReadAll(path(n), &got);
    if (own.count(n) ? (!ok || got != own[n]) : ok) return Broken(w, kSteps, "final read of " + n);
  }
  return 0;
}

// One process attached through the library: its own objects ("libK"),
// allocated, replaced, written under a WRITE lock and removed; and the
// shared names, replaced or removed under the file users' feet.
int LibraryWorker(const std::string& heap_file, const std::string& dir) {
  const int w = kFileWorkers;
  Options o;
  o.mode = OpenMode::kOpen;
  auto h = Heap::Open(heap_file, o);
  if (!h.ok()) return Broken(w, 0, "attach: " + h.status().ToString());
  Heap& heap = **h;
  std::mt19937_64 rng(77);
  std::map<std::string, std::string> own;
  auto bytes = [](const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); };
  for (int step = 0; step < kSteps; ++step) {
    const std::string n = "lib" + std::to_string(rng() % kOwnNames);
    const bool exists = own.count(n) != 0;
    switch (rng() % 5) {
      case 0: {
        std::string data = Pattern(rng, 1 + rng() % 50000);
        Status s = exists ? heap.Replace(n, bytes(data)) : heap.CreateWith(n, bytes(data), ObjectAttr{}).status();
        if (!s.ok()) return Broken(w, step, "store " + n + ": " + s.ToString());
        own[n] = data;
        break;
      }
      case 1: {
        Status s = heap.Remove(n);
        if (exists ? !s.ok() : s.code() != Code::kNotFound) return Broken(w, step, "remove " + n + ": " + s.ToString());
        own.erase(n);
        break;
      }
      case 2: {  // a write under the object's WRITE lock
        if (!exists) break;
        auto g = heap.Lock(n, LockMode::kWrite);
        if (!g.ok()) return Broken(w, step, "lock " + n + ": " + g.status().ToString());
        std::string& want = own[n];
        const std::size_t at = rng() % want.size();
        const std::string patch = Pattern(rng, std::min<std::size_t>(want.size() - at, 100));
        std::memcpy(g->data().data() + at, patch.data(), patch.size());
        want.replace(at, patch.size(), patch);
        break;
      }
      case 3: {
        auto id = heap.Lookup(n);
        if (!exists) {
          if (id.code() != Code::kNotFound) return Broken(w, step, "lookup of a removed " + n);
          break;
        }
        if (!id.ok()) return Broken(w, step, "lookup " + n + ": " + id.status().ToString());
        std::string got;
        auto r = heap.Read(*id, 0, 1 << 20, [&](std::span<const std::byte> b) {
          got.assign(reinterpret_cast<const char*>(b.data()), b.size());
        });
        if (!r.ok()) return Broken(w, step, "read " + n + ": " + r.status().ToString());
        if (got != own[n]) return Broken(w, step, "read " + n + " differs (" + std::to_string(got.size()) + " bytes, expected " + std::to_string(own[n].size()) + ")");
        break;
      }
      default: {
        const std::string s = "s" + std::to_string(rng() % kSharedNames);
        Status st = rng() % 2 ? heap.Remove(s) : heap.Replace(s, bytes(Pattern(rng, rng() % 3000)));
        if (!st.ok() && st.code() != Code::kNotFound) return Broken(w, step, "shared " + s + ": " + st.ToString());
      }
    }
  }
  // The next open through the mount sees every library write.
  for (int k = 0; k < kOwnNames; ++k) {
    const std::string n = "lib" + std::to_string(k);
    std::string got;
    const bool ok = ReadAll(dir + "/" + n, &got);
    if (own.count(n) ? (!ok || got != own[n]) : ok) {
      std::size_t first = 0;
      const std::string& want = own.count(n) ? own[n] : std::string();
      while (first < got.size() && first < want.size() && got[first] == want[first]) ++first;
      return Broken(w, kSteps,
                    "final read through the mount of " + n + (ok ? " read " : " failed after ") +
                        std::to_string(got.size()) + " bytes, expected " +
                        (own.count(n) ? std::to_string(want.size()) : std::string("none")) +
                        ", first difference at " + std::to_string(first));
    }
  }
  return 0;
}

class ManyProcessesAtOnce : public MountFixture {
 protected:
  // The heap's chunk count (`shmheap stat`), or -1.
  long Allocations() {
    auto r = Sh(CliPath() + " stat " + HeapFile("h") + " | awk '/^allocations:/ {print $2}'");
    return r.status == 0 && !r.output.empty() ? std::atol(r.output.c_str()) : -1;
  }
};

// (It found the daemon handing one node id to two objects when the heap
// reused an inode number: node_id.h. Two copies of it at once failed within
// 40 runs then.)
TEST_F(ManyProcessesAtOnce, EveryProcessReadsBackWhatItWroteAndTheHeapChecksClean) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h")).status, 0);
  std::vector<pid_t> workers;
  for (int w = 0; w < kFileWorkers; ++w) workers.push_back(Forked([&, w] { return FileWorker(Mnt("h"), w); }));
  workers.push_back(Forked([&] { return LibraryWorker(HeapFile("h"), Mnt("h")); }));
  for (std::size_t i = 0; i < workers.size(); ++i) {
    EXPECT_EQ(Wait(workers[i]), 0) << "worker " << i << " (its complaint is on stderr above)";
  }
  auto check = Sh(CliPath() + " check " + HeapFile("h"));
  EXPECT_EQ(check.status, 0) << check.output;
}

// O_APPEND: each write(2) lands whole at the end of the file, whichever
// process made it (POSIX: the offset is set and the write made as one
// atomic step). Records of four processes interleave, but none is torn or
// lost, and each process's records keep their order.
TEST_F(ManyProcessesAtOnce, ConcurrentAppendsLandWholeAtTheEnd) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h")).status, 0);
  constexpr int kWriters = 4, kRecords = 400;
  constexpr std::size_t kRecord = 100;
  const std::string log = Mnt("h/log");
  std::vector<pid_t> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.push_back(Forked([&, w] {
      int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
      if (fd < 0) return Broken(w, 0, "open for append");
      for (int k = 0; k < kRecords; ++k) {
        char head[40];
        std::snprintf(head, sizeof(head), "writer %d record %06d", w, k);
        std::string rec(head);
        rec.resize(kRecord - 1, ' ');
        rec += '\n';
        if (::write(fd, rec.data(), kRecord) != static_cast<ssize_t>(kRecord)) return Broken(w, k, "append");
      }
      return ::close(fd) == 0 ? 0 : Broken(w, kRecords, "close");
    }));
  }
  for (pid_t p : writers) EXPECT_EQ(Wait(p), 0);
  std::string all;
  ASSERT_TRUE(ReadAll(log, &all));
  ASSERT_EQ(all.size(), kWriters * kRecords * kRecord);
  std::vector<int> next(kWriters, 0);
  for (std::size_t at = 0; at < all.size(); at += kRecord) {
    int w = -1, k = -1;
    ASSERT_EQ(std::sscanf(all.c_str() + at, "writer %d record %d", &w, &k), 2) << "torn record at " << at;
    ASSERT_TRUE(w >= 0 && w < kWriters) << "at " << at;
    EXPECT_EQ(k, next[w]++) << "writer " << w << "'s records out of order at " << at;
    EXPECT_EQ(all[at + kRecord - 1], '\n') << "record at " << at << " is not whole";
  }
  for (int w = 0; w < kWriters; ++w) EXPECT_EQ(next[w], kRecords);
}

// rename(2) over an existing name is atomic: a reader opening the name
// while a writer keeps replacing it finds a file every time, and reads one
// whole version (old or new), never a mix and never ENOENT.
TEST_F(ManyProcessesAtOnce, RenameOverIsAtomicForConcurrentReaders) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h")).status, 0);
  auto version_text = [](int v) {
    std::string s(1000 + static_cast<std::size_t>(v) * 7, static_cast<char>('a' + v % 26));
    char head[16];
    std::snprintf(head, sizeof(head), "%08d", v);
    s.replace(0, 8, head);
    return s;
  };
  const std::string doc = Mnt("h/doc");
  ASSERT_TRUE(WriteWhole(doc, version_text(0), O_TRUNC));
  const long chunks_at_start = Allocations();
  ASSERT_GT(chunks_at_start, 0);
  constexpr int kVersions = 300;
  pid_t writer = Forked([&] {
    for (int v = 1; v <= kVersions; ++v) {
      const std::string tmp = Mnt("h/doc.tmp");
      if (!WriteWhole(tmp, version_text(v), O_TRUNC)) return Broken(0, v, "write doc.tmp");
      if (::rename(tmp.c_str(), doc.c_str()) != 0) return Broken(0, v, "rename over doc");
    }
    return 0;
  });
  std::vector<pid_t> readers;
  for (int r = 1; r <= 2; ++r) {
    readers.push_back(Forked([&, r] {
      int last = 0;
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      for (int i = 0; last < kVersions; ++i) {
        if (std::chrono::steady_clock::now() > give_up) return Broken(r, i, "the last version never came");
        std::string got;
        if (!ReadAll(doc, &got)) return Broken(r, i, "open or read of doc");
        const int v = got.size() >= 8 ? std::atoi(got.substr(0, 8).c_str()) : -1;
        if (v < 0 || v > kVersions || got != version_text(v)) {
          return Broken(r, i, "doc is no whole version (" + std::to_string(got.size()) + " bytes)");
        }
        if (v < last) return Broken(r, i, "doc went back from version " + std::to_string(last));
        last = v;
      }
      return 0;
    }));
  }
  EXPECT_EQ(Wait(writer), 0);
  for (pid_t p : readers) EXPECT_EQ(Wait(p), 0);
  auto check = Sh(CliPath() + " check " + HeapFile("h"));
  EXPECT_EQ(check.status, 0) << check.output;
  // The replaced versions kept for the kernel's references are freed once
  // it forgets them: the heap holds about as many chunks as with doc alone
  // (a leak would leave one per version, 300).
  long chunks = -1;
  for (int i = 0; i < 100; ++i) {
    chunks = Allocations();
    if (chunks >= 0 && chunks <= chunks_at_start + 4) break;
    ::usleep(50000);
  }
  EXPECT_GE(chunks, 0) << "shmheap stat gave no chunk count";
  EXPECT_LE(chunks, chunks_at_start + 4) << "replaced versions were never freed";
}

// kill -9 of the daemon while four processes write, fsync and close files
// as fast as they can: after a new mount, every file whose write, fsync and
// close had all returned holds exactly those bytes (the file a process was
// rewriting at the kill may hold anything), and the heap checks clean.
TEST_F(ManyProcessesAtOnce, KillNineOfTheDaemonLosesNoFileWhoseFsyncReturned) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h")).status, 0);
  constexpr int kWriters = 4, kNames = 16;
  auto contents = [](int w, int i) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(w) * 1000003u + static_cast<std::uint64_t>(i));
    return Pattern(rng, 1 + rng() % 60000);
  };
  auto journal = [&](int w) { return dir_->File("journal" + std::to_string(w)); };
  std::vector<pid_t> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.push_back(Forked([&, w] {
      // "start N I" before the file is opened, "done N I" once fsync and
      // close returned; the journal lives outside the mount.
      FILE* j = std::fopen(journal(w).c_str(), "w");
      if (!j) return Broken(w, 0, "journal");
      for (int i = 0;; ++i) {
        const int n = i % kNames;
        std::fprintf(j, "start %d %d\n", n, i);
        std::fflush(j);
        const std::string data = contents(w, i);
        int fd = ::open(Mnt("h/w" + std::to_string(w) + "_" + std::to_string(n)).c_str(),
                        O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) break;
        bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) && ::fsync(fd) == 0;
        ok = ::close(fd) == 0 && ok;
        if (!ok) break;
        std::fprintf(j, "done %d %d\n", n, i);
        std::fflush(j);
      }
      std::fclose(j);
      return 0;  // the daemon is gone
    }));
  }
  // Kill once the writers have finished about two files each (or after 30 s).
  auto done_lines = [&] {
    int n = 0;
    for (int w = 0; w < kWriters; ++w) {
      n += static_cast<int>(Occurrences(ReadFile(journal(w)), "done "));
    }
    return n;
  };
  for (int i = 0; i < 300 && done_lines() < 2 * kWriters * kNames; ++i) ::usleep(100000);
  daemon_->Kill();
  for (pid_t p : writers) EXPECT_EQ(Wait(p), 0);
  Remount();
  if (HasFatalFailure()) return;
  int checked = 0;
  for (int w = 0; w < kWriters; ++w) {
    // name -> (last started write, whether it finished)
    std::map<int, std::pair<int, bool>> last;
    FILE* j = std::fopen(journal(w).c_str(), "r");
    ASSERT_NE(j, nullptr);
    char what[8];
    int n, i;
    while (std::fscanf(j, "%7s %d %d", what, &n, &i) == 3) {
      if (std::strcmp(what, "start") == 0) last[n] = {i, false};
      if (std::strcmp(what, "done") == 0 && last[n].first == i) last[n].second = true;
    }
    std::fclose(j);
    for (const auto& [name, state] : last) {
      if (!state.second) continue;  // in flight at the kill
      std::string got;
      const std::string path = Mnt("h/w" + std::to_string(w) + "_" + std::to_string(name));
      ASSERT_TRUE(ReadAll(path, &got)) << path;
      EXPECT_TRUE(got == contents(w, state.first)) << path << ": " << got.size() << " bytes after write "
                                                   << state.first;
      ++checked;
    }
  }
  EXPECT_GE(checked, kWriters * kNames / 2) << "the writers got too little done before the kill to prove much";
  auto check = Sh(CliPath() + " check " + HeapFile("h"));
  EXPECT_EQ(check.status, 0) << check.output;
}

}  // namespace
}  // namespace shmheap::testing
