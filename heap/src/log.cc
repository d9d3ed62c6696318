// The "shmheap" logger: looked up in spdlog's registry so that a program can
// register its own logger of that name (with its sinks) before first use.
#include "heap/src/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace shmheap {

spdlog::logger* Log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("shmheap")) return existing;
    auto l = std::make_shared<spdlog::logger>(
        "shmheap", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_level(spdlog::level::warn);
    try {
      spdlog::register_logger(l);
    } catch (const spdlog::spdlog_ex&) {
      if (auto existing = spdlog::get("shmheap")) return existing;  // lost a race
    }
    return l;
  }();
  return logger.get();
}

}  // namespace shmheap
