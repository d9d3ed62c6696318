// MakeOperations: the only place handlers are named, one line per
// fuse_lowlevel_ops field. Defining getlk/setlk and flock makes libfuse
// request FUSE_CAP_POSIX_LOCKS and FUSE_CAP_FLOCK_LOCKS, so the kernel sends
// every lock request here instead of keeping locks local.
#include "fs/src/ops.h"

namespace shmheap::fs {

struct fuse_lowlevel_ops MakeOperations() {
  struct fuse_lowlevel_ops ops {};
  ops.init = OpInit;
  ops.destroy = OpDestroy;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetattr;
  ops.setattr = OpSetattr;
  ops.statfs = OpStatfs;
  ops.mkdir = OpMkdir;
  ops.rmdir = OpRmdir;
  ops.mknod = OpMknod;
  ops.unlink = OpUnlink;
  ops.symlink = OpSymlink;
  ops.readlink = OpReadlink;
  ops.rename = OpRename;
  ops.opendir = OpOpendir;
  ops.readdir = OpReaddir;
  ops.readdirplus = OpReaddirplus;
  ops.releasedir = OpReleasedir;
  ops.fsyncdir = OpFsyncdir;
  ops.create = OpCreate;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.write_buf = OpWriteBuf;
  ops.flush = OpFlush;
  ops.release = OpRelease;
  ops.fsync = OpFsync;
  ops.fallocate = OpFallocate;
  ops.setxattr = OpSetxattr;
  ops.getxattr = OpGetxattr;
  ops.listxattr = OpListxattr;
  ops.removexattr = OpRemovexattr;
  ops.getlk = OpGetlk;
  ops.setlk = OpSetlk;
  ops.flock = OpFlock;
  return ops;
}

}  // namespace shmheap::fs
