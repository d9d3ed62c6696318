// KernelIo: the daemon's reads and writes of /dev/fuse, through libfuse's
// custom-I/O hooks (fuse_session_custom_io), for what libfuse 3.14 cannot
// negotiate or pass on itself.
//
// FUSE_HANDLE_KILLPRIV_V2. Without it the kernel sends, before every write(2)
// to a file, a GETXATTR(security.capability) to learn whether the write must
// clear file capabilities: two round trips per small write instead of one.
// With it, the kernel marks the mount SB_NOSEC and asks once per inode; the
// daemon then clears the set-user-ID and set-group-ID bits itself on write,
// truncate, fallocate and chown (fs/src/setid.h). libfuse 3.14 knows neither the INIT
// flag nor the per-request FUSE_WRITE_KILL_SUIDGID / FATTR_KILL_SUIDGID
// bits, so KernelIo adds the flag to the INIT reply on its way out, only if
// the kernel offered it; the daemon decides the kills from the caller's
// CAP_FSETID as the kernel would (fs/src/setid.h).
//
// Every other byte passes through unchanged; splice stays in use (hooks for
// both directions are given, or libfuse would stop splicing).
#ifndef SHMHEAP_FS_KERNEL_IO_H_
#define SHMHEAP_FS_KERNEL_IO_H_

#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <shmheap/status.hpp>

struct fuse_session;

namespace shmheap::fs {

class KernelIo {
 public:
  // Installs the hooks on `se`, which must already be mounted (its fd is
  // reused). If libfuse refuses them the session runs as before, without
  // KILLPRIV_V2 (the caller logs the error and goes on). One KernelIo per
  // process: the hooks find it through a static pointer (libfuse hands
  // them the session's userdata, which is the Filesystem).
  [[nodiscard]] Status Install(struct fuse_session* se);

  // True once the INIT reply went out with FUSE_HANDLE_KILLPRIV_V2: the
  // daemon must clear set-user/group-ID bits itself from then on.
  bool killpriv_v2() const { return killpriv_v2_.load(std::memory_order_acquire); }

  // The pure parts, for tests. Looks at a request just read from the
  // device: if it is INIT, remembers its unique id and whether the kernel
  // offers KILLPRIV_V2.
  void SawRequest(const void* buf, std::size_t len);
  // If `iov` is the successful reply to the INIT remembered by SawRequest
  // and the kernel offered KILLPRIV_V2, sets the flag in it (and
  // killpriv_v2()). True if this added the flag.
  bool PatchReply(struct iovec* iov, int count);

 private:
  std::atomic<std::uint64_t> init_unique_{0};
  std::atomic<bool> offered_{false};
  std::atomic<bool> answered_{false};  // the INIT reply went out
  std::atomic<bool> killpriv_v2_{false};
};

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_KERNEL_IO_H_
