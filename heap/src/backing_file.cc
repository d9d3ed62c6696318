// BackingFile: open, create, grow, sync and OFD liveness locks.
#include "heap/src/backing_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <random>

#include "heap/src/format/lock_slot.h"
#include "heap/src/log.h"

static_assert(sizeof(off_t) == 8, "build with _FILE_OFFSET_BITS=64");

namespace shmheap {

namespace {

// Retries a system call interrupted by a signal.
template <typename F>
auto RetryEintr(F f) {
  decltype(f()) r;
  do {
    r = f();
  } while (r == -1 && errno == EINTR);
  return r;
}

struct flock LivenessRange(short type, std::uint32_t slot) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(format::kLivenessLockBase + slot);
  fl.l_len = 1;
  fl.l_pid = 0;  // required for OFD locks
  return fl;
}

std::string TempNameFor(const std::string& path) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::random_device rd;
  return dir + "." + base + ".tmp" + std::to_string(rd()) + std::to_string(getpid());
}

}  // namespace

BackingFile::BackingFile(BackingFile&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

BackingFile& BackingFile::operator=(BackingFile&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

BackingFile::~BackingFile() { Close(); }

void BackingFile::Close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<BackingFile> BackingFile::Open(const std::string& path, bool read_only) {
  int fd = RetryEintr([&] { return ::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC); });
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("fstat " + path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + " is not a regular file");
  }
  return BackingFile(fd, path);
}

Result<BackingFile> BackingFile::CreateAtomically(
    const std::string& path, unsigned mode,
    const std::function<Status(BackingFile&)>& init) {
  std::string tmp = TempNameFor(path);
  int fd = RetryEintr([&] {
    return ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
  });
  if (fd < 0) return Status::FromErrno("create " + tmp, errno);
  BackingFile file(fd, tmp);
  Status s = init(file);
  if (s.ok()) s = file.Sync();
  if (s.ok() && ::link(tmp.c_str(), path.c_str()) != 0) {
    s = Status::FromErrno("link " + path, errno);
  }
  ::unlink(tmp.c_str());
  if (!s.ok()) return s;
  file.path_ = path;
  return file;
}

Result<std::uint64_t> BackingFile::Size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Status::FromErrno("fstat " + path_, errno);
  return static_cast<std::uint64_t>(st.st_size);
}

Status BackingFile::GrowTo(std::uint64_t size) {
  auto cur = Size();
  if (!cur.ok()) return cur.status();
  if (*cur >= size) return Status::Ok();
  int r = RetryEintr([&] {
    return ::fallocate(fd_, 0, static_cast<off_t>(*cur), static_cast<off_t>(size - *cur));
  });
  if (r == 0) return Status::Ok();
  int err = errno;
  if (err != EOPNOTSUPP && err != ENOSYS) {
    return Status::FromErrno("fallocate " + path_ + " to " + std::to_string(size), err);
  }
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) {
    Log()->warn("{}: file system lacks fallocate; growing with ftruncate, so a full disk "
                "may surface as SIGBUS instead of ENOSPC", path_);
  }
  if (RetryEintr([&] { return ::ftruncate(fd_, static_cast<off_t>(size)); }) != 0) {
    return Status::FromErrno("ftruncate " + path_, errno);
  }
  return Status::Ok();
}

Status BackingFile::ExtendTo(std::uint64_t size) {
  auto cur = Size();
  if (!cur.ok()) return cur.status();
  if (*cur >= size) return Status::Ok();
  if (RetryEintr([&] { return ::ftruncate(fd_, static_cast<off_t>(size)); }) != 0) {
    return Status::FromErrno("ftruncate " + path_, errno);
  }
  return Status::Ok();
}

Status BackingFile::Reserve(std::uint64_t offset, std::uint64_t length) {
  int r = RetryEintr([&] {
    return ::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset), static_cast<off_t>(length));
  });
  if (r == 0 || errno == EOPNOTSUPP || errno == ENOSYS) return Status::Ok();
  return Status::FromErrno("fallocate " + path_ + " at " + std::to_string(offset), errno);
}

Status BackingFile::PunchHole(std::uint64_t offset, std::uint64_t length) {
  int r = RetryEintr([&] {
    return ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                       static_cast<off_t>(length));
  });
  if (r == 0) return Status::Ok();
  if (errno == EOPNOTSUPP || errno == ENOSYS) return Status::NotSupported(path_ + " cannot punch holes");
  return Status::FromErrno("punch hole in " + path_ + " at " + std::to_string(offset), errno);
}

Result<std::uint64_t> BackingFile::AllocatedBytes() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Status::FromErrno("fstat " + path_, errno);
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

Status BackingFile::Sync() {
  if (RetryEintr([&] { return ::fsync(fd_); }) != 0) return Status::FromErrno("fsync " + path_, errno);
  return Status::Ok();
}

Status BackingFile::TryLockLiveness(std::uint32_t slot) {
  struct flock fl = LivenessRange(F_WRLCK, slot);
  if (RetryEintr([&] { return ::fcntl(fd_, F_OFD_SETLK, &fl); }) != 0) {
    int err = errno;
    if (err == EAGAIN || err == EACCES) return Status::Busy("liveness lock held");
    return Status::FromErrno("F_OFD_SETLK " + path_, err);
  }
  return Status::Ok();
}

Status BackingFile::UnlockLiveness(std::uint32_t slot) {
  struct flock fl = LivenessRange(F_UNLCK, slot);
  if (RetryEintr([&] { return ::fcntl(fd_, F_OFD_SETLK, &fl); }) != 0) {
    return Status::FromErrno("F_OFD_SETLK unlock " + path_, errno);
  }
  return Status::Ok();
}

Result<bool> BackingFile::IsLivenessHeld(std::uint32_t slot) const {
  struct flock fl = LivenessRange(F_WRLCK, slot);
  if (RetryEintr([&] { return ::fcntl(fd_, F_OFD_GETLK, &fl); }) != 0) {
    return Status::FromErrno("F_OFD_GETLK " + path_, errno);
  }
  return fl.l_type != F_UNLCK;
}

}  // namespace shmheap
