// shmheap create PATH [--max-size N] [--initial-size N]
#include <cstdio>

#include "heap/cli/commands.h"

namespace shmheap::cli {

int CmdCreate(const Args& args) {
  Options o;
  o.mode = OpenMode::kCreate;
  std::string path;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "--max-size" || args[i] == "--initial-size") && i + 1 < args.size()) {
      auto v = ParseSize(args[i + 1]);
      if (!v) return Usage("bad size '" + args[i + 1] + "'");
      (args[i] == "--max-size" ? o.max_size : o.initial_size) = *v;
      ++i;
    } else if (path.empty() && args[i][0] != '-') {
      path = args[i];
    } else {
      return Usage("unexpected argument '" + args[i] + "'");
    }
  }
  if (path.empty()) return Usage("create needs a PATH");
  auto h = Heap::Open(path, o);
  if (!h.ok()) return Fail("create " + path, h.status());
  std::printf("created %s (max size %llu bytes)\n", path.c_str(),
              static_cast<unsigned long long>((*h)->max_size()));
  return 0;
}

}  // namespace shmheap::cli
