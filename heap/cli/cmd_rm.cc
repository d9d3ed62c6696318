// shmheap rm PATH NAME...: removes objects.
#include "heap/cli/commands.h"

namespace shmheap::cli {

int CmdRm(const Args& args) {
  if (args.size() < 2) return Usage("rm takes PATH NAME...");
  auto h = OpenExisting(args[0], false);
  if (!h.ok()) return Fail("rm " + args[0], h.status());
  int rc = 0;
  for (std::size_t i = 1; i < args.size(); ++i) {
    Status s = (*h)->Remove(args[i]);
    if (!s.ok()) rc = Fail("rm " + args[i], s);
  }
  return rc;
}

}  // namespace shmheap::cli
