// Reply helpers.
#include "fs/src/reply.h"

#include "fs/src/log.h"

namespace shmheap::fs {

void ReplyErrno(fuse_req_t req, int err) { fuse_reply_err(req, err); }

void LogUnexpected(const char* op) noexcept {
  try {
    Log()->error("{}: unexpected exception", op);
  } catch (...) {
  }
}

void ReplyError(fuse_req_t req, const Status& s, const char* op) {
  const int err = s.ToErrno();
  switch (s.code()) {
    case Code::kCorruption:
    case Code::kIOError:
    case Code::kVersionMismatch:
      Log()->error("{}: {}", op, s.ToString());
      break;
    default:
      SPDLOG_LOGGER_DEBUG(Log(), "{}: {}", op, s.ToString());
  }
  fuse_reply_err(req, err == 0 ? EIO : err);
}

}  // namespace shmheap::fs
