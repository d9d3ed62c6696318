// The "shmheapfs" spdlog logger, and the bridge that routes libfuse's own
// messages into spdlog (fuse_set_log_func), FUSE_LOG_* mapped to levels.
#ifndef SHMHEAP_FS_LOG_H_
#define SHMHEAP_FS_LOG_H_

#include <spdlog/spdlog.h>

#include <string>

namespace shmheap::fs {

spdlog::logger* Log();

// Installs sinks for the "shmheapfs", "shmheap" and "lockd" loggers: stderr
// in the foreground, syslog otherwise. Called once by main.
void SetUpLogging(bool foreground, spdlog::level::level_enum level);

// Routes libfuse's messages through Log(). Called once by main.
void BridgeFuseLogging();

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_LOG_H_
