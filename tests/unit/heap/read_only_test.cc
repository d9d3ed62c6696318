// A read-only client (OpenMode::kReadOnly) maps the heap without write
// access. Every call of the public API must then either work (the reads) or
// fail with a status (the writes): a store into the mapping would kill the
// process with SIGSEGV, as ListXattr once did. Each call runs in a child of
// its own, so one crash names its call and spares the others.
#include <shmheap/heap.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace shmheap {
namespace {

std::span<const std::byte> Bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

// What a call must give a read-only client.
enum class Expect { kWorks, kRefused, kEither };

struct Call {
  const char* what;
  Expect expect;
  std::function<Status(Heap&, ObjectId)> run;
};

template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.ok() ? Status::Ok() : r.status();
}

std::vector<Call> Calls() {
  const OwnerToken owner = 7;
  return {
      {"Allocate", Expect::kRefused, [](Heap& h, ObjectId) { return StatusOf(h.Allocate("new", 8)); }},
      {"AllocateAnonymous", Expect::kRefused, [](Heap& h, ObjectId) { return StatusOf(h.AllocateAnonymous(8)); }},
      {"Free", Expect::kRefused,
       [](Heap& h, ObjectId) {
         auto f = h.Find("obj");
         return f.ok() ? h.Free(f->data()) : f.status();
       }},
      {"Realloc", Expect::kRefused,
       [](Heap& h, ObjectId) {
         auto f = h.Find("obj");
         return f.ok() ? StatusOf(h.Realloc(f->data(), 4096)) : f.status();
       }},
      {"Find", Expect::kWorks, [](Heap& h, ObjectId) { return StatusOf(h.Find("obj")); }},
      {"Lookup", Expect::kWorks, [](Heap& h, ObjectId) { return StatusOf(h.Lookup("obj")); }},
      {"Stat(name)", Expect::kWorks, [](Heap& h, ObjectId) { return StatusOf(h.Stat("obj")); }},
      {"Stat(id)", Expect::kWorks, [](Heap& h, ObjectId id) { return StatusOf(h.Stat(id)); }},
      {"Version", Expect::kWorks, [](Heap& h, ObjectId) { return StatusOf(h.Version("obj")); }},
      {"IsCurrent", Expect::kWorks, [](Heap& h, ObjectId) { return StatusOf(h.IsCurrent("obj", 1)); }},
      {"Replace", Expect::kRefused, [](Heap& h, ObjectId) { return h.Replace("obj", Bytes("x")); }},
      {"Remove", Expect::kRefused, [](Heap& h, ObjectId) { return h.Remove("obj"); }},
      {"Rename", Expect::kRefused, [](Heap& h, ObjectId) { return h.Rename("obj", "other"); }},
      {"SetType(name)", Expect::kRefused, [](Heap& h, ObjectId) { return h.SetType("obj", "t"); }},
      {"List", Expect::kWorks,
       [](Heap& h, ObjectId) { return h.List().size() == 2 ? Status::Ok() : Status::Corruption("list"); }},
      {"Lock", Expect::kRefused, [=](Heap& h, ObjectId) { return StatusOf(h.Lock("obj", LockMode::kRead, owner)); }},
      {"TryLock", Expect::kRefused,
       [=](Heap& h, ObjectId) { return StatusOf(h.TryLock("obj", LockMode::kRead, owner)); }},
      {"LockRaw", Expect::kRefused,
       [=](Heap& h, ObjectId) { return StatusOf(h.LockRaw("obj", LockMode::kWrite, owner, 0)); }},
      {"UnlockByName", Expect::kRefused, [=](Heap& h, ObjectId) { return h.UnlockByName("obj", owner); }},
      {"Unlock", Expect::kRefused, [=](Heap& h, ObjectId id) { return h.Unlock(id, owner); }},
      {"Create", Expect::kRefused, [](Heap& h, ObjectId) { return StatusOf(h.Create("new", 8, ObjectAttr{})); }},
      {"CreateWith", Expect::kRefused,
       [](Heap& h, ObjectId) { return StatusOf(h.CreateWith("new", Bytes("x"), ObjectAttr{})); }},
      {"Read", Expect::kWorks,
       [](Heap& h, ObjectId id) {
         std::string got;
         auto n = h.Read(id, 0, 64, [&](std::span<const std::byte> b) {
           got.assign(reinterpret_cast<const char*>(b.data()), b.size());
         });
         if (!n.ok()) return n.status();
         return got == "hello" ? Status::Ok() : Status::Corruption("read '" + got + "'");
       }},
      {"Write", Expect::kRefused, [](Heap& h, ObjectId id) { return StatusOf(h.Write(id, 0, Bytes("x"))); }},
      {"WriteVia", Expect::kRefused,
       [](Heap& h, ObjectId id) { return StatusOf(h.WriteVia(id, 0, 1, [](std::uint64_t) { return Status::Ok(); })); }},
      {"Truncate", Expect::kRefused, [](Heap& h, ObjectId id) { return h.Truncate(id, 1); }},
      {"Trim", Expect::kRefused, [](Heap& h, ObjectId id) { return h.Trim(id); }},
      {"SetAttr", Expect::kRefused,
       [](Heap& h, ObjectId id) {
         Heap::AttrChange c;
         c.mode = 0600;
         return StatusOf(h.SetAttr(id, c));
       }},
      {"SetType(id)", Expect::kRefused, [](Heap& h, ObjectId id) { return h.SetType(id, "t"); }},
      {"Ref", Expect::kRefused, [](Heap& h, ObjectId id) { return h.Ref(id); }},
      {"Unref", Expect::kRefused, [](Heap& h, ObjectId id) { return h.Unref(id); }},
      {"GetXattr", Expect::kWorks, [](Heap& h, ObjectId id) { return StatusOf(h.GetXattr(id, "user.a")); }},
      {"ListXattr", Expect::kWorks, [](Heap& h, ObjectId id) { return StatusOf(h.ListXattr(id)); }},
      {"SetXattr", Expect::kRefused, [](Heap& h, ObjectId id) { return h.SetXattr(id, "user.b", "2", 0); }},
      {"RemoveXattr", Expect::kRefused, [](Heap& h, ObjectId id) { return h.RemoveXattr(id, "user.a"); }},
      {"LockId", Expect::kRefused, [=](Heap& h, ObjectId id) { return h.LockId(id, LockMode::kRead, owner, 0); }},
      {"LockHolders", Expect::kWorks, [](Heap& h, ObjectId id) { return StatusOf(h.LockHolders(id)); }},
      {"LockWaiters", Expect::kWorks,
       [](Heap& h, ObjectId) { return h.LockWaiters().empty() ? Status::Ok() : Status::Corruption("waiters"); }},
      {"Downgrade", Expect::kRefused, [=](Heap& h, ObjectId id) { return h.Downgrade(id, owner); }},
      {"IdOf", Expect::kWorks, [](Heap& h, ObjectId id) { return StatusOf(h.IdOf(id.inode)); }},
      {"ListFrom", Expect::kWorks,
       [](Heap& h, ObjectId) {
         std::uint64_t next = 0;
         return h.ListFrom(0, 10, &next).size() == 2 ? Status::Ok() : Status::Corruption("list from");
       }},
      {"ObjectCount", Expect::kWorks,
       [](Heap& h, ObjectId) { return h.ObjectCount() == 2 ? Status::Ok() : Status::Corruption("count"); }},
      {"SemCreate", Expect::kRefused, [](Heap& h, ObjectId) { return h.SemCreate("sem2", 1); }},
      {"SemWait", Expect::kRefused,
       [](Heap& h, ObjectId) { return h.SemWait("sem", std::chrono::nanoseconds(0)); }},
      {"SemTryWait", Expect::kRefused, [](Heap& h, ObjectId) { return h.SemTryWait("sem"); }},
      {"SemPost", Expect::kRefused, [](Heap& h, ObjectId) { return h.SemPost("sem"); }},
      {"SemValue", Expect::kWorks,
       [](Heap& h, ObjectId) {
         auto v = h.SemValue("sem");
         return !v.ok() ? v.status() : *v == 3 ? Status::Ok() : Status::Corruption("value");
       }},
      {"Flush", Expect::kEither, [](Heap& h, ObjectId) { return h.Flush(); }},
      {"Clients", Expect::kWorks, [](Heap& h, ObjectId) { return h.Clients(), Status::Ok(); }},
      {"Stats", Expect::kWorks, [](Heap& h, ObjectId) { return h.Stats(), Status::Ok(); }},
      {"CheckAttached", Expect::kWorks,
       [](Heap& h, ObjectId) {
         auto p = h.CheckAttached();
         return p.empty() ? Status::Ok() : Status::Corruption(p.front());
       }},
      {"ReapDeadClients", Expect::kWorks, [](Heap& h, ObjectId) { return h.ReapDeadClients(), Status::Ok(); }},
  };
}

TEST(ReadOnlyClient, EveryCallWorksOrIsRefusedAndNoneCrashes) {
  testing::TempDir dir;
  const std::string path = dir.File("ro.heap");
  ObjectId id;
  {
    auto h = Heap::Open(path, Options{});
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    auto made = (*h)->CreateWith("obj", Bytes("hello"), ObjectAttr{});
    ASSERT_TRUE(made.ok());
    id = *made;
    ASSERT_TRUE((*h)->SetXattr(id, "user.a", "1", 0).ok());
    ASSERT_TRUE((*h)->SemCreate("sem", 3).ok());
  }
  for (const Call& call : Calls()) {
    SCOPED_TRACE(call.what);
    pid_t child = testing::Fork([&] {
      Options ro;
      ro.mode = OpenMode::kReadOnly;
      auto h = Heap::Open(path, ro);
      if (!h.ok()) return 2;
      const Status s = call.run(**h, id);
      switch (call.expect) {
        case Expect::kWorks: return s.ok() ? 0 : 3;
        case Expect::kRefused: return s.Is(Code::kPermission) ? 0 : 4;
        case Expect::kEither: return 0;
      }
      return 5;
    });
    const int rc = testing::Wait(child);
    EXPECT_EQ(rc, 0) << "2: no read-only attach; 3: a read failed; 4: a write was not refused with kPermission; "
                        "above 128: killed by signal "
                     << rc - 128;
  }
  // And nothing changed.
  auto h = Heap::Open(path, Options{});
  ASSERT_TRUE(h.ok());
  auto obj = (*h)->Stat("obj");
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(obj->size, 5u);
  EXPECT_EQ((*h)->ObjectCount(), 2u);
  auto p = (*h)->CheckAttached();
  EXPECT_TRUE(p.empty()) << p.front();
}

}  // namespace
}  // namespace shmheap
