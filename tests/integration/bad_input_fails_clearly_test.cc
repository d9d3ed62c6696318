// Bad usage and bad heaps fail clearly: unknown options exit 2 with a
// message, --help/--version work, and a corrupt backing file is refused
// with a logged reason while the other heaps keep working, and a heap
// directory that has given out every heap slot refuses new heaps with ENOSPC
// and leaves no file behind.
#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

TEST(DaemonCommandLine, HelpAndVersionWork) {
  auto help = Sh(DaemonPath() + " --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.output.find("heapdir=DIR"), std::string::npos);
  auto version = Sh(DaemonPath() + " --version");
  EXPECT_EQ(version.status, 0);
  EXPECT_NE(version.output.find("shmheapfs 0."), std::string::npos);
}

TEST(DaemonCommandLine, BadUsageExitsTwoWithAMessage) {
  TempDir d;
  auto none = Sh(DaemonPath());
  EXPECT_EQ(none.status, 2);
  EXPECT_NE(none.output.find("no mount point"), std::string::npos);
  auto bad_size = Sh(DaemonPath() + " -f -o max_heap_size=lots " + d.path());
  EXPECT_EQ(bad_size.status, 2);
  EXPECT_NE(bad_size.output.find("max_heap_size"), std::string::npos);
  auto bad_level = Sh(DaemonPath() + " -f -o log_level=loud " + d.path());
  EXPECT_EQ(bad_level.status, 2);
  auto unknown = Sh(DaemonPath() + " -f -o heapdir=" + d.File("h") + ",no_such_option " + d.path());
  EXPECT_EQ(unknown.status, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("no_such_option"), std::string::npos) << unknown.output;
}

class HeapSlots : public MountFixture {};

TEST_F(HeapSlots, ANewHeapAfterTheLastSlotGetsEnospcAndLeavesNoFile) {
  ASSERT_EQ(Sh("mkdir " + Mnt("good") + " && echo fine > " + Mnt("good/o")).status, 0);
  const std::string dir = HeapFile("x").substr(0, HeapFile("x").rfind('/'));
  // Slots are never reused (fs/src/node_id.h): as if 65535 heaps had come and gone.
  ASSERT_EQ(Sh("echo '65535 00000000-0000-0000-0000-000000000000 long-gone' >> " + dir + "/.shmheapfs-slots").status,
            0);
  Remount();
  auto mk = Sh("mkdir " + Mnt("new"));
  EXPECT_NE(mk.status, 0);
  EXPECT_NE(mk.output.find("No space left on device"), std::string::npos) << mk.output;
  EXPECT_NE(Sh("test -e " + HeapFile("new")).status, 0) << "a refused heap left its file";
  EXPECT_EQ(Sh("cat " + Mnt("good/o")).output, "fine\n") << "the heaps that have slots keep working";
}

class CorruptHeap : public MountFixture {};

TEST_F(CorruptHeap, IsRefusedWhileOthersWork) {
  ASSERT_EQ(Sh("mkdir " + Mnt("good") + " && echo fine > " + Mnt("good/o")).status, 0);
  ASSERT_EQ(Sh("head -c 300000 /dev/urandom > " + HeapFile("bad")).status, 0);
  auto ls = Sh("ls " + Mnt("bad"));
  EXPECT_NE(ls.status, 0);
  EXPECT_NE(ls.output.find("Structure needs cleaning"), std::string::npos) << ls.output;
  EXPECT_EQ(Sh("cat " + Mnt("good/o")).output, "fine\n");
  EXPECT_NE(daemon_->log().find("bad.heap is unavailable"), std::string::npos);
  EXPECT_NE(::rmdir(Mnt("bad").c_str()), 0) << "a heap that cannot be read is never deleted by rmdir";
}

}  // namespace
}  // namespace shmheap::testing
