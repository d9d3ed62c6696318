// The set-ID clearing rules the daemon applies for the kernel (fs/src/setid.h),
// against what the VFS does on a local file system, and the parsing of the
// caller's /proc/PID/status.
#include "fs/src/setid.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace shmheap::fs {
namespace {

constexpr const char* kStatus =
    "Name:\tsh\nUmask:\t0022\nState:\tR (running)\nUid:\t1000\t1000\t1000\t1000\n"
    "Gid:\t100\t100\t100\t101\nGroups:\t27 999 \nCapInh:\t0000000000000000\n"
    "CapPrm:\t000001ffffffffff\nCapEff:\t0000000000000010\n";

TEST(ParseProcStatusTest, ReadsCapFsetidFsgidAndGroups) {
  CallerCreds c = ParseProcStatus(kStatus);
  EXPECT_TRUE(c.fsetid) << "CapEff bit 4";
  EXPECT_EQ(c.fsgid, 101u) << "the fourth Gid field";
  EXPECT_TRUE(c.InGroup(101));
  EXPECT_TRUE(c.InGroup(27));
  EXPECT_TRUE(c.InGroup(999));
  EXPECT_FALSE(c.InGroup(100)) << "the real gid is not the file-system gid";
}

TEST(ParseProcStatusTest, WithoutTheCapabilityOrWithGarbageIsTheSafeAnswer) {
  std::string no_cap = kStatus;
  no_cap.replace(no_cap.find("0000000000000010"), 16, "ffffffffffffffef");
  EXPECT_FALSE(ParseProcStatus(no_cap).fsetid);
  for (const char* bad : {"", "CapEff:\tzz\nGid:\t1\t1\t1\t1\nGroups:\t\n", "CapEff:\t10\nGid:\t1 2\nGroups:\t\n",
                          "CapEff:\t10\nGroups:\t\n", "CapEff:\t10\nGid:\t1\t1\t1\t1x\nGroups:\t\n"}) {
    CallerCreds c = ParseProcStatus(bad);
    EXPECT_FALSE(c.fsetid) << bad;
    EXPECT_FALSE(c.InGroup(1)) << bad;
  }
  CallerCreds empty_groups = ParseProcStatus("CapEff:\t0\nUid:\t5\t5\t5\t5\nGid:\t5\t5\t5\t5\nGroups:\t\n");
  EXPECT_TRUE(empty_groups.InGroup(5));
  EXPECT_FALSE(empty_groups.kernel_thread) << "no Kthread line (older kernels)";
  EXPECT_TRUE(ParseProcStatus(std::string(kStatus) + "Kthread:\t1\n").kernel_thread);
}

TEST(CredsOfTest, ReadsThisProcess) {
  const auto uid = static_cast<std::uint32_t>(::geteuid()), gid = static_cast<std::uint32_t>(::getegid());
  CallerCreds c = CredsOf(::getpid(), uid, gid);
  EXPECT_TRUE(c.InGroup(gid));
  std::ifstream in("/proc/self/status");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(c.fsetid, ParseProcStatus(text.str()).fsetid) << "our own namespace and ids: believed as it is";
  CallerCreds none = CredsOf(0, 7, 8);
  EXPECT_FALSE(none.fsetid) << "no pid: no capability";
  EXPECT_TRUE(none.InGroup(8)) << "the request's gid is always the caller's";
  EXPECT_FALSE(none.InGroup(gid == 8 ? 9 : gid));
}

// /proc's credentials are believed only when they are the request's.
TEST(VettedTest, TheCapabilityCountsOnlyForTheRequestsOwnCredentials) {
  const CallerCreds c = ParseProcStatus(kStatus);  // fsuid 1000, fsgid 101, CAP_FSETID
  EXPECT_TRUE(Vetted(c, true, 1000, 101).fsetid);
  EXPECT_TRUE(Vetted(c, true, 1000, 101).InGroup(27));
  EXPECT_FALSE(Vetted(c, false, 1000, 101).fsetid) << "another user namespace (unshare -U)";
  EXPECT_FALSE(Vetted(c, true, 0, 101).fsetid) << "overridden credentials (nfsd, overlayfs)";
  EXPECT_FALSE(Vetted(c, true, 0, 101).InGroup(27)) << "and so are its groups";
  EXPECT_TRUE(Vetted(c, true, 0, 5).InGroup(5));
  CallerCreds k = c;
  k.kernel_thread = true;
  EXPECT_FALSE(Vetted(k, true, 1000, 101).fsetid) << "a kernel thread";
}

CallerCreds Caller(bool fsetid, std::uint32_t gid) {
  CallerCreds c;
  c.fsetid = fsetid;
  c.fsgid = gid;
  return c;
}

TEST(SetIdBitsToDropTest, AWriteByACallerWithoutCapFsetid) {
  const CallerCreds user = Caller(false, 100);
  EXPECT_EQ(SetIdBitsToDrop(S_IFREG | 06777, 0, SetIdCause::kModify, user), 06000u);
  EXPECT_EQ(SetIdBitsToDrop(04755, 0, SetIdCause::kModify, user), 04000u) << "type bits 0: an ordinary object";
  EXPECT_EQ(SetIdBitsToDrop(02755, 0, SetIdCause::kModify, user), 02000u) << "a setgid executable";
  EXPECT_EQ(SetIdBitsToDrop(02745, 0, SetIdCause::kModify, user), 02000u)
      << "setgid without group execute, caller outside the group";
  EXPECT_EQ(SetIdBitsToDrop(02745, 100, SetIdCause::kModify, user), 0u)
      << "setgid without group execute, caller in the group";
  EXPECT_EQ(SetIdBitsToDrop(0777, 0, SetIdCause::kModify, user), 0u);
}

TEST(SetIdBitsToDropTest, AWriteByACallerWithCapFsetidKeepsThem) {
  EXPECT_EQ(SetIdBitsToDrop(06777, 0, SetIdCause::kModify, Caller(true, 0)), 0u);
  EXPECT_EQ(SetIdBitsToDrop(02745, 0, SetIdCause::kModify, Caller(true, 100)), 0u);
}

TEST(SetIdBitsToDropTest, ChownClearsThemWhoeverCalls) {
  EXPECT_EQ(SetIdBitsToDrop(06777, 0, SetIdCause::kChown, Caller(true, 0)), 06000u);
  EXPECT_EQ(SetIdBitsToDrop(04700, 0, SetIdCause::kChown, Caller(true, 0)), 04000u);
  EXPECT_EQ(SetIdBitsToDrop(02745, 0, SetIdCause::kChown, Caller(true, 100)), 0u)
      << "a mandatory-locking mark survives a capable caller's chown";
  EXPECT_EQ(SetIdBitsToDrop(02745, 0, SetIdCause::kChown, Caller(false, 100)), 02000u);
}

TEST(SetIdBitsToDropTest, OnlyRegularFiles) {
  EXPECT_EQ(SetIdBitsToDrop(S_IFLNK | 06777, 0, SetIdCause::kModify, Caller(false, 1)), 0u) << "a reference";
  EXPECT_EQ(SetIdBitsToDrop(S_IFDIR | 06777, 0, SetIdCause::kChown, Caller(false, 1)), 0u);
  EXPECT_TRUE(HasSetIdBits(04000));
  EXPECT_TRUE(HasSetIdBits(02000));
  EXPECT_FALSE(HasSetIdBits(01777));
}

}  // namespace
}  // namespace shmheap::fs
