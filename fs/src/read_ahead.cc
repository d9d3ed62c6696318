// ReadAhead: find the mount's backing device, set its read-ahead window.
#include "fs/src/read_ahead.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "fs/src/log.h"

namespace shmheap::fs {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo (octal).
std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const char a = s[i + 1], b = s[i + 2], c = s[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out.push_back(static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> f;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (j > i) f.push_back(line.substr(i, j - i));
    i = j;
  }
  return f;
}

}  // namespace

Result<std::string> MountBdiDir(std::string_view mountinfo, std::string_view mountpoint) {
  std::string found;
  while (!mountinfo.empty()) {
    const std::size_t nl = mountinfo.find('\n');
    const std::string_view line = mountinfo.substr(0, nl);
    mountinfo = nl == std::string_view::npos ? std::string_view() : mountinfo.substr(nl + 1);
    // id parent MAJ:MIN root mount-point options [optional...] - fstype source super-options
    const auto f = Fields(line);
    std::size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 1 >= f.size() || Unescape(f[4]) != mountpoint) continue;
    const std::string_view type = f[dash + 1];
    if (type != "fuse" && type.substr(0, 5) != "fuse.") continue;
    found = "/sys/class/bdi/" + std::string(f[2]);  // FUSE names its bdi MAJ:MIN
  }
  if (found.empty()) return Status::NotFound("no FUSE mount at " + std::string(mountpoint) + " in mountinfo");
  return found;
}

void ReadAhead::FindDevice(const char* mountpoint) {
  if (bytes_ == 0) return;
  if (!mountpoint) return Report("cannot resolve the mount point");
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  auto dir = MountBdiDir(text.str(), mountpoint);
  if (!dir.ok()) return Report(dir.status().message());
  bdi_dir_ = *dir;
}

void ReadAhead::Apply() noexcept {
  try {
    if (bdi_dir_.empty()) return;  // read_ahead=0, or no device found
    const std::string path = bdi_dir_ + "/read_ahead_kb";
    const std::string kib = std::to_string((bytes_ + 1023) / 1024);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ssize_t n = -1;
    int err = errno;
    if (fd >= 0) {
      n = ::write(fd, kib.data(), kib.size());
      err = errno;
      ::close(fd);
    }
    if (n != static_cast<ssize_t>(kib.size())) {
      const std::string why = std::error_code(err, std::generic_category()).message();
      return Report("cannot write " + path + ": " + why + (err == EACCES || err == EPERM ? " (needs root)" : ""));
    }
    Log()->debug("read-ahead window {} KiB ({})", kib, path);
  } catch (const std::exception& e) {
    Log()->warn("read_ahead: {}", e.what());
  }
}

void ReadAhead::Report(std::string_view what) {
  if (explicit_) {
    Log()->warn("read_ahead: {}; the kernel's window (usually 128 KiB) stays", what);
  } else {
    Log()->info("read-ahead left at the kernel's window (usually 128 KiB): {}", what);
  }
}

}  // namespace shmheap::fs
