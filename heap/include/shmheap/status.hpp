// shmheap::Status and shmheap::Result<T>: errors as values.
//
// A Status is a code plus a short message with context (path, object name,
// offset) and, for kIOError, the errno of the failing system call. The OK
// status holds no message and costs one pointer-sized word to return.
// Result<T> holds either a value or a non-OK Status.
//
// Thread safety: a Status or Result is a value; distinct objects may be used
// from distinct threads freely, one object needs external synchronisation.
#ifndef SHMHEAP_STATUS_HPP_
#define SHMHEAP_STATUS_HPP_

#include <cassert>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace shmheap {

enum class Code : int {
  kOk = 0,
  kNotFound,         // no such heap or object
  kAlreadyExists,    // name taken (shmalloc semantics)
  kInvalidArgument,  // bad name, size, mode or flag
  kNoSpace,          // heap at its maximum size, or the disk is full
  kBusy,             // a try-lock found the lock taken
  kPending,          // a request was queued; completion comes later (lockd)
  kDeadlock,         // granting the wait would close a wait-for cycle
  kOwnerDead,        // a lock's owner died; its state was recovered
  kCorruption,       // the backing file violates an invariant
  kVersionMismatch,  // the backing file has an unsupported format version
  kNotSupported,     // the operation or platform is not supported
  kIOError,          // a system call failed; errno() says which
  kTimedOut,         // a timed wait expired
  kInterrupted,      // a wait was cancelled (signal, FUSE interrupt)
  kStale,            // an object id no longer names a live object
  kPermission,       // access denied
};

// Returns a constant, human-readable name for `code` ("NotFound", ...).
const char* CodeName(Code code) noexcept;

class [[nodiscard]] Status {
 public:
  // The OK status. Never fails, never allocates.
  Status() noexcept = default;

  static Status Ok() noexcept { return Status(); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status AlreadyExists(std::string_view msg) { return Status(Code::kAlreadyExists, msg); }
  static Status InvalidArgument(std::string_view msg) { return Status(Code::kInvalidArgument, msg); }
  static Status NoSpace(std::string_view msg) { return Status(Code::kNoSpace, msg); }
  static Status Busy(std::string_view msg) { return Status(Code::kBusy, msg); }
  static Status Pending(std::string_view msg) { return Status(Code::kPending, msg); }
  static Status Deadlock(std::string_view msg) { return Status(Code::kDeadlock, msg); }
  static Status OwnerDead(std::string_view msg) { return Status(Code::kOwnerDead, msg); }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status VersionMismatch(std::string_view msg) { return Status(Code::kVersionMismatch, msg); }
  static Status NotSupported(std::string_view msg) { return Status(Code::kNotSupported, msg); }
  static Status TimedOut(std::string_view msg) { return Status(Code::kTimedOut, msg); }
  static Status Interrupted(std::string_view msg) { return Status(Code::kInterrupted, msg); }
  static Status Stale(std::string_view msg) { return Status(Code::kStale, msg); }
  static Status Permission(std::string_view msg) { return Status(Code::kPermission, msg); }
  // An I/O error from a failed system call; `err` is its errno.
  static Status IOError(std::string_view msg, int err) { return Status(Code::kIOError, msg, err); }
  // Wraps errno from a failed system call, choosing the closest code
  // (ENOENT -> kNotFound, ENOSPC -> kNoSpace, EEXIST -> kAlreadyExists, ...).
  static Status FromErrno(std::string_view msg, int err);

  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  bool ok() const noexcept { return rep_ == nullptr; }
  Code code() const noexcept { return rep_ ? rep_->code : Code::kOk; }
  bool Is(Code c) const noexcept { return code() == c; }
  // The errno of a kIOError (0 for other codes).
  int sys_errno() const noexcept { return rep_ ? rep_->err : 0; }
  std::string_view message() const noexcept {
    return rep_ ? std::string_view(rep_->msg) : std::string_view();
  }
  // "Code: message" (and the strerror text for kIOError). "OK" for success.
  std::string ToString() const;
  // The errno that best describes this status at a POSIX boundary:
  // kNotFound->ENOENT, kAlreadyExists->EEXIST, kInvalidArgument->EINVAL,
  // kNoSpace->ENOSPC (EDQUOT or EFBIG if a system call said so),
  // kBusy->EAGAIN, kDeadlock->EDEADLK, kOwnerDead->EOWNERDEAD,
  // kCorruption->EUCLEAN, kVersionMismatch->EPROTO, kNotSupported->EOPNOTSUPP,
  // kIOError->its errno (EIO if none), kTimedOut->ETIMEDOUT, kInterrupted->EINTR,
  // kStale->ESTALE, kPermission->EACCES, kPending->EINPROGRESS, kOk->0.
  int ToErrno() const noexcept;

  // Returns a copy whose message is "`prefix`: <message>".
  Status WithContext(std::string_view prefix) const;

 private:
  struct Rep {
    Code code;
    int err;
    std::string msg;
  };
  Status(Code code, std::string_view msg, int err = 0);
  std::unique_ptr<Rep> rep_;
};

// Either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result needs a value or an error");
  }

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  // REQUIRES: ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // The error; the OK status when a value is held.
  Status status() const { return ok() ? Status() : std::get<1>(v_); }
  Code code() const noexcept { return ok() ? Code::kOk : std::get<1>(v_).code(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace shmheap

// Evaluates `expr` (a Status); returns it from the enclosing function if not OK.
#define SHMHEAP_RETURN_IF_ERROR(expr)                 \
  do {                                                \
    ::shmheap::Status shmheap_status_tmp_ = (expr);   \
    if (!shmheap_status_tmp_.ok()) return shmheap_status_tmp_; \
  } while (0)

#endif  // SHMHEAP_STATUS_HPP_
