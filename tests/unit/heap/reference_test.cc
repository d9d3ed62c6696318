// References between heaps by name (<shmheap/reference.hpp>, the C
// shmheap_ref_* calls): target syntax, atomic creation, resolution within a
// heap and across heaps (attaching the target heap), chains, loops and
// dangling references.
#include <shmheap/reference.hpp>

#include <gtest/gtest.h>
#include <shmheap.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tests/support/test_support.h"

namespace shmheap {
namespace {

std::span<const std::byte> Bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }
std::string Text(std::span<const std::byte> b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

class ReferenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = OpenHeap("a");
    b_ = OpenHeap("b");
  }
  std::unique_ptr<Heap> OpenHeap(const std::string& name) {
    Options o;
    o.max_size = 64ull << 20;
    auto h = Heap::Open(dir_.File(name + ".heap"), o);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? std::move(*h) : nullptr;
  }
  void Put(Heap& h, const std::string& name, const std::string& bytes) {
    ASSERT_TRUE(h.CreateWith(name, Bytes(bytes), ObjectAttr{}).ok());
  }
  std::uint32_t ClientsOf(const std::string& heap) {
    auto h = OpenHeap(heap);  // counts itself
    return static_cast<std::uint32_t>(h->Clients().size()) - 1;
  }
  testing::TempDir dir_;
  std::unique_ptr<Heap> a_, b_;
};

TEST(ReferenceTargetTest, OnlyObjectAndSiblingHeapFormsAreReachable) {
  auto same = ParseReferenceTarget("obj");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->heap, "");
  EXPECT_EQ(same->object, "obj");
  auto other = ParseReferenceTarget("../h/obj");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->heap, "h");
  EXPECT_EQ(other->object, "obj");
  for (const char* t : {"/etc/passwd", "a/b", "../../h/o", "../h/", "../h", "../h/o/p", "..", "../../x", "./o"}) {
    EXPECT_EQ(ParseReferenceTarget(t).code(), Code::kNotSupported) << t;
  }
  EXPECT_EQ(ParseReferenceTarget("").code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseReferenceTarget(std::string(4096, 'x')).code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseReferenceTarget(std::string("a\0b", 3)).code(), Code::kInvalidArgument);
}

TEST_F(ReferenceTest, CreateStoresTheTargetAsASymlinkObject) {
  ASSERT_TRUE(CreateReference(*a_, "ref", "../b/obj").ok());
  auto info = a_->Stat("ref");
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(IsReferenceMode(info->attr.mode));
  EXPECT_EQ(info->size, 8u);
  auto t = ReadReference(*a_, "ref");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "../b/obj");
  EXPECT_EQ(CreateReference(*a_, "ref", "x").code(), Code::kAlreadyExists);
  EXPECT_EQ(CreateReference(*a_, "abs", "/etc/passwd").code(), Code::kNotSupported);
  EXPECT_EQ(a_->Stat("abs").code(), Code::kNotFound) << "a refused reference leaves nothing behind";
  Put(*a_, "plain", "data");
  EXPECT_EQ(ReadReference(*a_, "plain").code(), Code::kInvalidArgument);
  // chmod-style changes keep the reference a reference.
  ASSERT_TRUE(a_->SetAttr(info->id, Heap::AttrChange{0600, std::nullopt, std::nullopt, {}, {}}).ok());
  EXPECT_TRUE(IsReferenceMode(a_->Stat("ref")->attr.mode));
}

TEST_F(ReferenceTest, ResolvesWithinTheHeap) {
  Put(*a_, "target", "within");
  ASSERT_TRUE(CreateReference(*a_, "r1", "target").ok());
  ASSERT_TRUE(CreateReference(*a_, "r2", "r1").ok());
  auto r = Resolve(*a_, "r2");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attached, nullptr);
  EXPECT_EQ(r->heap, a_.get());
  EXPECT_EQ(r->object, "target");
  EXPECT_EQ(Text(r->data), "within");
  auto self = Resolve(*a_, "target");  // not a reference: itself
  ASSERT_TRUE(self.ok());
  EXPECT_EQ(self->data.data(), a_->Find("target")->data());
}

TEST_F(ReferenceTest, ResolvesAcrossHeapsAndDetachesWhenDone) {
  Put(*b_, "obj", "in heap b");
  ASSERT_TRUE(CreateReference(*a_, "ref", "../b/obj").ok());
  b_.reset();  // heap b need not be attached by anyone
  {
    auto r = Resolve(*a_, "ref");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_NE(r->attached, nullptr);
    EXPECT_EQ(r->heap, r->attached.get());
    EXPECT_EQ(r->heap->path(), dir_.File("b.heap"));
    EXPECT_EQ(Text(r->data), "in heap b");
    EXPECT_EQ(ClientsOf("b"), 1u) << "Resolve attached heap b";
  }
  EXPECT_EQ(ClientsOf("b"), 0u) << "and detached it with the result";
}

TEST_F(ReferenceTest, ChainBackToTheFirstHeapUsesItsOwnAttachment) {
  Put(*a_, "home", "back home");
  ASSERT_TRUE(CreateReference(*a_, "out", "../b/in").ok());
  ASSERT_TRUE(CreateReference(*b_, "in", "../a/home").ok());
  auto r = Resolve(*a_, "out");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attached, nullptr);
  EXPECT_EQ(r->heap, a_.get());
  EXPECT_EQ(Text(r->data), "back home");
}

// A read-only client (one that may not write either heap file) reads and
// follows references, and attaches the other heap read-only too.
TEST_F(ReferenceTest, ReadOnlyClientsReadAndFollowReferences) {
  Put(*b_, "obj", "in heap b");
  ASSERT_TRUE(CreateReference(*a_, "ref", "../b/obj").ok());
  ASSERT_TRUE(CreateReference(*a_, "near", "ref").ok());
  Options ro;
  ro.mode = OpenMode::kReadOnly;
  auto a = Heap::Open(dir_.File("a.heap"), ro);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE((*a)->read_only());
  auto text = ReadReference(**a, "ref");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "../b/obj");
  auto r = Resolve(**a, "near");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_NE(r->attached, nullptr);
  EXPECT_TRUE(r->attached->read_only());
  EXPECT_EQ(Text(r->data), "in heap b");
  EXPECT_EQ(ClientsOf("b"), 1u) << "a read-only attachment leaves the client table alone; only b_ is in it";
}

TEST_F(ReferenceTest, CApiReadOnlyHandlesReadAndResolveReferences) {
  Put(*b_, "obj", "seen read-only");
  ASSERT_TRUE(CreateReference(*a_, "ref", "../b/obj").ok());
  shmheap_t* a = shmheap_attach(dir_.File("a.heap").c_str(), SHMHEAP_RDONLY, 0);
  ASSERT_NE(a, nullptr) << shmheap_last_error();
  char buf[64] = {};
  ASSERT_EQ(shmheap_ref_read(a, "ref", buf, sizeof(buf)), 8) << shmheap_last_error();
  EXPECT_STREQ(buf, "../b/obj");
  EXPECT_EQ(shmheap_version(a, "ref"), a_->Version("ref").value());
  shmheap_t* where = nullptr;
  size_t size = 0;
  void* p = shmheap_ref_resolve(a, "ref", &where, &size);
  ASSERT_NE(p, nullptr) << shmheap_last_error();
  ASSERT_EQ(size, 14u);
  EXPECT_EQ(std::memcmp(p, "seen read-only", 14), 0);
  errno = 0;
  EXPECT_EQ(shmalloc(where, 4, "x"), nullptr) << "the heap it attached is read-only too";
  EXPECT_EQ(errno, EACCES);
  EXPECT_EQ(shmheap_detach(where), 0);
  EXPECT_EQ(shmheap_detach(a), 0);
}

TEST_F(ReferenceTest, LoopsAndDanglingReferencesFailClearly) {
  ASSERT_TRUE(CreateReference(*a_, "x", "../b/y").ok());
  ASSERT_TRUE(CreateReference(*b_, "y", "../a/x").ok());
  EXPECT_EQ(Resolve(*a_, "x").code(), Code::kInvalidArgument);
  ASSERT_TRUE(CreateReference(*a_, "nothing", "missing").ok());
  EXPECT_EQ(Resolve(*a_, "nothing").code(), Code::kNotFound);
  ASSERT_TRUE(CreateReference(*a_, "noheap", "../nosuchheap/obj").ok());
  EXPECT_EQ(Resolve(*a_, "noheap").code(), Code::kNotFound);
  EXPECT_EQ(Resolve(*a_, "absent").code(), Code::kNotFound);
}

TEST_F(ReferenceTest, CApiCreatesReadsAndResolves) {
  shmheap_t* a = shmheap_attach(dir_.File("a.heap").c_str(), 0, 0);
  ASSERT_NE(a, nullptr);
  Put(*b_, "obj", "c api");
  ASSERT_EQ(shmheap_ref_create(a, "cref", "../b/obj"), 0);
  char buf[64] = {};
  EXPECT_EQ(shmheap_ref_read(a, "cref", buf, sizeof(buf)), 8);
  EXPECT_STREQ(buf, "../b/obj");
  EXPECT_EQ(shmheap_ref_read(a, "cref", buf, 3), 8) << "returns the full length, copies at most len";
  shmheap_t* where = nullptr;
  size_t size = 0;
  void* p = shmheap_ref_resolve(a, "cref", &where, &size);
  ASSERT_NE(p, nullptr) << shmheap_last_error();
  ASSERT_NE(where, nullptr);
  EXPECT_NE(where, a) << "the target heap was attached for the caller";
  EXPECT_EQ(size, 5u);
  EXPECT_EQ(std::memcmp(p, "c api", 5), 0);
  EXPECT_EQ(shmheap_detach(where), 0);
  errno = 0;
  EXPECT_EQ(shmheap_ref_create(a, "bad", "/abs"), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  ASSERT_EQ(shmheap_ref_create(a, "dangling", "nope"), 0);
  EXPECT_EQ(shmheap_ref_resolve(a, "dangling", &where, nullptr), nullptr);
  EXPECT_EQ(errno, ENOENT);
  ASSERT_NE(shmalloc(a, 4, "plainc"), nullptr);
  EXPECT_EQ(shmheap_ref_read(a, "plainc", buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(shmheap_detach(a), 0);
}

}  // namespace
}  // namespace shmheap
