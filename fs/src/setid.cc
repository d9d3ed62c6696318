// Set-ID clearing rules (see setid.h).
#include "fs/src/setid.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

#include "fs/src/log.h"

namespace shmheap::fs {
namespace {

constexpr int kCapFsetid = 4;  // linux/capability.h

// The value of "Key:\t..." in a /proc status text, or empty.
std::string_view Field(std::string_view text, std::string_view key) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      return line.substr(key.size() + 1);
    }
    at = end + 1;
  }
  return {};
}

// Splits whitespace-separated unsigned numbers in `base`; false on garbage.
bool Numbers(std::string_view s, int base, std::vector<std::uint64_t>* out) {
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i == s.size()) break;
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v, base);
    if (ec != std::errc() || (p != s.data() + s.size() && *p != ' ' && *p != '\t')) return false;
    out->push_back(v);
    i = static_cast<std::size_t>(p - s.data());
  }
  return true;
}

}  // namespace

bool CallerCreds::InGroup(std::uint32_t gid) const {
  return gid == fsgid || std::find(groups.begin(), groups.end(), gid) != groups.end();
}

CallerCreds ParseProcStatus(std::string_view status) {
  CallerCreds c;
  std::vector<std::uint64_t> cap, uids, gids, groups, kthread;
  if (!Numbers(Field(status, "CapEff"), 16, &cap) || cap.size() != 1 ||
      !Numbers(Field(status, "Uid"), 10, &uids) || uids.size() != 4 ||
      !Numbers(Field(status, "Gid"), 10, &gids) || gids.size() != 4 ||
      !Numbers(Field(status, "Groups"), 10, &groups) || !Numbers(Field(status, "Kthread"), 10, &kthread)) {
    return c;
  }
  c.fsetid = (cap[0] >> kCapFsetid) & 1;
  c.kernel_thread = !kthread.empty() && kthread[0] != 0;
  c.fsuid = static_cast<std::uint32_t>(uids[3]);
  c.fsgid = static_cast<std::uint32_t>(gids[3]);
  for (std::uint64_t g : groups) c.groups.push_back(static_cast<std::uint32_t>(g));
  return c;
}

CallerCreds Vetted(CallerCreds c, bool same_userns, std::uint32_t uid, std::uint32_t gid) {
  const bool ids_match = c.fsuid == uid && c.fsgid == gid;
  if (!ids_match) c.groups.clear();
  if (!ids_match || !same_userns || c.kernel_thread) c.fsetid = false;
  c.fsuid = uid;
  c.fsgid = gid;
  return c;
}

CallerCreds CredsOf(pid_t pid, std::uint32_t uid, std::uint32_t gid) {
  CallerCreds none;
  if (pid <= 0) return Vetted(none, false, uid, gid);
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream in(dir + "/status");
  if (!in) {
    SPDLOG_LOGGER_DEBUG(Log(), "cannot read {}/status: the caller counts as lacking CAP_FSETID", dir);
    return Vetted(none, false, uid, gid);
  }
  std::ostringstream text;
  text << in.rdbuf();
  struct stat theirs {}, ours {};
  const bool same_userns = ::stat((dir + "/ns/user").c_str(), &theirs) == 0 &&
                           ::stat("/proc/self/ns/user", &ours) == 0 && theirs.st_ino == ours.st_ino &&
                           theirs.st_dev == ours.st_dev;
  return Vetted(ParseProcStatus(text.str()), same_userns, uid, gid);
}

std::uint32_t SetIdBitsToDrop(std::uint32_t mode, std::uint32_t file_gid, SetIdCause cause,
                              const CallerCreds& caller) {
  if (!S_ISREG(mode) && (mode & S_IFMT) != 0) return 0;
  std::uint32_t drop = 0;
  if (mode & S_ISUID) drop |= S_ISUID;
  // setattr_should_drop_sgid: a setgid executable always; a setgid file
  // without group execute (a mandatory-locking mark) only for a caller
  // outside its group and without CAP_FSETID.
  if ((mode & S_ISGID) && ((mode & S_IXGRP) || (!caller.InGroup(file_gid) && !caller.fsetid))) drop |= S_ISGID;
  // chown clears them whoever calls; a write or truncate only if the caller
  // lacks CAP_FSETID.
  if (cause == SetIdCause::kModify && caller.fsetid) return 0;
  return drop;
}

}  // namespace shmheap::fs
