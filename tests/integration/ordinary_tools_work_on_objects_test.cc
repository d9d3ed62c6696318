// cp, cat, ls, stat, mv, rm, truncate, dd, df and cmp behave on the mount as
// on a local file system; heaps are directories made by mkdir.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

class OrdinaryTools : public MountFixture {};

TEST_F(OrdinaryTools, MkdirMakesAHeapAndCpCatCmpWork) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h")).status, 0);
  EXPECT_EQ(Sh("test -f " + HeapFile("h")).status, 0) << "a heap directory is a NAME.heap file";
  ASSERT_EQ(Sh("head -c 3000000 /dev/urandom > " + dir_->File("src")).status, 0);
  ASSERT_EQ(Sh("cp " + dir_->File("src") + " " + Mnt("h/blob")).status, 0);
  EXPECT_EQ(Sh("cmp " + dir_->File("src") + " " + Mnt("h/blob")).status, 0);
  EXPECT_EQ(Sh("stat -c %s " + Mnt("h/blob")).output, "3000000\n");
  ASSERT_EQ(Sh("echo hello > " + Mnt("h/greeting")).status, 0);
  EXPECT_EQ(Sh("cat " + Mnt("h/greeting")).output, "hello\n");
  EXPECT_EQ(Sh("echo more >> " + Mnt("h/greeting") + " && cat " + Mnt("h/greeting")).output, "hello\nmore\n");
}

TEST_F(OrdinaryTools, LsShowsDotEntriesAndObjects) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && touch " + Mnt("h/a") + " " + Mnt("h/b")).status, 0);
  std::set<std::string> names;
  DIR* d = ::opendir(Mnt("h").c_str());
  ASSERT_NE(d, nullptr);
  while (struct dirent* e = ::readdir(d)) names.insert(e->d_name);
  ::closedir(d);
  EXPECT_EQ(names, (std::set<std::string>{".", "..", "a", "b"}));
  auto ls = Sh("ls -l " + Mnt("h"));
  EXPECT_NE(ls.output.find(" a\n"), std::string::npos) << ls.output;
  EXPECT_EQ(Sh("ls " + Mnt("")).output, "h\n");
}

TEST_F(OrdinaryTools, MvRenamesAtomicallyAndRmFrees) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && echo one > " + Mnt("h/a") + " && echo two > " + Mnt("h/b")).status, 0);
  ASSERT_EQ(Sh("mv " + Mnt("h/a") + " " + Mnt("h/b")).status, 0);
  EXPECT_EQ(Sh("cat " + Mnt("h/b")).output, "one\n");
  EXPECT_NE(Sh("test -e " + Mnt("h/a")).status, 0);
  ASSERT_EQ(Sh("rm " + Mnt("h/b")).status, 0);
  EXPECT_EQ(Sh("ls -A " + Mnt("h")).output, "");
  ASSERT_EQ(Sh("rmdir " + Mnt("h")).status, 0);
  EXPECT_NE(Sh("test -e " + HeapFile("h")).status, 0);
}

TEST_F(OrdinaryTools, MoveBetweenHeapsCopiesThroughExdev) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h1") + " " + Mnt("h2") + " && echo x > " + Mnt("h1/o")).status, 0);
  EXPECT_EQ(Sh("mv " + Mnt("h1/o") + " " + Mnt("h2/o")).status, 0) << "mv falls back to copy on EXDEV";
  EXPECT_EQ(Sh("cat " + Mnt("h2/o")).output, "x\n");
  EXPECT_NE(Sh("test -e " + Mnt("h1/o")).status, 0);
  // rename(2) itself reports EXDEV.
  auto py = Sh("/usr/bin/python3 -c \"import os,errno\ntry:\n os.rename('" + Mnt("h2/o") + "','" + Mnt("h1/o") +
               "')\nexcept OSError as e:\n print(errno.errorcode[e.errno])\"");
  EXPECT_EQ(py.output, "EXDEV\n");
}

TEST_F(OrdinaryTools, TruncateAndDdResize) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h")).status, 0);
  ASSERT_EQ(Sh("truncate -s 10000 " + Mnt("h/t")).status, 0);
  EXPECT_EQ(Sh("stat -c %s " + Mnt("h/t")).output, "10000\n");
  EXPECT_EQ(Sh("tr -d '\\000' < " + Mnt("h/t") + " | wc -c").output, "0\n") << "growth reads as zeros";
  ASSERT_EQ(Sh("dd if=/dev/zero of=" + Mnt("h/t") + " bs=4096 count=8 seek=4 conv=notrunc status=none").status, 0);
  EXPECT_EQ(Sh("stat -c %s " + Mnt("h/t")).output, "49152\n");
  ASSERT_EQ(Sh("truncate -s 7 " + Mnt("h/t")).status, 0);
  EXPECT_EQ(Sh("stat -c %s " + Mnt("h/t")).output, "7\n");
}

TEST_F(OrdinaryTools, StatReportsPersistentInodesAndOwners) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && echo x > " + Mnt("h/o")).status, 0);
  struct stat a {}, b {};
  ASSERT_EQ(::stat(Mnt("h/o").c_str(), &a), 0);
  ASSERT_EQ(Sh("chmod 640 " + Mnt("h/o") + " && chown 12:34 " + Mnt("h/o") + " && touch -d @1000000000 " +
               Mnt("h/o")).status, 0);
  Remount();
  ASSERT_EQ(::stat(Mnt("h/o").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "inode numbers survive a restart";
  EXPECT_EQ(b.st_mode & 07777, 0640u);
  EXPECT_EQ(b.st_uid, 12u);
  EXPECT_EQ(b.st_gid, 34u);
  EXPECT_EQ(b.st_mtime, 1000000000);
}

TEST_F(OrdinaryTools, DfShowsHeapUse) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && head -c 5000000 /dev/zero > " + Mnt("h/z")).status, 0);
  auto df = Sh("df -B1 --output=used " + Mnt("") + " | tail -1");
  ASSERT_EQ(df.status, 0);
  EXPECT_GE(std::stoull(df.output), 5000000ull);
}

TEST_F(OrdinaryTools, SubdirectoriesInsideAHeapAreRefused) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h")).status, 0);
  EXPECT_NE(::mkdir(Mnt("h/sub").c_str(), 0755), 0);
  EXPECT_EQ(errno, EPERM);
  EXPECT_NE(Sh("touch " + Mnt("loose")).status, 0) << "the root holds only heap directories";
}

TEST_F(OrdinaryTools, RmdirOfANonEmptyHeapFails) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && touch " + Mnt("h/o")).status, 0);
  EXPECT_NE(::rmdir(Mnt("h").c_str()), 0);
  EXPECT_EQ(errno, ENOTEMPTY);
}

TEST_F(OrdinaryTools, BadNamesGetClearErrors) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h")).status, 0);
  std::string long_name(256, 'x');
  EXPECT_EQ(::creat(Mnt("h/" + long_name).c_str(), 0644), -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
  EXPECT_EQ(::close(::creat(Mnt("h/" + std::string(255, 'y')).c_str(), 0644)), 0);
}

TEST_F(OrdinaryTools, HeapsCreatedByLibraryClientsAppear) {
  ASSERT_EQ(Sh(CliPath() + " create " + HeapFile("made_by_lib") + " && echo data | " + CliPath() + " put " +
               HeapFile("made_by_lib") + " obj -").status, 0);
  EXPECT_EQ(Sh("cat " + Mnt("made_by_lib/obj")).output, "data\n");
}

}  // namespace
}  // namespace shmheap::testing
