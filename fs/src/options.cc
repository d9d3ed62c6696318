// Options parsing with libfuse's fuse_opt.
#include "fs/src/options.h"

#include <fuse3/fuse_lowlevel.h>
#include <fuse3/fuse_opt.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "fs/src/read_ahead.h"

namespace shmheap::fs {

namespace {

struct RawConf {
  char* heapdir = nullptr;
  char* max_heap_size = nullptr;
  char* config = nullptr;
  char* log_level = nullptr;
  char* read_ahead = nullptr;
  int foreground = 0;
  int debug = 0;
  int single = 0;
  int help = 0;
  int version = 0;
  std::vector<std::string>* positional = nullptr;
};

enum Key { kKeyHelp, kKeyVersion, kKeyForeground, kKeyDebug, kKeySingle };

const struct fuse_opt kOptSpec[] = {
    {"heapdir=%s", offsetof(RawConf, heapdir), 0},
    {"max_heap_size=%s", offsetof(RawConf, max_heap_size), 0},
    {"config=%s", offsetof(RawConf, config), 0},
    {"log_level=%s", offsetof(RawConf, log_level), 0},
    {"read_ahead=%s", offsetof(RawConf, read_ahead), 0},
    FUSE_OPT_KEY("-h", kKeyHelp),
    FUSE_OPT_KEY("--help", kKeyHelp),
    FUSE_OPT_KEY("-V", kKeyVersion),
    FUSE_OPT_KEY("--version", kKeyVersion),
    FUSE_OPT_KEY("-f", kKeyForeground),
    FUSE_OPT_KEY("-d", kKeyDebug),
    FUSE_OPT_KEY("debug", kKeyDebug),
    FUSE_OPT_KEY("-s", kKeySingle),
    FUSE_OPT_END};

int OptProc(void* data, const char* arg, int key, struct fuse_args*) {
  auto* c = static_cast<RawConf*>(data);
  switch (key) {
    case kKeyHelp: c->help = 1; return 0;
    case kKeyVersion: c->version = 1; return 0;
    case kKeyForeground: c->foreground = 1; return 0;
    case kKeyDebug: c->debug = 1; c->foreground = 1; return 1;  // libfuse traces requests too
    case kKeySingle: c->single = 1; return 0;
    case FUSE_OPT_KEY_NONOPT: c->positional->push_back(arg); return 0;
    default: return 1;  // a libfuse option: keep it
  }
}

Result<spdlog::level::level_enum> ParseLevel(const std::string& s) {
  static const std::pair<const char*, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"error", spdlog::level::err}};
  for (const auto& [name, level] : kLevels) {
    if (s == name) return level;
  }
  return Status::InvalidArgument("log_level must be trace, debug, info, warn or error, not '" + s + "'");
}

std::string Trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// Reads "key = value" lines; our keys fill `c` where the command line left
// them unset, the rest become -o options for libfuse.
Status ReadConfig(const std::string& path, RawConf* c, std::vector<std::string>* extra_opts,
                  std::vector<std::unique_ptr<std::string>>* storage) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read config file " + path + ": " + std::strerror(errno));
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    line = Trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    auto eq = line.find('=');
    std::string key = Trim(line.substr(0, eq));
    std::string value = eq == std::string::npos ? "" : Trim(line.substr(eq + 1));
    if (key.empty()) return Status::InvalidArgument(path + ":" + std::to_string(n) + ": missing key");
    auto set = [&](char** field) {
      if (*field) return;  // the command line wins
      storage->push_back(std::make_unique<std::string>(value));
      *field = storage->back()->data();
    };
    if (key == "heapdir") set(&c->heapdir);
    else if (key == "max_heap_size") set(&c->max_heap_size);
    else if (key == "log_level") set(&c->log_level);
    else if (key == "read_ahead") set(&c->read_ahead);
    else if (key == "config") return Status::InvalidArgument(path + ": config files do not nest");
    else extra_opts->push_back(eq == std::string::npos ? key : key + "=" + value);
  }
  return Status::Ok();
}

std::string DefaultHeapdir() {
  if (::geteuid() == 0) return "/var/lib/shmheapfs";
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/shmheapfs";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.local/share/shmheapfs";
  return "/tmp/shmheapfs-" + std::to_string(::geteuid());
}

}  // namespace

const char* UsageText() {
  return "usage: shmheapfs [SOURCE] MOUNTPOINT [options]\n"
         "\n"
         "Presents the shared heaps in a directory as a file system: each heap\n"
         "NAME.heap is a directory NAME, each named object a file.\n"
         "\n"
         "options:\n"
         "    -h, --help             print help\n"
         "    -V, --version          print version\n"
         "    -f                     stay in the foreground (log to stderr)\n"
         "    -d, -o debug           foreground, debug log, trace every request\n"
         "    -s                     single-threaded\n"
         "    -o heapdir=DIR         where NAME.heap files live (default /var/lib/shmheapfs\n"
         "                           for root, $XDG_DATA_HOME/shmheapfs otherwise)\n"
         "    -o max_heap_size=SIZE  maximum size of new heaps (K, M, G, T suffixes)\n"
         "    -o config=FILE         read 'key = value' options from FILE (the command line wins)\n"
         "    -o log_level=LEVEL     trace, debug, info, warn or error (default info)\n"
         "    -o read_ahead=SIZE     the mount's read-ahead window (default 1M; 0 keeps\n"
         "                           the kernel's 128K; raising it needs root)\n"
         "\n";
}

Result<std::uint64_t> ParseSize(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || s[0] == '-' || errno != 0 || end == s.c_str()) {
    return Status::InvalidArgument("bad size '" + s + "'");
  }
  std::string suffix(end);
  std::uint64_t mult = 1;
  if (suffix == "K" || suffix == "k") mult = 1ull << 10;
  else if (suffix == "M" || suffix == "m") mult = 1ull << 20;
  else if (suffix == "G" || suffix == "g") mult = 1ull << 30;
  else if (suffix == "T" || suffix == "t") mult = 1ull << 40;
  else if (!suffix.empty()) return Status::InvalidArgument("bad size suffix in '" + s + "'");
  if (v > ~0ull / mult) return Status::InvalidArgument("size '" + s + "' is too large");
  return v * mult;
}

Result<Options> ParseOptions(int argc, char** argv) {
  struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
  std::unique_ptr<struct fuse_args, void (*)(struct fuse_args*)> guard(&args, fuse_opt_free_args);
  RawConf c;
  std::vector<std::string> positional;
  c.positional = &positional;
  if (fuse_opt_parse(&args, &c, kOptSpec, OptProc) != 0) return Status::InvalidArgument("cannot parse options");
  // fuse_opt allocates the %s strings; free them when done.
  std::unique_ptr<char, void (*)(void*)> f1(c.heapdir, std::free), f2(c.max_heap_size, std::free),
      f3(c.config, std::free), f4(c.log_level, std::free), f5(c.read_ahead, std::free);
  Options o;
  o.show_help = c.help;
  o.show_version = c.version;
  if (o.show_help || o.show_version) return o;
  std::vector<std::string> extra_opts;
  std::vector<std::unique_ptr<std::string>> storage;
  if (c.config) {
    o.config_file = c.config;
    SHMHEAP_RETURN_IF_ERROR(ReadConfig(o.config_file, &c, &extra_opts, &storage));
  }
  if (positional.empty()) return Status::InvalidArgument("no mount point given");
  if (positional.size() > 2) return Status::InvalidArgument("unexpected argument '" + positional[2] + "'");
  o.mountpoint = positional.back();
  if (c.heapdir) {
    o.heapdir = c.heapdir;
  } else if (positional.size() == 2 && positional[0].find('/') != std::string::npos) {
    o.heapdir = positional[0];  // mount -t fuse.shmheapfs /var/lib/heaps /mnt/x
  } else {
    o.heapdir = DefaultHeapdir();
  }
  if (c.max_heap_size) {
    auto size = ParseSize(c.max_heap_size);
    if (!size.ok()) return Status::InvalidArgument("max_heap_size: " + std::string(size.status().message()));
    o.max_heap_size = *size;
  }
  if (c.read_ahead) {
    auto size = ParseSize(c.read_ahead);
    if (!size.ok()) return Status::InvalidArgument("read_ahead: " + std::string(size.status().message()));
    if (*size != 0 && (*size < kMinReadAhead || *size > kMaxReadAhead)) {
      return Status::InvalidArgument("read_ahead: 0 (the kernel's window) or from 4K to 1G");
    }
    o.read_ahead = *size;
    o.read_ahead_explicit = true;
  }
  if (c.log_level) {
    auto level = ParseLevel(c.log_level);
    if (!level.ok()) return level.status();
    o.log_level = *level;
  }
  o.foreground = c.foreground;
  o.debug = c.debug;
  if (o.debug) o.log_level = spdlog::level::trace;  // -d: every request, as libfuse traces it
  o.single_thread = c.single;
  for (int i = 0; i < args.argc; ++i) o.fuse_args.emplace_back(args.argv[i]);
  for (const auto& opt : extra_opts) {
    o.fuse_args.emplace_back("-o");
    o.fuse_args.push_back(opt);
  }
  // Name the mount after us (type fuse.shmheapfs, source = heapdir) unless
  // the user chose otherwise, so findmnt -t fuse.shmheapfs and fstab work.
  bool has_subtype = false, has_fsname = false;
  for (const auto& a : o.fuse_args) {
    has_subtype |= a.find("subtype=") != std::string::npos;
    has_fsname |= a.find("fsname=") != std::string::npos;
  }
  if (!has_subtype) o.fuse_args.insert(o.fuse_args.begin() + 1, {"-o", "subtype=shmheapfs"});
  if (!has_fsname && o.heapdir.find(',') == std::string::npos) {
    o.fuse_args.insert(o.fuse_args.begin() + 1, {"-o", "fsname=" + o.heapdir});
  }
  return o;
}

}  // namespace shmheap::fs
