// The "lockd" spdlog logger. The library never installs sinks or changes
// the default logger: a program that wants lockd's messages registers its
// own logger named "lockd" (the daemon's main does) before first use. Until
// then messages go to a stderr logger at level warn.
//
// lockd logs grant, block, wake, cancel and deadlock decisions at debug
// (SPDLOG_LOGGER_DEBUG, so they compile out below SPDLOG_ACTIVE_LEVEL).
//
// Thread safety: Log() is thread-safe, as are spdlog loggers.
#ifndef SHMHEAP_LOCKD_LOG_H_
#define SHMHEAP_LOCKD_LOG_H_

#include <spdlog/spdlog.h>

namespace shmheap::lockd {

// Returns the "lockd" logger, creating it on first use. Thread-safe.
spdlog::logger* Log();

}  // namespace shmheap::lockd

#endif  // SHMHEAP_LOCKD_LOG_H_
