// Mutex and MutexLock: std::mutex with Clang thread-safety annotations, and
// the SHMHEAP_GUARDED_BY/SHMHEAP_REQUIRES/... macros that use them.
//
// libstdc++'s std::mutex carries no capability attributes, so Clang's
// -Wthread-safety cannot check code that uses it directly; this wrapper (as
// leveldb's port::Mutex) gives the analysis something to track. Under GCC the
// macros expand to nothing and the wrapper costs nothing.
//
// Thread safety: Mutex is a mutex; MutexLock is a scoped lock for one thread.
#ifndef SHMHEAP_LOCKD_MUTEX_H_
#define SHMHEAP_LOCKD_MUTEX_H_

#include <mutex>

#if defined(__clang__)
#define SHMHEAP_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SHMHEAP_THREAD_ANNOTATION(x)
#endif

#define SHMHEAP_CAPABILITY(x) SHMHEAP_THREAD_ANNOTATION(capability(x))
#define SHMHEAP_SCOPED_CAPABILITY SHMHEAP_THREAD_ANNOTATION(scoped_lockable)
#define SHMHEAP_GUARDED_BY(x) SHMHEAP_THREAD_ANNOTATION(guarded_by(x))
#define SHMHEAP_REQUIRES(...) SHMHEAP_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define SHMHEAP_EXCLUDES(...) SHMHEAP_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define SHMHEAP_ACQUIRE(...) SHMHEAP_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define SHMHEAP_RELEASE(...) SHMHEAP_THREAD_ANNOTATION(release_capability(__VA_ARGS__))

namespace shmheap::lockd {

class SHMHEAP_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() SHMHEAP_ACQUIRE() { mu_.lock(); }
  void Unlock() SHMHEAP_RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Holds `mu` for its lifetime.
class SHMHEAP_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) SHMHEAP_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() SHMHEAP_RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace shmheap::lockd

#endif  // SHMHEAP_LOCKD_MUTEX_H_
