// With allow_other,default_permissions ownership and permissions behave as
// on a local file system: objects belong to the calling user, mode bits are
// enforced for other users, sticky and setgid directories work, and writes,
// truncations and chown clear set-user-ID and set-group-ID bits as the VFS
// does (fs/src/setid.h).
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

// The object's permission bits after `chmod mode` and then `cmd`, in which
// F stands for the object's path, run by `who`.
enum class Who { kNobody, kRoot, kRootWithoutFsetid };

class SetIdBits : public Permissions {
 protected:
  std::string After(const std::string& mode, std::string cmd, Who who) {
    const std::string f = Mnt("h/f");
    EXPECT_EQ(Sh("echo data > " + f + " && chown 0:0 " + f + " && chmod " + mode + " " + f).status, 0);
    cmd.replace(cmd.find('F'), 1, f);
    ShellResult r = who == Who::kNobody ? AsNobody(cmd)
                    : who == Who::kRoot ? Sh(cmd)
                                        : Sh("setpriv --inh-caps=-all --bounding-set=-fsetid sh -c '" + cmd + "'");
    EXPECT_EQ(r.status, 0) << cmd << ": " << r.output;
    return Sh("stat -c %a " + f).output;
  }
  // At debug level the daemon says whether it negotiated KILLPRIV_V2.
  std::vector<std::string> MountOptions() const override { return {"allow_other,default_permissions,log_level=debug"}; }
  void SetUp() override {
    Permissions::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(Sh("mkdir -m 777 " + Mnt("h")).status, 0);
    // The cases below hold with or without it (the kernel clears the bits
    // itself without it, except for O_TRUNC and non-executable setgid), but
    // this is the daemon's code they are meant to test.
    ASSERT_NE(daemon_->log().find("FUSE_HANDLE_KILLPRIV_V2 (set-ID bits are cleared by the daemon)"),
              std::string::npos)
        << daemon_->log();
  }
};

TEST_F(SetIdBits, AnotherUsersWriteTruncateOrFallocateClearsThem) {
  EXPECT_EQ(After("6777", "echo more >> F", Who::kNobody), "777\n");
  EXPECT_EQ(After("6777", ": > F", Who::kNobody), "777\n") << "open(O_TRUNC)";
  EXPECT_EQ(After("6777", "truncate -s 1 F", Who::kNobody), "777\n");
  EXPECT_EQ(After("6777", "fallocate -l 65536 F", Who::kNobody), "777\n");
  EXPECT_EQ(After("4757", "echo more >> F", Who::kNobody), "757\n");
  // Set-group-ID without group execute (a mandatory-locking mark) goes too
  // for a writer outside the file's group.
  EXPECT_EQ(After("2767", "echo more >> F", Who::kNobody), "767\n");
  EXPECT_EQ(After("0777", "echo more >> F", Who::kNobody), "777\n");
}

TEST_F(SetIdBits, ACallerWithCapFsetidKeepsThemAndChownClearsThemForAnyone) {
  EXPECT_EQ(After("6777", "echo more >> F", Who::kRoot), "6777\n");
  EXPECT_EQ(After("6777", "truncate -s 1 F", Who::kRoot), "6777\n");
  EXPECT_EQ(After("6777", "echo more >> F", Who::kRootWithoutFsetid), "777\n")
      << "the capability decides, not the uid";
  EXPECT_EQ(After("6777", "chown 65534 F", Who::kRoot), "777\n");
  EXPECT_EQ(After("6777", "chown 0:0 F", Who::kRoot), "777\n") << "even a chown that changes nothing";
  EXPECT_EQ(After("2745", "chown 65534 F", Who::kRoot), "2745\n")
      << "a capable caller's chown keeps a mandatory-locking mark";
  EXPECT_EQ(After("6777", "chmod 6777 F", Who::kRoot), "6777\n") << "chmod sets them again";
  EXPECT_EQ(After("6777", "python3 -c 'import os; os.chown(\"F\", -1, -1)'", Who::kRoot), "777\n")
      << "chown(f, -1, -1) changes nothing and still clears them";
}

// A process in a user namespace of its own holds CAP_FSETID there only; the
// kernel (capable(), in the initial namespace) clears the bits for it. (A
// truncation: before a write the kernel itself sends a SETATTR that changes
// nothing, which the daemon takes as the kernel's own request to clear.)
TEST_F(SetIdBits, ACapabilityInAnotherUserNamespaceDoesNotCount) {
  if (AsNobody("unshare -Ur true").status != 0) GTEST_SKIP() << "unprivileged user namespaces are off here";
  EXPECT_EQ(After("6777", "unshare -Ur truncate -s 1 F", Who::kNobody), "777\n");
  EXPECT_EQ(After("6777", "unshare -Ur sh -c 'echo more >> F'", Who::kNobody), "777\n");
}

}  // namespace
}  // namespace shmheap::testing
