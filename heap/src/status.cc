// Status implementation and the single Status -> errno table (ToErrno).
#include <cerrno>
#include <cstring>

#include <shmheap/status.hpp>

namespace shmheap {

const char* CodeName(Code code) noexcept {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kNotFound: return "NotFound";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kNoSpace: return "NoSpace";
    case Code::kBusy: return "Busy";
    case Code::kPending: return "Pending";
    case Code::kDeadlock: return "Deadlock";
    case Code::kOwnerDead: return "OwnerDead";
    case Code::kCorruption: return "Corruption";
    case Code::kVersionMismatch: return "VersionMismatch";
    case Code::kNotSupported: return "NotSupported";
    case Code::kIOError: return "IOError";
    case Code::kTimedOut: return "TimedOut";
    case Code::kInterrupted: return "Interrupted";
    case Code::kStale: return "Stale";
    case Code::kPermission: return "Permission";
  }
  return "Unknown";
}

Status::Status(Code code, std::string_view msg, int err)
    : rep_(std::make_unique<Rep>(Rep{code, err, std::string(msg)})) {}

Status::Status(const Status& other)
    : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}

Status& Status::operator=(const Status& other) {
  if (this != &other) rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
  return *this;
}

Status Status::FromErrno(std::string_view msg, int err) {
  switch (err) {
    case ENOENT: return Status(Code::kNotFound, msg, err);
    case EEXIST: return Status(Code::kAlreadyExists, msg, err);
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return Status(Code::kNoSpace, msg, err);
    case EINVAL: return Status(Code::kInvalidArgument, msg, err);
    case EACCES:
    case EPERM:
    case EROFS: return Status(Code::kPermission, msg, err);
    case EAGAIN: return Status(Code::kBusy, msg, err);
    case EINTR: return Status(Code::kInterrupted, msg, err);
    case ETIMEDOUT: return Status(Code::kTimedOut, msg, err);
    case EOPNOTSUPP: return Status(Code::kNotSupported, msg, err);
    default: return Status(Code::kIOError, msg, err);
  }
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = CodeName(rep_->code);
  if (!rep_->msg.empty()) {
    s += ": ";
    s += rep_->msg;
  }
  if (rep_->err != 0) {
    s += " (";
    s += std::strerror(rep_->err);
    s += ")";
  }
  return s;
}

int Status::ToErrno() const noexcept {
  switch (code()) {
    case Code::kOk: return 0;
    case Code::kNotFound: return ENOENT;
    case Code::kAlreadyExists: return EEXIST;
    case Code::kInvalidArgument: return EINVAL;
    case Code::kNoSpace: return rep_->err != 0 ? rep_->err : ENOSPC;  // EDQUOT, EFBIG stay themselves
    case Code::kBusy: return EAGAIN;
    case Code::kPending: return EINPROGRESS;
    case Code::kDeadlock: return EDEADLK;
    case Code::kOwnerDead: return EOWNERDEAD;
    case Code::kCorruption: return EUCLEAN;
    case Code::kVersionMismatch: return EPROTO;
    case Code::kNotSupported: return EOPNOTSUPP;
    case Code::kIOError: return rep_->err != 0 ? rep_->err : EIO;
    case Code::kTimedOut: return ETIMEDOUT;
    case Code::kInterrupted: return EINTR;
    case Code::kStale: return ESTALE;
    case Code::kPermission: return rep_->err != 0 ? rep_->err : EACCES;
  }
  return EIO;
}

Status Status::WithContext(std::string_view prefix) const {
  if (ok()) return Status();
  std::string msg(prefix);
  msg += ": ";
  msg += rep_->msg;
  return Status(rep_->code, msg, rep_->err);
}

}  // namespace shmheap
