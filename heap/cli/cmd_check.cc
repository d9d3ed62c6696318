// shmheap check PATH: attaches (which recovers an interrupted operation) and
// verifies every invariant. Exit 0 if consistent, 1 otherwise.
#include <cstdio>

#include "heap/cli/commands.h"

namespace shmheap::cli {

int CmdCheck(const Args& args) {
  if (args.size() != 1) return Usage("check takes exactly one PATH");
  auto h = OpenExisting(args[0], false);
  if (!h.ok()) return Fail("check " + args[0], h.status());
  auto problems = (*h)->CheckAttached();
  for (const auto& p : problems) std::fprintf(stderr, "%s: %s\n", args[0].c_str(), p.c_str());
  if (!problems.empty()) return 1;
  std::printf("%s: consistent\n", args[0].c_str());
  return 0;
}

}  // namespace shmheap::cli
