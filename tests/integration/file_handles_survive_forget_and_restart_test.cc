// Ready for NFS export: a file handle (name_to_handle_at) stays valid after
// the kernel forgets the inode and after a daemon restart, because node ids
// come from persistent heap and object ids; a deleted object's handle gives
// ESTALE.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "tests/support/mount_fixture.h"

namespace shmheap::testing {
namespace {

class FileHandles : public MountFixture {
 protected:
  std::vector<unsigned char> HandleOf(const std::string& path) {
    std::vector<unsigned char> buf(sizeof(struct file_handle) + MAX_HANDLE_SZ);
    auto* fh = reinterpret_cast<struct file_handle*>(buf.data());
    fh->handle_bytes = MAX_HANDLE_SZ;
    int mount_id;
    EXPECT_EQ(::name_to_handle_at(AT_FDCWD, path.c_str(), fh, &mount_id, 0), 0) << std::strerror(errno);
    return buf;
  }
  // Opens by handle and returns the content, or "errno:N".
  std::string ReadByHandle(std::vector<unsigned char>& h) {
    int mfd = ::open(Mnt("").c_str(), O_RDONLY | O_DIRECTORY);
    int fd = ::open_by_handle_at(mfd, reinterpret_cast<struct file_handle*>(h.data()), O_RDONLY);
    int err = errno;
    ::close(mfd);
    if (fd < 0) return "errno:" + std::to_string(err);
    char buf[64] = {};
    ssize_t n = ::read(fd, buf, sizeof(buf));
    ::close(fd);
    return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
  }
  void DropCaches() { Sh("sync; echo 2 > /proc/sys/vm/drop_caches"); }
};

TEST_F(FileHandles, HandleWorksAfterForgetAndRestart) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && printf payload > " + Mnt("h/o")).status, 0);
  auto h = HandleOf(Mnt("h/o"));
  DropCaches();
  EXPECT_EQ(ReadByHandle(h), "payload");
  Remount();
  EXPECT_EQ(ReadByHandle(h), "payload") << "ids are persistent across a daemon restart";
}

TEST_F(FileHandles, DeletedObjectGivesEstale) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && printf gone > " + Mnt("h/o")).status, 0);
  auto h = HandleOf(Mnt("h/o"));
  ASSERT_EQ(Sh("rm " + Mnt("h/o") + " && printf new > " + Mnt("h/o2")).status, 0);
  DropCaches();
  EXPECT_EQ(ReadByHandle(h), "errno:" + std::to_string(ESTALE));
}

TEST_F(FileHandles, DotAndDotDotResolve) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && touch " + Mnt("h/o")).status, 0);
  auto dir = HandleOf(Mnt("h"));
  DropCaches();
  int mfd = ::open(Mnt("").c_str(), O_RDONLY | O_DIRECTORY);
  int dfd = ::open_by_handle_at(mfd, reinterpret_cast<struct file_handle*>(dir.data()), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0) << std::strerror(errno);
  EXPECT_EQ(::faccessat(dfd, "o", F_OK, 0), 0);
  EXPECT_EQ(::faccessat(dfd, "../h/o", F_OK, 0), 0);
  ::close(dfd);
  ::close(mfd);
}

}  // namespace
}  // namespace shmheap::testing
