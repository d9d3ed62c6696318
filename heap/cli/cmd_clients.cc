// shmheap clients PATH: PUPS client_show.
#include <cstdio>
#include <ctime>

#include "heap/cli/commands.h"

namespace shmheap::cli {

int CmdClients(const Args& args) {
  if (args.size() != 1) return Usage("clients takes exactly one PATH");
  auto h = OpenExisting(args[0], true);
  if (!h.ok()) return Fail("clients " + args[0], h.status());
  std::printf("%-5s %8s %-24s %4s %-20s %s\n", "SLOT", "PID", "HOST", "BITS", "ATTACHED", "STATE");
  for (const auto& c : (*h)->Clients()) {
    std::time_t t = static_cast<std::time_t>(c.attach_time_ns / 1'000'000'000);
    char when[32] = "?";
    struct tm tm {};
    if (localtime_r(&t, &tm)) std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    std::printf("%-5u %8u %-24s %4u %-20s %s\n", c.slot, c.pid, c.host.c_str(), c.word_size, when,
                c.alive ? "alive" : "dead");
  }
  return 0;
}

}  // namespace shmheap::cli
