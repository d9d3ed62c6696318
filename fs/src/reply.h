// Reply helpers: every handler ends in exactly one fuse_reply_* call, and
// errors reach the kernel as precise errnos through Status::ToErrno.
#ifndef SHMHEAP_FS_REPLY_H_
#define SHMHEAP_FS_REPLY_H_

#include <fuse3/fuse_lowlevel.h>

#include <exception>
#include <new>

#include <shmheap/status.hpp>

namespace shmheap::fs {

// Replies with the errno of `s` (logging it at error level when it signals a
// fault an operator must see: EIO, EUCLEAN, ...). `op` names the operation.
void ReplyError(fuse_req_t req, const Status& s, const char* op);
void ReplyErrno(fuse_req_t req, int err);

// Runs a handler body; an escaping exception becomes ENOMEM (bad_alloc) or
// EIO, logged at error. Exceptions never reach libfuse. The body must reply
// exactly once unless it throws before replying.
template <typename F>
void Guarded(fuse_req_t req, const char* op, F&& body) noexcept {
  try {
    body();
  } catch (const std::bad_alloc&) {
    ReplyErrno(req, ENOMEM);
  } catch (const std::exception& e) {
    ReplyError(req, Status::IOError(std::string(op) + ": " + e.what(), EIO), op);
  } catch (...) {
    ReplyError(req, Status::IOError(std::string(op) + ": unknown exception", EIO), op);
  }
}

// For handlers that send no reply (forget, forget_multi).
void LogUnexpected(const char* op) noexcept;
template <typename F>
void GuardedNoReply(const char* op, F&& body) noexcept {
  try {
    body();
  } catch (...) {
    LogUnexpected(op);
  }
}

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_REPLY_H_
