// shmheap cat PATH NAME: writes the object's current version to stdout,
// holding a READ lock so that no library writer changes it meanwhile.
#include <cstdio>

#include "heap/cli/commands.h"

namespace shmheap::cli {

int CmdCat(const Args& args) {
  if (args.size() != 2) return Usage("cat takes PATH NAME");
  auto h = OpenExisting(args[0], false);
  if (!h.ok()) return Fail("cat " + args[0], h.status());
  auto g = (*h)->Lock(args[1], LockMode::kRead);
  if (!g.ok()) return Fail("cat " + args[1], g.status());
  auto d = g->data();
  if (!d.empty() && std::fwrite(d.data(), 1, d.size(), stdout) != d.size()) {
    return Fail("cat: write", Status::IOError("stdout", EIO));
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace shmheap::cli
