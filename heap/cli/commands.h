// The `shmheap` command-line tool: one function per subcommand, plus the
// shared helpers. The tool uses only the public C++ API.
#ifndef SHMHEAP_CLI_COMMANDS_H_
#define SHMHEAP_CLI_COMMANDS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <shmheap/heap.hpp>

namespace shmheap::cli {

using Args = std::vector<std::string>;

// Each returns the process exit status: 0 success, 1 failure, 2 bad usage.
int CmdCreate(const Args& args);
int CmdLs(const Args& args);
int CmdClients(const Args& args);
int CmdStat(const Args& args);
int CmdCheck(const Args& args);
int CmdPut(const Args& args);
int CmdCat(const Args& args);
int CmdRm(const Args& args);
int CmdLn(const Args& args);

// Parses "64M", "1G", "4096" (suffixes K, M, G, T: powers of 1024).
std::optional<std::uint64_t> ParseSize(const std::string& s);
// Prints "shmheap: <what>: <status>" to stderr and returns 1.
int Fail(const std::string& what, const Status& s);
// Prints a usage error and returns 2.
int Usage(const std::string& msg);
// Attaches an existing heap (read-only if asked).
Result<std::unique_ptr<Heap>> OpenExisting(const std::string& path, bool read_only);

}  // namespace shmheap::cli

#endif  // SHMHEAP_CLI_COMMANDS_H_
