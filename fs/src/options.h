// Options: the daemon's command line and configuration file, parsed into one
// plain value before the FUSE session exists.
//
//   shmheapfs [SOURCE] MOUNTPOINT [-f] [-d] [-s] [-o OPTION[,OPTION...]]
//
// Our options (-o, mount(8) style): heapdir=DIR, max_heap_size=SIZE,
// config=FILE, log_level=LEVEL, read_ahead=SIZE. Every other -o option goes
// to libfuse (allow_other, default_permissions, auto_unmount, ...), which
// rejects the ones it does not know. A configuration file holds
// "key = value" lines with the same keys (a key without value, like
// allow_other, is a flag); the command line wins. SOURCE is what mount(8) passes for
// `mount -t fuse.shmheapfs SOURCE MOUNTPOINT`; if it names a directory and no
// heapdir= is given, it is the heap directory.
#ifndef SHMHEAP_FS_OPTIONS_H_
#define SHMHEAP_FS_OPTIONS_H_

#include <spdlog/common.h>

#include <cstdint>
#include <string>
#include <vector>

#include <shmheap/status.hpp>

namespace shmheap::fs {

struct Options {
  std::string mountpoint;
  std::string heapdir;
  std::uint64_t max_heap_size = 0;  // 0: the library default
  std::string config_file;
  spdlog::level::level_enum log_level = spdlog::level::info;
  std::uint64_t read_ahead = 1u << 20;  // bytes; 0: the kernel's default
  bool read_ahead_explicit = false;     // given by the user
  bool foreground = false;
  bool debug = false;
  bool single_thread = false;
  bool show_help = false;
  bool show_version = false;
  // Arguments for fuse_session_new (argv[0] first).
  std::vector<std::string> fuse_args;
};

// Parses argv (and the config file it names). Errors: kInvalidArgument with
// a message fit for the user (the caller exits with status 2).
Result<Options> ParseOptions(int argc, char** argv);

// Parses "64M", "1G", "4096" (K, M, G, T are powers of 1024).
Result<std::uint64_t> ParseSize(const std::string& s);

// The usage text (our options; libfuse adds its own).
const char* UsageText();

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_OPTIONS_H_
