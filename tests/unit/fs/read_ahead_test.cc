// MountBdiDir: which backing device /proc/self/mountinfo gives for a mount
// point (fs/src/read_ahead.h).
#include "fs/src/read_ahead.h"

#include <gtest/gtest.h>

namespace shmheap::fs {
namespace {

// Lines in the kernel's format: id parent MAJ:MIN root mount-point options
// [optional fields...] - fstype source super-options.
constexpr const char* kMountinfo =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "30 22 0:27 / /tmp rw,nosuid,nodev shared:5 master:2 - tmpfs tmpfs rw\n"
    "41 30 0:40 / /tmp/no\\040optional rw,nosuid,nodev - fuse.shmheapfs /h rw,user_id=0,group_id=0\n"
    "42 30 0:41 / /tmp/a\\040b\\134c rw shared:9 - fuse.shmheapfs /h rw,user_id=0\n"
    "43 30 0:42 / /tmp/stacked rw shared:10 - fuse.shmheapfs /h rw\n"
    "44 43 0:43 / /tmp/stacked rw shared:11 - fuse.shmheapfs /h2 rw\n"
    "45 30 0:44 / /tmp/over rw shared:12 - fuse /h rw\n"
    "46 45 0:45 / /tmp/over rw shared:13 - tmpfs tmpfs rw\n"
    "47 30 8:17 / /tmp/blk rw - fuseblk /dev/sdb1 rw\n"
    "48 30 0:46 / /tmp/truncated rw shared:14\n";

TEST(MountBdiDirTest, FindsTheDeviceWithAndWithoutOptionalFields) {
  auto a = MountBdiDir(kMountinfo, "/tmp/no optional");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, "/sys/class/bdi/0:40");
}

TEST(MountBdiDirTest, DecodesEscapedSpacesAndBackslashes) {
  auto a = MountBdiDir(kMountinfo, "/tmp/a b\\c");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, "/sys/class/bdi/0:41");
  EXPECT_FALSE(MountBdiDir(kMountinfo, "/tmp/a\\040b\\134c").ok()) << "the escaped form is not the path";
}

TEST(MountBdiDirTest, TheNewestFuseMountOfAStackWins) {
  auto a = MountBdiDir(kMountinfo, "/tmp/stacked");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, "/sys/class/bdi/0:43");
  // A non-FUSE mount on top is not ours: the FUSE one below is found.
  auto b = MountBdiDir(kMountinfo, "/tmp/over");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, "/sys/class/bdi/0:44");
}

TEST(MountBdiDirTest, RefusesOtherTypesTruncatedLinesAndUnknownPaths) {
  EXPECT_EQ(MountBdiDir(kMountinfo, "/tmp/blk").code(), Code::kNotFound) << "fuseblk names its bdi differently";
  EXPECT_EQ(MountBdiDir(kMountinfo, "/tmp").code(), Code::kNotFound) << "tmpfs";
  EXPECT_EQ(MountBdiDir(kMountinfo, "/tmp/truncated").code(), Code::kNotFound);
  EXPECT_EQ(MountBdiDir(kMountinfo, "/nowhere").code(), Code::kNotFound);
  EXPECT_EQ(MountBdiDir("", "/tmp").code(), Code::kNotFound);
  EXPECT_EQ(MountBdiDir("garbage\n\n \\\n", "/tmp").code(), Code::kNotFound);
}

}  // namespace
}  // namespace shmheap::fs
