// shmheap ls PATH: PUPS map_show. References end their line with
// "-> TARGET", as ls -l shows symbolic links.
#include <cinttypes>
#include <cstdio>
#include <string>

#include <shmheap/reference.hpp>

#include "heap/cli/commands.h"

namespace shmheap::cli {

int CmdLs(const Args& args) {
  if (args.size() != 1) return Usage("ls takes exactly one PATH");
  auto h = OpenExisting(args[0], true);
  if (!h.ok()) return Fail("ls " + args[0], h.status());
  std::printf("%-32s %14s %14s %-16s %10s %s\n", "NAME", "OFFSET", "SIZE", "TYPE", "VERSION", "LOCK");
  for (const auto& o : (*h)->List()) {
    std::string target;
    if (IsReferenceMode(o.attr.mode)) {
      // A read-only attachment cannot pin; a reference's bytes never change.
      auto data = (*h)->Find(o.name);
      if (data.ok()) target = " -> " + std::string(reinterpret_cast<const char*>(data->data()), data->size());
    }
    std::printf("%-32s %14" PRIu64 " %14" PRIu64 " %-16s %10" PRIu64 " %s%s\n", o.name.c_str(), o.offset, o.size,
                o.type.empty() ? "-" : o.type.c_str(), o.version, o.lock_state.c_str(), target.c_str());
  }
  return 0;
}

}  // namespace shmheap::cli
