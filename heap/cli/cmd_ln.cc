// shmheap ln PATH NAME TARGET: creates reference NAME to TARGET ("OBJECT" or
// "../HEAP/OBJECT"; see <shmheap/reference.hpp>), a symlink on the mount.
#include <shmheap/reference.hpp>

#include "heap/cli/commands.h"

namespace shmheap::cli {

int CmdLn(const Args& args) {
  if (args.size() != 3) return Usage("ln takes PATH NAME TARGET");
  auto h = OpenExisting(args[0], false);
  if (!h.ok()) return Fail("ln " + args[0], h.status());
  auto id = CreateReference(**h, args[1], args[2]);
  return id.ok() ? 0 : Fail("ln " + args[1], id.status());
}

}  // namespace shmheap::cli
