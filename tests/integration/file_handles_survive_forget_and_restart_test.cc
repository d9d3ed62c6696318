// Ready for NFS export: a file handle (name_to_handle_at) stays valid after
// the kernel forgets the inode and after a daemon restart, because node ids
// come from persistent heap and object ids; a deleted object's handle gives
// ESTALE, and a heap that reuses an inode number for a new object gives it
// another node id.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <shmheap/heap.hpp>

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

// A heap reuses a freed record, inode number included, with a new
// generation. Requests carry only the node id, so if the new object had the
// old one's node id, a request through a dentry the kernel still holds for
// the old object (an open with O_TRUNC, a truncate) would act on the new
// one. The node id (and st_ino, which is the node id) differ.
TEST_F(FileHandles, AReusedInodeNumberGetsAnotherNodeId) {
  ASSERT_EQ(Sh("mkdir " + Mnt("h") + " && printf old > " + Mnt("h/a")).status, 0);
  struct stat a {}, b {};
  ASSERT_EQ(::stat(Mnt("h/a").c_str(), &a), 0);
  Options o;
  o.mode = OpenMode::kOpen;
  auto heap = Heap::Open(HeapFile("h"), o);
  ASSERT_TRUE(heap.ok()) << heap.status().ToString();
  auto id_a = (*heap)->Lookup("a");
  ASSERT_TRUE(id_a.ok());
  ASSERT_EQ(Sh("rm " + Mnt("h/a") + " && printf new > " + Mnt("h/b")).status, 0);
  auto id_b = (*heap)->Lookup("b");
  ASSERT_TRUE(id_b.ok());
  ASSERT_EQ(id_b->inode, id_a->inode) << "the heap did not reuse the record; the test proves nothing";
  ASSERT_NE(id_b->generation, id_a->generation);
  ASSERT_EQ(::stat(Mnt("h/b").c_str(), &b), 0);
  EXPECT_NE(b.st_ino, a.st_ino);
  DropCaches();  // and the id is the same when the kernel asks again
  struct stat again {};
  ASSERT_EQ(::stat(Mnt("h/b").c_str(), &again), 0);
  EXPECT_EQ(again.st_ino, b.st_ino);
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
