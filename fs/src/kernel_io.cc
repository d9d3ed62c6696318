// KernelIo implementation (see kernel_io.h).
#include "fs/src/kernel_io.h"

#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <linux/fuse.h>
#include <unistd.h>

#include <cstring>

#include "fs/src/log.h"

namespace shmheap::fs {
namespace {

std::atomic<KernelIo*> g_io{nullptr};

ssize_t HookRead(int fd, void* buf, std::size_t len, void*) {
  const ssize_t n = ::read(fd, buf, len);
  if (n > 0) {
    if (KernelIo* io = g_io.load(std::memory_order_acquire)) io->SawRequest(buf, static_cast<std::size_t>(n));
  }
  return n;
}

ssize_t HookWritev(int fd, struct iovec* iov, int count, void*) {
  if (KernelIo* io = g_io.load(std::memory_order_acquire)) io->PatchReply(iov, count);
  return ::writev(fd, iov, count);
}

// Both directions: libfuse splices only through hooks it is given.
ssize_t HookSplice(int fdin, off_t* offin, int fdout, off_t* offout, std::size_t len, unsigned flags, void*) {
  return ::splice(fdin, offin, fdout, offout, len, flags);
}

}  // namespace

Status KernelIo::Install(struct fuse_session* se) {
  static const struct fuse_custom_io kHooks = {HookWritev, HookRead, HookSplice, HookSplice};
  g_io.store(this, std::memory_order_release);
  const int rc = fuse_session_custom_io(se, &kHooks, fuse_session_fd(se));
  if (rc != 0) {
    g_io.store(nullptr, std::memory_order_release);
    return Status::FromErrno("libfuse refused custom I/O (every write(2) will cost a GETXATTR too)", -rc);
  }
  return Status::Ok();
}

void KernelIo::SawRequest(const void* buf, std::size_t len) {
  if (init_unique_.load(std::memory_order_relaxed) != 0 || len < sizeof(fuse_in_header) + sizeof(std::uint32_t) * 4) {
    return;
  }
  fuse_in_header in;
  std::memcpy(&in, buf, sizeof(in));
  if (in.opcode != FUSE_INIT || in.len > len) return;
  // fuse_init_in: major, minor, max_readahead, flags (every version has them).
  std::uint32_t words[4];
  std::memcpy(words, static_cast<const char*>(buf) + sizeof(in), sizeof(words));
  offered_.store(words[0] == 7 && words[1] >= 33 && (words[3] & FUSE_HANDLE_KILLPRIV_V2) != 0,
                 std::memory_order_relaxed);
  init_unique_.store(in.unique, std::memory_order_release);
}

bool KernelIo::PatchReply(struct iovec* iov, int count) {
  const std::uint64_t unique = init_unique_.load(std::memory_order_acquire);
  if (unique == 0 || answered_.load(std::memory_order_relaxed)) return false;
  // libfuse sends a reply as {fuse_out_header, body}.
  if (count < 2 || iov[0].iov_len != sizeof(fuse_out_header) ||
      iov[1].iov_len < offsetof(fuse_init_out, flags) + sizeof(std::uint32_t)) {
    return false;
  }
  fuse_out_header out;
  std::memcpy(&out, iov[0].iov_base, sizeof(out));
  if (out.unique != unique || out.error != 0) return false;
  answered_.store(true, std::memory_order_relaxed);
  if (!offered_.load(std::memory_order_relaxed)) {
    Log()->info("the kernel does not offer FUSE_HANDLE_KILLPRIV_V2: every write(2) costs a GETXATTR too");
    return false;
  }
  auto* body = static_cast<char*>(iov[1].iov_base);
  std::uint32_t flags;
  std::memcpy(&flags, body + offsetof(fuse_init_out, flags), sizeof(flags));
  const bool added = (flags & FUSE_HANDLE_KILLPRIV_V2) == 0;  // a newer libfuse may ask itself
  flags |= FUSE_HANDLE_KILLPRIV_V2;
  std::memcpy(body + offsetof(fuse_init_out, flags), &flags, sizeof(flags));
  killpriv_v2_.store(true, std::memory_order_release);
  SPDLOG_LOGGER_DEBUG(Log(), "INIT reply: FUSE_HANDLE_KILLPRIV_V2 (set-ID bits are cleared by the daemon)");
  return added;
}

}  // namespace shmheap::fs
