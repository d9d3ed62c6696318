// The "lockd" logger: looked up in spdlog's registry so that a program can
// register its own logger of that name (with its sinks) before first use.
//
// Thread safety: the function-local static is initialised once (C++11
// magic statics); registration races with another registrant are handled.
#include "lockd/src/log.h"

#include <memory>

#include <spdlog/sinks/stdout_sinks.h>

namespace shmheap::lockd {

spdlog::logger* Log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("lockd")) return existing;
    auto l = std::make_shared<spdlog::logger>("lockd",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_level(spdlog::level::warn);
    try {
      spdlog::register_logger(l);
    } catch (const spdlog::spdlog_ex&) {
      if (auto existing = spdlog::get("lockd")) return existing;  // lost a race
    }
    return l;
  }();
  return logger.get();
}

}  // namespace shmheap::lockd
