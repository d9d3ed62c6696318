// Extended attributes: user.shmheap.type (read/write), .version and .offset
// (read-only), other user.* attributes stored in the heap, and PUPS
// map_show / client_show as read-only attributes of a heap directory.
#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

class Xattrs : public MountFixture {};

TEST_F(Xattrs, TypeVersionOffsetAndUserAttributes) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && echo v1 > " + Mnt("h/o")).status, 0);
  ASSERT_EQ(Sh("setfattr -n user.shmheap.type -v text/plain " + Mnt("h/o")).status, 0);
  EXPECT_EQ(Sh("getfattr --absolute-names --only-values -n user.shmheap.type " + Mnt("h/o")).output, "text/plain");
  EXPECT_EQ(Sh(CliPath() + " ls " + HeapFile("h") + " | grep -c text/plain").output, "1\n") << "same type table";
  auto v1 = Sh("getfattr --absolute-names --only-values -n user.shmheap.version " + Mnt("h/o")).output;
  ASSERT_EQ(Sh("echo v2 > " + Mnt("h/o")).status, 0);
  auto v2 = Sh("getfattr --absolute-names --only-values -n user.shmheap.version " + Mnt("h/o")).output;
  EXPECT_GT(std::stoull(v2), std::stoull(v1)) << "writes change the version";
  EXPECT_NE(Sh("setfattr -n user.shmheap.version -v 1 " + Mnt("h/o")).status, 0);
  auto off = Sh("getfattr --absolute-names --only-values -n user.shmheap.offset " + Mnt("h/o"));
  EXPECT_GT(std::stoull(off.output), 0u);
  ASSERT_EQ(Sh("setfattr -n user.color -v blue " + Mnt("h/o")).status, 0);
  auto all = Sh("getfattr --absolute-names -d " + Mnt("h/o")).output;
  EXPECT_NE(all.find("user.color=\"blue\""), std::string::npos) << all;
  ASSERT_EQ(Sh("setfattr -x user.color " + Mnt("h/o")).status, 0);
  EXPECT_NE(Sh("getfattr --absolute-names -n user.color " + Mnt("h/o")).status, 0);
  EXPECT_NE(Sh("setfattr -n trusted.x -v 1 " + Mnt("h/o")).status, 0);
}

TEST_F(Xattrs, HeapDirectoryShowsMapAndClients) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && echo x > " + Mnt("h/visible")).status, 0);
  auto map = Sh("getfattr --absolute-names --only-values -n user.shmheap.map_show " + Mnt("h"));
  EXPECT_NE(map.output.find("visible"), std::string::npos) << map.output;
  auto clients = Sh("getfattr --absolute-names --only-values -n user.shmheap.client_show " + Mnt("h"));
  EXPECT_NE(clients.output.find("(shmheapfs)"), std::string::npos) << clients.output;
}

}  // namespace
}  // namespace shmheap::testing
