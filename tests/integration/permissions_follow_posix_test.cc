// With allow_other,default_permissions ownership and permissions behave as
// on a local file system: objects belong to the calling user, mode bits are
// enforced for other users, sticky and setgid directories work.
#include <sys/stat.h>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

class Permissions : public MountFixture {
 protected:
  std::vector<std::string> MountOptions() const override { return {"allow_other,default_permissions"}; }
  // Runs `cmd` as user nobody (65534).
  ShellResult AsNobody(const std::string& cmd) {
    return Sh("setpriv --reuid=65534 --regid=65534 --clear-groups sh -c \"" + cmd + "\"");
  }
};

TEST_F(Permissions, OtherUsersFollowModeBits) {
  ASSERT_EQ(Sh("mkdir -m 755 " + Mnt("h") + " && echo secret > " + Mnt("h/o") + " && chmod 644 " + Mnt("h/o")).status,
            0);
  EXPECT_EQ(AsNobody("cat " + Mnt("h/o")).output, "secret\n");
  auto w = AsNobody("echo x >> " + Mnt("h/o"));
  EXPECT_NE(w.status, 0);
  EXPECT_NE(w.output.find("Permission denied"), std::string::npos) << w.output;
  EXPECT_NE(AsNobody("touch " + Mnt("h/new")).status, 0) << "no write permission on the heap directory";
  ASSERT_EQ(Sh("chmod 600 " + Mnt("h/o")).status, 0);
  EXPECT_NE(AsNobody("cat " + Mnt("h/o")).status, 0);
}

TEST_F(Permissions, ObjectsBelongToTheirCreator) {
  ASSERT_EQ(Sh("mkdir -m 777 " + Mnt("h")).status, 0);
  ASSERT_EQ(AsNobody("echo mine > " + Mnt("h/n")).status, 0);
  struct stat st {};
  ASSERT_EQ(::stat(Mnt("h/n").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
  EXPECT_NE(AsNobody("chown 0 " + Mnt("h/n")).status, 0);
}

TEST_F(Permissions, StickyDirectoryProtectsOthersObjects) {
  ASSERT_EQ(Sh("mkdir -m 1777 " + Mnt("h") + " && echo root > " + Mnt("h/r")).status, 0);
  EXPECT_NE(AsNobody("rm -f " + Mnt("h/r")).status, 0);
  EXPECT_EQ(Sh("cat " + Mnt("h/r")).output, "root\n");
  ASSERT_EQ(AsNobody("echo n > " + Mnt("h/own") + " && rm " + Mnt("h/own")).status, 0);
}

TEST_F(Permissions, SetgidDirectoryPassesItsGroup) {
  ASSERT_EQ(Sh("mkdir -m 2777 " + Mnt("h") + " && chgrp 123 " + Mnt("h")).status, 0);
  ASSERT_EQ(AsNobody("touch " + Mnt("h/g")).status, 0);
  struct stat st {};
  ASSERT_EQ(::stat(Mnt("h/g").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, 123u);
}

TEST_F(Permissions, HeapDirectoryCreatedByAUserIsTheirs) {
  ASSERT_EQ(Sh("chmod 1777 " + heapdir_).status, 0);
  ASSERT_EQ(Sh("chmod 1777 " + Mnt("")).status, 0);
  ASSERT_EQ(AsNobody("mkdir " + Mnt("nh")).status, 0);
  struct stat st {};
  ASSERT_EQ(::stat(Mnt("nh").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  ASSERT_EQ(::stat(HeapFile("nh").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u) << "the backing file carries the owner";
}

}  // namespace
}  // namespace shmheap::testing
