// shmheapfs: the FUSE daemon. Parses options, sets up logging, mounts,
// runs the multi-threaded loop, and on unmount or SIGINT/SIGTERM/SIGHUP
// tears down in order: stop the loop, unmount, flush and detach every heap.
// Exit status: 0 clean, 1 runtime failure, 2 bad usage.
#include <fuse3/fuse_lowlevel.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "fs/src/filesystem.h"
#include "fs/src/lock_service.h"
#include "fs/src/log.h"
#include "fs/src/ops.h"
#include "fs/src/options.h"

namespace shmheap::fs {
namespace {

constexpr const char* kVersion = "0.1.0";

// argv for fuse_session_new, owned by a vector of strings. libfuse's option
// parser may replace it with an argv of its own (allocated = 1), which is
// then ours to free.
class FuseArgs {
 public:
  explicit FuseArgs(const std::vector<std::string>& v) : strings_(v) {
    for (auto& s : strings_) ptrs_.push_back(s.data());
    args_.argc = static_cast<int>(ptrs_.size());
    args_.argv = ptrs_.data();
    args_.allocated = 0;
  }
  ~FuseArgs() {
    if (args_.allocated) fuse_opt_free_args(&args_);
  }
  FuseArgs(const FuseArgs&) = delete;
  FuseArgs& operator=(const FuseArgs&) = delete;
  struct fuse_args* get() { return &args_; }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> ptrs_;
  struct fuse_args args_ {};
};

struct SessionDeleter {
  void operator()(struct fuse_session* se) const { fuse_session_destroy(se); }
};
using SessionPtr = std::unique_ptr<struct fuse_session, SessionDeleter>;

struct LoopConfigDeleter {
  void operator()(struct fuse_loop_config* c) const { fuse_loop_cfg_destroy(c); }
};

// Removes the signal handlers and unmounts on every path out of Run.
class Mounted {
 public:
  explicit Mounted(struct fuse_session* se) : se_(se) {}
  ~Mounted() {
    fuse_session_unmount(se_);
    fuse_remove_signal_handlers(se_);
  }
  Mounted(const Mounted&) = delete;
  Mounted& operator=(const Mounted&) = delete;

 private:
  struct fuse_session* se_;
};

int Run(int argc, char** argv) {
  auto parsed = ParseOptions(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "shmheapfs: %s\n(see shmheapfs --help)\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  Options& o = *parsed;
  if (o.show_help) {
    std::fputs(UsageText(), stdout);
    std::fputs("FUSE options:\n", stdout);
    std::fflush(stdout);
    fuse_lowlevel_help();
    return 0;
  }
  if (o.show_version) {
    std::printf("shmheapfs %s (heap format 1)\n", kVersion);
    std::fflush(stdout);
    fuse_lowlevel_version();
    return 0;
  }
  // A file size limit (ulimit -f) on the daemon must fail the write that
  // passes it with EFBIG, not kill the daemon and every user of the mount.
  std::signal(SIGXFSZ, SIG_IGN);
  SetUpLogging(o.foreground, o.log_level);
  BridgeFuseLogging();
  Filesystem fs(o);
  if (Status s = fs.Init(); !s.ok()) {
    Log()->error("{}", s.ToString());
    return 1;
  }
  FuseArgs args(o.fuse_args);
  const struct fuse_lowlevel_ops ops = MakeOperations();
  SessionPtr se(fuse_session_new(args.get(), &ops, sizeof(ops), &fs));
  if (!se) return 2;  // libfuse printed which option it rejected
  if (fuse_set_signal_handlers(se.get()) != 0) return 1;
  // The mount point as mountinfo will show it; resolved now, since stat(2)
  // of our own mount would wait for INIT.
  std::unique_ptr<char, void (*)(void*)> canonical(::realpath(o.mountpoint.c_str(), nullptr), std::free);
  if (fuse_session_mount(se.get(), o.mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(se.get());
    return 1;
  }
  fs.read_ahead().FindDevice(canonical.get());
  // KILLPRIV_V2 through libfuse's I/O hooks (kernel_io.h); without them the
  // session runs as before.
  if (Status s = fs.kernel_io().Install(se.get()); !s.ok()) Log()->warn("{}", s.ToString());
  int rc;
  {
    Mounted mounted(se.get());
    if (fuse_daemonize(o.foreground ? 1 : 0) != 0) return 1;
    fs.Start(se.get());
    if (o.single_thread) {
      rc = fuse_session_loop(se.get());
    } else {
      std::unique_ptr<struct fuse_loop_config, LoopConfigDeleter> cfg(fuse_loop_cfg_create());
      fuse_loop_cfg_set_clone_fd(cfg.get(), 1);
      fuse_loop_cfg_set_idle_threads(cfg.get(), 16);
      fuse_loop_cfg_set_max_threads(cfg.get(), 64);
      rc = fuse_session_loop_mt(se.get(), cfg.get());
    }
  }
  fs.Shutdown();
  Log()->info("unmounted {}", o.mountpoint);
  // A signal (SIGTERM, SIGINT) ending the loop is a clean shutdown.
  return rc < 0 ? 1 : 0;
}

}  // namespace
}  // namespace shmheap::fs

int main(int argc, char** argv) {
  try {
    return shmheap::fs::Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmheapfs: fatal: %s\n", e.what());
    return 1;
  }
}
