// Symbolic links in the mount are heap references (COOL v2's
// representatives, <shmheap/reference.hpp>): `ln -s ../b/obj` in heap a is a
// reference library clients resolve to object obj of heap b, and a reference
// a library client creates is a symlink that readlink, ls and cat follow.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <shmheap/reference.hpp>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

class Symlinks : public MountFixture {
 protected:
  void SetUp() override {
    MountFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(Sh("mkdir " + Mnt("a") + " " + Mnt("b")).status, 0);
  }
  std::unique_ptr<Heap> Attach(const std::string& heap) {
    Options o;
    o.mode = OpenMode::kOpen;
    auto h = Heap::Open(HeapFile(heap), o);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? std::move(*h) : nullptr;
  }
};

TEST_F(Symlinks, LnSymlinkIsAReferenceLibraryClientsResolve) {
  ASSERT_EQ(Sh("printf 'in b' > " + Mnt("b/obj") + " && ln -s ../b/obj " + Mnt("a/ref")).status, 0);
  auto a = Attach("a");
  ASSERT_NE(a, nullptr);
  auto t = ReadReference(*a, "ref");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, "../b/obj");
  auto r = Resolve(*a, "ref");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->object, "obj");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r->data.data()), r->data.size()), "in b");
  // The kernel follows the same link to the same bytes.
  EXPECT_EQ(Sh("cat " + Mnt("a/ref")).output, "in b");
}

TEST_F(Symlinks, LibraryReferenceIsASymlinkOnTheMount) {
  auto a = Attach("a");
  auto b = Attach("b");
  ASSERT_TRUE(b->CreateWith("data", std::as_bytes(std::span("library", 7)), ObjectAttr{}).ok());
  ASSERT_TRUE(CreateReference(*a, "lib_ref", "../b/data").ok());
  ASSERT_TRUE(CreateReference(*b, "local", "data").ok());
  EXPECT_EQ(Sh("readlink " + Mnt("a/lib_ref")).output, "../b/data\n");
  EXPECT_EQ(Sh("cat " + Mnt("a/lib_ref") + " " + Mnt("b/local")).output, "librarylibrary");
  EXPECT_EQ(Sh("stat -c %F " + Mnt("a/lib_ref")).output, "symbolic link\n");
  EXPECT_EQ(Sh("ls -l " + Mnt("a") + " | grep -c '^l.*lib_ref -> ../b/data'").output, "1\n");
  EXPECT_EQ(Sh("find " + Mnt("b") + " -type l").output, Mnt("b/local") + "\n");
}

TEST_F(Symlinks, TheCliMakesAndListsReferences) {
  ASSERT_EQ(Sh("printf cli > " + Mnt("b/obj")).status, 0);
  ASSERT_EQ(Sh(CliPath() + " ln " + HeapFile("a") + " via_cli ../b/obj").status, 0);
  EXPECT_EQ(Sh("cat " + Mnt("a/via_cli")).output, "cli");
  EXPECT_EQ(Sh(CliPath() + " ls " + HeapFile("a") + " | grep -c 'via_cli.*-> ../b/obj$'").output, "1\n");
  EXPECT_NE(Sh(CliPath() + " ln " + HeapFile("a") + " bad /etc/passwd").status, 0) << "unreachable target";
}

TEST_F(Symlinks, RenameRemoveAndRestartKeepReferencesIntact) {
  ASSERT_EQ(Sh("printf x > " + Mnt("b/obj") + " && ln -s ../b/obj " + Mnt("a/one")).status, 0);
  ASSERT_EQ(Sh("mv " + Mnt("a/one") + " " + Mnt("a/two")).status, 0);
  EXPECT_EQ(Sh("readlink " + Mnt("a/two")).output, "../b/obj\n");
  Remount();
  EXPECT_EQ(Sh("readlink " + Mnt("a/two")).output, "../b/obj\n");
  EXPECT_EQ(Sh("cat " + Mnt("a/two")).output, "x");
  ASSERT_EQ(Sh("rm " + Mnt("a/two")).status, 0);
  EXPECT_EQ(Sh("cat " + Mnt("b/obj")).output, "x") << "removing a reference leaves its target";
  EXPECT_NE(::access(Mnt("a/two").c_str(), F_OK), 0);
}

TEST_F(Symlinks, AnyTargetIsStoredButOnlyHeapTargetsResolve) {
  ASSERT_EQ(Sh("ln -s /etc/hostname " + Mnt("a/abs")).status, 0);
  EXPECT_EQ(Sh("readlink " + Mnt("a/abs")).output, "/etc/hostname\n");
  auto a = Attach("a");
  EXPECT_EQ(Resolve(*a, "abs").code(), Code::kNotSupported);
  // A link at the mount root would be a heap, and heaps are directories.
  EXPECT_NE(::symlink("a", Mnt("rootlink").c_str()), 0);
  EXPECT_EQ(errno, EPERM);
  // readlink of a regular object is EINVAL, as on any file system.
  ASSERT_EQ(Sh("printf y > " + Mnt("a/plain")).status, 0);
  char buf[16];
  EXPECT_EQ(::readlink(Mnt("a/plain").c_str(), buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, EINVAL);
}

}  // namespace
}  // namespace shmheap::testing
