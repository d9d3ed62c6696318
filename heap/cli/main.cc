// shmheap: command-line access to shared heaps.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <map>

#include "heap/cli/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: shmheap COMMAND ARGS...\n"
    "  create PATH [--max-size N] [--initial-size N]   create a heap\n"
    "  ls PATH                     list objects (map_show: name, offset, size, type, version, lock)\n"
    "  clients PATH                list attached processes (client_show)\n"
    "  stat PATH                   use and fragmentation\n"
    "  check PATH                  verify every invariant (exit 1 if inconsistent)\n"
    "  put PATH NAME FILE          store FILE ('-' = stdin) as object NAME (replacing it)\n"
    "  cat PATH NAME               write object NAME to stdout\n"
    "  rm PATH NAME...             remove objects\n"
    "  ln PATH NAME TARGET         create reference NAME to OBJECT or ../HEAP/OBJECT (a symlink on the mount)\n"
    "options: -v (debug log), --version, --help\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace shmheap::cli;
  auto logger = std::make_shared<spdlog::logger>("shmheap", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_level(spdlog::level::warn);
  logger->set_pattern("shmheap: %l: %v");
  spdlog::register_logger(logger);
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--version") {
      std::puts("shmheap 0.1.0 (heap format 2)");
      return 0;
    }
    if (a == "-v") {
      logger->set_level(spdlog::level::debug);
      continue;
    }
    args.push_back(a);
  }
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  static const std::map<std::string, int (*)(const Args&)> commands = {
      {"create", CmdCreate}, {"ls", CmdLs},   {"clients", CmdClients}, {"stat", CmdStat},
      {"check", CmdCheck},   {"put", CmdPut}, {"cat", CmdCat},         {"rm", CmdRm},
      {"ln", CmdLn}};
  auto it = commands.find(args[0]);
  if (it == commands.end()) return Usage("unknown command '" + args[0] + "'");
  args.erase(args.begin());
  try {
    return it->second(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmheap: %s\n", e.what());
    return 1;
  }
}
