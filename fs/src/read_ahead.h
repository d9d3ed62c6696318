// The mount's read-ahead window.
//
// The kernel starts every FUSE mount with the default 128 KiB read-ahead and
// never lets INIT raise it: it offers the mount's current window as
// max_readahead, libfuse keeps the smaller of that and the daemon's wish,
// and the kernel applies the smaller again. So sequential reads of an object
// would reach us as 128 KiB requests, one or two in flight. The only way up
// is the mount's backing-device tunable /sys/class/bdi/MAJ:MIN/read_ahead_kb
// (root only), and only once INIT has been answered: writing it earlier is
// undone by INIT. libfuse's FAQ ("read-ahead") gives the same recipe.
//
// ReadAhead finds the device right after the mount (from /proc/self/mountinfo:
// stat(2) of our own mount point would wait for INIT, which nobody answers
// before the session loop runs) and sets the window at the first open, the
// earliest request that is sure to come after INIT and before any read.
#ifndef SHMHEAP_FS_READ_AHEAD_H_
#define SHMHEAP_FS_READ_AHEAD_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include <shmheap/status.hpp>

namespace shmheap::fs {

// The sysfs directory of the backing device of the newest mount at
// `mountpoint` (an absolute path without symbolic links), read from
// `mountinfo` (the text of /proc/self/mountinfo). kNotFound if none.
Result<std::string> MountBdiDir(std::string_view mountinfo, std::string_view mountpoint);

class ReadAhead {
 public:
  // `bytes` == 0 leaves the kernel's window alone. `explicit_request`: the
  // user asked for it, so failing to set it is a warning, not a note.
  ReadAhead(std::uint64_t bytes, bool explicit_request) : bytes_(bytes), explicit_(explicit_request) {}

  // Right after the mount: finds the mount's device. Failure is logged and
  // leaves the kernel's window alone.
  void FindDevice(const std::string& mountpoint);
  // At every open: the first call sets the window (cheap afterwards).
  void ApplyOnce() {
    std::call_once(once_, [this] { Apply(); });
  }

 private:
  void Apply();
  void Report(std::string_view what);

  const std::uint64_t bytes_;
  const bool explicit_;
  std::string bdi_dir_;  // set before the session loop starts, then read-only
  std::once_flag once_;
};

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_READ_AHEAD_H_
