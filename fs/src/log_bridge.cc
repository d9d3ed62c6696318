// Logging set-up for the daemon and the libfuse -> spdlog bridge.
#include <fuse3/fuse_log.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>

#include <cstdarg>
#include <cstdio>
#include <syslog.h>

#include "fs/src/log.h"

namespace shmheap::fs {

namespace {

std::shared_ptr<spdlog::logger> g_logger;

void FuseLog(enum fuse_log_level level, const char* fmt, va_list ap) {
  char buf[1024];
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  std::string msg(buf);
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  spdlog::level::level_enum l = spdlog::level::debug;
  switch (level) {
    case FUSE_LOG_EMERG:
    case FUSE_LOG_ALERT:
    case FUSE_LOG_CRIT: l = spdlog::level::critical; break;
    case FUSE_LOG_ERR: l = spdlog::level::err; break;
    case FUSE_LOG_WARNING: l = spdlog::level::warn; break;
    case FUSE_LOG_NOTICE:
    case FUSE_LOG_INFO: l = spdlog::level::info; break;
    case FUSE_LOG_DEBUG: l = spdlog::level::trace; break;
  }
  Log()->log(l, "libfuse: {}", msg);
}

}  // namespace

spdlog::logger* Log() {
  if (!g_logger) {
    g_logger = spdlog::get("shmheapfs");
    if (!g_logger) g_logger = spdlog::stderr_color_mt("shmheapfs");
  }
  return g_logger.get();
}

void SetUpLogging(bool foreground, spdlog::level::level_enum level) {
  spdlog::sink_ptr sink;
  if (foreground) {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::syslog_sink_mt>("shmheapfs", LOG_PID, LOG_DAEMON, true);
  }
  for (const char* name : {"shmheapfs", "shmheap", "lockd"}) {
    spdlog::drop(name);
    auto l = std::make_shared<spdlog::logger>(name, sink);
    l->set_level(level);
    l->set_pattern(foreground ? "%H:%M:%S.%e %n %^%l%$ %v" : "%n %l %v");
    spdlog::register_logger(l);
    if (std::string(name) == "shmheapfs") g_logger = l;
  }
}

void BridgeFuseLogging() { fuse_set_log_func(FuseLog); }

}  // namespace shmheap::fs
