// Test support: temporary directories and forked helper processes.
#ifndef SHMHEAP_TESTS_SUPPORT_TEST_SUPPORT_H_
#define SHMHEAP_TESTS_SUPPORT_TEST_SUPPORT_H_

#include <sys/types.h>

#include <functional>
#include <string>

namespace shmheap::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Forks a child that runs fn() and _exit()s with its return value.
pid_t Fork(const std::function<int()>& fn);
// Waits for pid; returns its exit status, or 128 + signal if killed.
int Wait(pid_t pid);

}  // namespace shmheap::testing

#endif  // SHMHEAP_TESTS_SUPPORT_TEST_SUPPORT_H_
