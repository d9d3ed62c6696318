// The "shmheap" spdlog logger. The library never installs sinks or changes the
// default logger: a program that wants library messages registers its own
// sinks (fs/ and the CLI do). Until then messages go to a stderr logger at
// level warn.
#ifndef SHMHEAP_LOG_H_
#define SHMHEAP_LOG_H_

#include <spdlog/spdlog.h>

namespace shmheap {

// Returns the "shmheap" logger, creating it on first use. Thread-safe.
spdlog::logger* Log();

}  // namespace shmheap

#endif  // SHMHEAP_LOG_H_
