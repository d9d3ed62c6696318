// Declarations of every FUSE handler (one per fuse_lowlevel_ops field,
// named Op + field name) and MakeOperations, which wires them. Handlers are
// grouped by what they touch: ops_entry.cc, ops_dir.cc, ops_file.cc,
// ops_xattr.cc, ops_lock.cc.
#ifndef SHMHEAP_FS_OPS_H_
#define SHMHEAP_FS_OPS_H_

#include <fuse3/fuse_lowlevel.h>

namespace shmheap::fs {

struct fuse_lowlevel_ops MakeOperations();

void OpInit(void* userdata, struct fuse_conn_info* conn) noexcept;
void OpDestroy(void* userdata) noexcept;
void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept;
void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) noexcept;
void OpForgetMulti(fuse_req_t req, size_t count, struct fuse_forget_data* forgets) noexcept;
void OpGetattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) noexcept;
void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, struct fuse_file_info* fi) noexcept;
void OpStatfs(fuse_req_t req, fuse_ino_t ino) noexcept;

void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) noexcept;
void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept;
void OpMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) noexcept;
void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept;
void OpSymlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) noexcept;
void OpReadlink(fuse_req_t req, fuse_ino_t ino) noexcept;
void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
              unsigned int flags) noexcept;
void OpOpendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) noexcept;
void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi) noexcept;
void OpReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi) noexcept;
void OpReleasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) noexcept;
void OpFsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info* fi) noexcept;

void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, struct fuse_file_info* fi) noexcept;
void OpOpen(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) noexcept;
void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi) noexcept;
void OpWriteBuf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec* bufv, off_t off,
                struct fuse_file_info* fi) noexcept;
void OpFlush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) noexcept;
void OpRelease(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) noexcept;
void OpFsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info* fi) noexcept;
void OpFallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                 struct fuse_file_info* fi) noexcept;

void OpSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int flags) noexcept;
void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) noexcept;
void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) noexcept;
void OpRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) noexcept;

void OpGetlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, struct flock* lock) noexcept;
void OpSetlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, struct flock* lock, int sleep) noexcept;
void OpFlock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, int op) noexcept;

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_OPS_H_
