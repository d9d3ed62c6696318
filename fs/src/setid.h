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
//
// /proc shows a process's own credentials, relative to its own user
// namespace; the kernel decides with the credentials the request runs under
// (nfsd, overlayfs and io_uring override them) and capable() in the initial
// namespace. So the capability counts only for a caller that is no kernel
// thread, lives in the daemon's user namespace, and whose file-system uid
// and gid are the request's: anyone else is treated as lacking it (the
// bits are cleared: the safe side).
#ifndef SHMHEAP_FS_SETID_H_
#define SHMHEAP_FS_SETID_H_

#include <sys/types.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace shmheap::fs {

// What the VFS looks at in the calling process.
struct CallerCreds {
  bool fsetid = false;                // CAP_FSETID in the effective set
  bool kernel_thread = false;         // "Kthread: 1" (nfsd, for one)
  std::uint32_t fsuid = ~0u;          // file-system uid
  std::uint32_t fsgid = ~0u;          // file-system gid
  std::vector<std::uint32_t> groups;  // supplementary groups
  bool InGroup(std::uint32_t gid) const;
};

// Parses /proc/PID/status (CapEff, Uid, Gid, Groups, Kthread). A text that
// lacks CapEff, Uid or Gid yields a caller without the capability and in no
// group, the safe answer: the bits are cleared.
CallerCreds ParseProcStatus(std::string_view status);
// What may be believed of `c` for a request made as `uid`:`gid`
// (fuse_req_ctx): the capability only if `same_userns` and `c` is no
// kernel thread and has exactly those file-system ids; the groups only with
// matching ids. The request's gid always counts as the caller's group.
CallerCreds Vetted(CallerCreds c, bool same_userns, std::uint32_t uid, std::uint32_t gid);
// The vetted credentials of the caller `pid` of a request made as
// `uid`:`gid`; none but the request's gid if /proc cannot tell.
CallerCreds CredsOf(pid_t pid, std::uint32_t uid, std::uint32_t gid);

enum class SetIdCause {
  kModify,  // write, truncate (also by open O_TRUNC), fallocate
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
