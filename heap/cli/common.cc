// Helpers shared by the subcommands.
#include <cstdio>
#include <cstdlib>

#include "heap/cli/commands.h"

namespace shmheap::cli {

std::optional<std::uint64_t> ParseSize(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || s[0] == '-') return std::nullopt;
  std::uint64_t mult = 1;
  std::string suffix(end);
  if (suffix == "K" || suffix == "k") mult = 1ull << 10;
  else if (suffix == "M" || suffix == "m") mult = 1ull << 20;
  else if (suffix == "G" || suffix == "g") mult = 1ull << 30;
  else if (suffix == "T" || suffix == "t") mult = 1ull << 40;
  else if (!suffix.empty()) return std::nullopt;
  if (v > ~0ull / mult) return std::nullopt;
  return v * mult;
}

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "shmheap: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

int Usage(const std::string& msg) {
  std::fprintf(stderr, "shmheap: %s (see shmheap --help)\n", msg.c_str());
  return 2;
}

Result<std::unique_ptr<Heap>> OpenExisting(const std::string& path, bool read_only) {
  Options o;
  o.mode = read_only ? OpenMode::kReadOnly : OpenMode::kOpen;
  return Heap::Open(path, o);
}

}  // namespace shmheap::cli
