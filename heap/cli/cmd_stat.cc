// shmheap stat PATH: use and fragmentation.
#include <cstdio>

#include "heap/cli/commands.h"

namespace shmheap::cli {

int CmdStat(const Args& args) {
  if (args.size() != 1) return Usage("stat takes exactly one PATH");
  auto h = OpenExisting(args[0], true);
  if (!h.ok()) return Fail("stat " + args[0], h.status());
  HeapStats s = (*h)->Stats();
  auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf("heap:                   %s\n", args[0].c_str());
  std::printf("uuid:                   %s\n", s.uuid.c_str());
  std::printf("size:                   %llu bytes (max %llu)\n", u(s.file_size), u(s.max_size));
  std::printf("objects:                %llu (%llu bytes)\n", u(s.objects), u(s.object_bytes));
  std::printf("allocations:            %llu (%llu usable bytes)\n", u(s.allocations), u(s.chunk_bytes));
  std::printf("free:                   %llu bytes in %llu runs (largest %llu)\n", u(s.free_bytes), u(s.free_runs),
              u(s.largest_free_run));
  std::printf("internal fragmentation: %.1f%%\n", 100.0 * s.internal_fragmentation);
  std::printf("external fragmentation: %.1f%%\n", 100.0 * s.external_fragmentation);
  std::printf("clients:                %u\n", s.clients);
  std::printf("recoveries:             %llu\n", u(s.recoveries));
  return 0;
}

}  // namespace shmheap::cli
