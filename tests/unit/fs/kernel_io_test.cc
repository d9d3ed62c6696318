// KernelIo's INIT handling (fs/src/kernel_io.h): FUSE_HANDLE_KILLPRIV_V2 is
// added to the reply to the INIT the kernel sent, only if the kernel offered
// it, and nothing else is touched.
#include "fs/src/kernel_io.h"

#include <gtest/gtest.h>
#include <linux/fuse.h>

#include <cstring>
#include <vector>

namespace shmheap::fs {
namespace {

std::vector<char> Request(std::uint32_t opcode, std::uint64_t unique, std::uint32_t minor, std::uint32_t flags) {
  fuse_in_header h{};
  fuse_init_in in{};
  h.len = sizeof(h) + sizeof(in);
  h.opcode = opcode;
  h.unique = unique;
  in.major = 7;
  in.minor = minor;
  in.flags = flags;
  std::vector<char> buf(h.len);
  std::memcpy(buf.data(), &h, sizeof(h));
  std::memcpy(buf.data() + sizeof(h), &in, sizeof(in));
  return buf;
}

struct Reply {
  fuse_out_header h{};
  fuse_init_out body{};
  iovec iov[2];
  Reply(std::uint64_t unique, std::int32_t error, std::uint32_t flags) {
    h.len = sizeof(h) + sizeof(body);
    h.unique = unique;
    h.error = error;
    body.major = 7;
    body.minor = 38;
    body.flags = flags;
    iov[0] = {&h, sizeof(h)};
    iov[1] = {&body, sizeof(body)};
  }
};

constexpr std::uint32_t kOffered = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_HANDLE_KILLPRIV_V2;

TEST(KernelIoTest, AddsKillprivV2ToTheInitReplyWhenOffered) {
  KernelIo io;
  auto req = Request(FUSE_INIT, 2, 41, kOffered);
  io.SawRequest(req.data(), req.size());
  EXPECT_FALSE(io.killpriv_v2());
  Reply other(4, 0, FUSE_ASYNC_READ);
  EXPECT_FALSE(io.PatchReply(other.iov, 2)) << "another request's reply";
  EXPECT_EQ(other.body.flags, static_cast<std::uint32_t>(FUSE_ASYNC_READ));
  Reply r(2, 0, FUSE_ASYNC_READ | FUSE_POSIX_LOCKS);
  EXPECT_TRUE(io.PatchReply(r.iov, 2));
  EXPECT_EQ(r.body.flags, static_cast<std::uint32_t>(kOffered));
  EXPECT_EQ(r.body.minor, 38u) << "nothing else changes";
  EXPECT_TRUE(io.killpriv_v2());
  Reply again(2, 0, 0);
  EXPECT_FALSE(io.PatchReply(again.iov, 2)) << "only once";
}

TEST(KernelIoTest, LeavesTheReplyAloneWhenNotOffered) {
  KernelIo io;
  auto req = Request(FUSE_INIT, 2, 41, FUSE_ASYNC_READ);
  io.SawRequest(req.data(), req.size());
  Reply r(2, 0, FUSE_ASYNC_READ);
  EXPECT_FALSE(io.PatchReply(r.iov, 2));
  EXPECT_EQ(r.body.flags, static_cast<std::uint32_t>(FUSE_ASYNC_READ));
  EXPECT_FALSE(io.killpriv_v2());

  KernelIo old_kernel;  // protocol 7.32 predates the flag
  auto old_req = Request(FUSE_INIT, 2, 32, kOffered);
  old_kernel.SawRequest(old_req.data(), old_req.size());
  Reply o(2, 0, 0);
  EXPECT_FALSE(old_kernel.PatchReply(o.iov, 2));
}

TEST(KernelIoTest, IgnoresOtherRequestsFailedRepliesAndOddShapes) {
  KernelIo io;
  Reply before(2, 0, 0);
  EXPECT_FALSE(io.PatchReply(before.iov, 2)) << "no INIT seen";
  auto lookup = Request(FUSE_LOOKUP, 2, 41, kOffered);
  io.SawRequest(lookup.data(), lookup.size());
  EXPECT_FALSE(io.PatchReply(before.iov, 2));
  auto init = Request(FUSE_INIT, 6, 41, kOffered);
  io.SawRequest(init.data(), 20);  // truncated read
  EXPECT_FALSE(io.PatchReply(before.iov, 2));
  io.SawRequest(init.data(), init.size());
  Reply failed(6, -EPROTO, 0);
  EXPECT_FALSE(io.PatchReply(failed.iov, 2));
  EXPECT_EQ(failed.body.flags, 0u);
  Reply one_iov(6, 0, 0);
  EXPECT_FALSE(io.PatchReply(one_iov.iov, 1));
  Reply short_body(6, 0, 0);
  short_body.iov[1].iov_len = 8;
  EXPECT_FALSE(io.PatchReply(short_body.iov, 2));
  EXPECT_FALSE(io.killpriv_v2());
  Reply ok(6, 0, 0);
  EXPECT_TRUE(io.PatchReply(ok.iov, 2));
}

}  // namespace
}  // namespace shmheap::fs
