// The mount's read-ahead window.
//
// The kernel starts every FUSE mount with the default 128 KiB read-ahead and
// never lets INIT raise it: it offers the mount's current window as
// max_readahead, and applies the smaller of that window and the daemon's
// answer. So sequential reads of an object would reach us as 128 KiB
// requests, one or two in flight. The way up is the mount's backing-device
// tunable /sys/class/bdi/MAJ:MIN/read_ahead_kb (root only), written once
// INIT has been answered, which would otherwise lower it again. Done at the
// first open, this holds whatever libfuse does with max_readahead. libfuse's
// FAQ ("read-ahead") gives the same recipe.
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

// The read_ahead option's bounds: 0 (the kernel's window), or a page to 1 GiB.
inline constexpr std::uint64_t kMinReadAhead = 4096;
inline constexpr std::uint64_t kMaxReadAhead = 1ull << 30;

// The sysfs directory of the backing device of the newest mount at
// `mountpoint` (an absolute path without symbolic links), read from
// `mountinfo` (the text of /proc/self/mountinfo). kNotFound if none.
Result<std::string> MountBdiDir(std::string_view mountinfo, std::string_view mountpoint);

class ReadAhead {
 public:
  // `bytes` == 0 leaves the kernel's window alone. `explicit_request`: the
  // user asked for it, so failing to set it is a warning, not a note.
  ReadAhead(std::uint64_t bytes, bool explicit_request) : bytes_(bytes), explicit_(explicit_request) {}

  // Right after the mount: finds the device of the mount at `mountpoint`
  // (canonical: realpath before mounting; nullptr if that failed). Failure
  // is logged and leaves the kernel's window alone. Not for mount points
  // passed as /dev/fd/N (mount.fuse3 -o drop_privileges).
  void FindDevice(const char* mountpoint);
  // At every open: the first call sets the window (cheap afterwards).
  // Never throws: a tuning step must not fail an open.
  void ApplyOnce() noexcept {
    std::call_once(once_, [this] { Apply(); });
  }

 private:
  void Apply() noexcept;
  void Report(std::string_view what);

  const std::uint64_t bytes_;
  const bool explicit_;
  std::string bdi_dir_;  // set before the session loop starts, then read-only
  std::once_flag once_;
};

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_READ_AHEAD_H_
