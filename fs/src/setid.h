// Clearing set-user-ID and set-group-ID bits the way the kernel's VFS does,
// for the cases where the kernel leaves it to the daemon.
//
// A local file system loses S_ISUID (and S_ISGID when it marks a setgid
// executable) when a caller without CAP_FSETID writes, truncates or
// extends it, and on every chown. Over FUSE the kernel does this itself
// with a SETATTR, except:
//  - open(O_TRUNC) with atomic_o_trunc (which libfuse turns on): the kernel
//    skips the truncating SETATTR, and the mode change with it, so the
//    daemon's OPEN must clear the bits;
//  - under FUSE_HANDLE_KILLPRIV_V2 (kernel_io.h): the kernel drops its own
//    mode change and expects the daemon to clear the bits on write,
//    truncate, fallocate and chown.
// The rules below are the VFS's (should_remove_suid, setattr_should_drop_sgid
// in fs/attr.c), with the caller's capability and groups read from
// /proc/PID/status only when the object has such a bit at all.
#ifndef SHMHEAP_FS_SETID_H_
#define SHMHEAP_FS_SETID_H_

#include <sys/types.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace shmheap::fs {

// What the VFS looks at in the calling process.
struct CallerCreds {
  bool fsetid = false;           // CAP_FSETID in the effective set
  std::uint32_t fsgid = ~0u;     // file-system gid
  std::vector<std::uint32_t> groups;  // supplementary groups
  bool InGroup(std::uint32_t gid) const;
};

// Parses /proc/PID/status (CapEff, Gid, Groups). A text that lacks CapEff
// or Gid yields a caller without the capability and in no group, the safe
// answer: the bits are cleared.
CallerCreds ParseProcStatus(std::string_view status);
// The credentials of process `pid`, by ParseProcStatus (none if unreadable).
CallerCreds CredsOf(pid_t pid);

enum class SetIdCause {
  kModify,  // write, truncate (also by open O_TRUNC), size-changing fallocate
  kChown,   // chown(2), whatever it changes
};

// True if `mode` has a bit some cause could clear (S_ISUID, or S_ISGID):
// when false, nothing needs the caller's credentials.
inline bool HasSetIdBits(std::uint32_t mode) { return (mode & 06000u) != 0; }

// The bits (S_ISUID and/or S_ISGID) the VFS would clear from a regular
// file of `mode` and group `file_gid` for `cause` by `caller`.
std::uint32_t SetIdBitsToDrop(std::uint32_t mode, std::uint32_t file_gid, SetIdCause cause,
                              const CallerCreds& caller);

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_SETID_H_
