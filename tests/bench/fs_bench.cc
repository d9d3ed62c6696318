// fs_bench: file-system micro-benchmarks run against one directory, so the
// same program measures tmpfs, libfuse's passthrough_ll and shmheapfs in one
// run (tests/bench/run_fs_bench.sh drives it and prints the ratios).
//
//   fs_bench seqwrite DIR MIB        MiB/s writing DIR/big in 1 MiB writes
//   fs_bench smallwrite DIR N        4 KiB writes per second, N of them in a
//                                    row to DIR/small (then removed)
//   fs_bench seqread DIR             MiB/s reading DIR/big in 1 MiB reads
//   fs_bench randread DIR N          4 KiB random preads of DIR/big per second
//   fs_bench mmapread DIR N          ns per random 8-byte load from a mapping
//                                    of DIR/big after faulting every page in
//   fs_bench create|stat|unlink DIR N   operations per second on N files of
//                                    4 KiB (create = open+write+close)
//   fs_bench lock DIR N              µs per uncontended fcntl write lock +
//                                    unlock pair on DIR/lk
//   fs_bench getattr DIR N           µs per statx(AT_STATX_FORCE_SYNC) of
//                                    DIR/lk (a GETATTR round trip on FUSE)
//   fs_bench contend DIR N P         lock+unlock pairs per second, P processes
//                                    each doing N blocking pairs on DIR/lk
// Prints one number. Exit status 1 with a message on failure.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <sys/types.h>

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "fs_bench: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

std::string Name(const std::string& dir, long i) { return dir + "/f" + std::to_string(i); }

// Writes `count` blocks of `block` bytes to DIR/`name`; returns blocks/s.
double SeqWrite(const std::string& dir, const char* name, long count, std::size_t block) {
  std::vector<char> buf(block, 'w');
  auto t0 = Clock::now();
  int fd = ::open((dir + "/" + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) Die(std::string("open ") + name);
  for (long i = 0; i < count; ++i) {
    buf[0] = static_cast<char>(i);
    if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) Die("write");
  }
  if (::close(fd) != 0) Die("close");
  return static_cast<double>(count) / Seconds(t0);
}

double SmallWrites(const std::string& dir, long n) {
  const double rate = SeqWrite(dir, "small", n, 4096);
  if (::unlink((dir + "/small").c_str()) != 0) Die("unlink small");
  return rate;
}

double SeqRead(const std::string& dir) {
  std::vector<char> buf(1 << 20);
  auto t0 = Clock::now();
  int fd = ::open((dir + "/big").c_str(), O_RDONLY);
  if (fd < 0) Die("open big");
  long total = 0;
  for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;) total += n;
  ::close(fd);
  return static_cast<double>(total) / (1 << 20) / Seconds(t0);
}

double RandRead(const std::string& dir, long n) {
  int fd = ::open((dir + "/big").c_str(), O_RDONLY);
  if (fd < 0) Die("open big");
  struct stat st {};
  ::fstat(fd, &st);
  const long blocks = st.st_size / 4096;
  std::mt19937_64 rng(42);
  char buf[4096];
  auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    if (::pread(fd, buf, sizeof(buf), static_cast<off_t>(rng() % blocks) * 4096) != 4096) Die("pread");
  }
  double s = Seconds(t0);
  ::close(fd);
  return static_cast<double>(n) / s;
}

double MmapRead(const std::string& dir, long n) {
  int fd = ::open((dir + "/big").c_str(), O_RDONLY);
  if (fd < 0) Die("open big");
  struct stat st {};
  ::fstat(fd, &st);
  auto* p = static_cast<const unsigned char*>(::mmap(nullptr, st.st_size, PROT_READ, MAP_SHARED, fd, 0));
  if (p == MAP_FAILED) Die("mmap");
  unsigned long touched = 0;
  for (off_t off = 0; off < st.st_size; off += 4096) touched += p[off];  // fault everything in
  std::mt19937_64 rng(7);
  const unsigned long words = static_cast<unsigned long>(st.st_size) / 8;
  std::vector<unsigned long> idx(1 << 16);
  for (auto& i : idx) i = rng() % words;
  auto t0 = Clock::now();
  unsigned long acc = 0;
  for (long i = 0; i < n; ++i) {
    unsigned long v;
    std::memcpy(&v, p + idx[i & 0xFFFF] * 8, 8);
    acc += v;
  }
  double s = Seconds(t0);
  // Publish the sums so the loads cannot be optimised away.
  [[maybe_unused]] static volatile unsigned long sink;
  sink = acc + touched;
  ::munmap(const_cast<unsigned char*>(p), st.st_size);
  ::close(fd);
  return s * 1e9 / static_cast<double>(n);
}

double Create(const std::string& dir, long n) {
  char buf[4096];
  std::memset(buf, 'c', sizeof(buf));
  auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    int fd = ::open(Name(dir, i).c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) Die("create " + Name(dir, i));
    if (::write(fd, buf, sizeof(buf)) != sizeof(buf)) Die("write");
    if (::close(fd) != 0) Die("close");
  }
  return static_cast<double>(n) / Seconds(t0);
}

double Stat(const std::string& dir, long n) {
  struct stat st {};
  std::mt19937_64 rng(3);
  auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    if (::stat(Name(dir, static_cast<long>(rng() % n)).c_str(), &st) != 0) Die("stat");
  }
  return static_cast<double>(n) / Seconds(t0);
}

double Unlink(const std::string& dir, long n) {
  auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    if (::unlink(Name(dir, i).c_str()) != 0) Die("unlink");
  }
  return static_cast<double>(n) / Seconds(t0);
}

int LockFile(const std::string& dir) {
  int fd = ::open((dir + "/lk").c_str(), O_RDWR | O_CREAT, 0644);
  if (fd < 0) Die("open lk");
  return fd;
}

bool SetLock(int fd, short type, int cmd) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  return ::fcntl(fd, cmd, &fl) == 0;
}

double LockPairs(const std::string& dir, long n) {
  int fd = LockFile(dir);
  auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    if (!SetLock(fd, F_WRLCK, F_SETLK) || !SetLock(fd, F_UNLCK, F_SETLK)) Die("fcntl");
  }
  double s = Seconds(t0);
  ::close(fd);
  return s * 1e6 / static_cast<double>(n);
}

double Getattr(const std::string& dir, long n) {
  ::close(LockFile(dir));
  struct statx stx {};
  auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    if (::statx(AT_FDCWD, (dir + "/lk").c_str(), AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &stx) != 0) Die("statx");
  }
  return Seconds(t0) * 1e6 / static_cast<double>(n);
}

double Contend(const std::string& dir, long n, int procs) {
  ::close(LockFile(dir));
  auto t0 = Clock::now();
  std::vector<pid_t> pids;
  for (int p = 0; p < procs; ++p) {
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = LockFile(dir);
      for (long i = 0; i < n; ++i) {
        if (!SetLock(fd, F_WRLCK, F_SETLKW) || !SetLock(fd, F_UNLCK, F_SETLK)) ::_exit(1);
      }
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) Die("contending child");
  }
  return static_cast<double>(n) * procs / Seconds(t0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fs_bench seqwrite|smallwrite|seqread|randread|mmapread|create|stat|unlink|lock|getattr|contend DIR [N [P]]\n");
    return 2;
  }
  std::string op = argv[1], dir = argv[2];
  long n = argc > 3 ? std::atol(argv[3]) : 0;
  double v;
  if (op == "seqwrite") v = SeqWrite(dir, "big", n, 1 << 20);
  else if (op == "smallwrite") v = SmallWrites(dir, n);
  else if (op == "seqread") v = SeqRead(dir);
  else if (op == "randread") v = RandRead(dir, n);
  else if (op == "mmapread") v = MmapRead(dir, n);
  else if (op == "create") v = Create(dir, n);
  else if (op == "stat") v = Stat(dir, n);
  else if (op == "unlink") v = Unlink(dir, n);
  else if (op == "lock") v = LockPairs(dir, n);
  else if (op == "getattr") v = Getattr(dir, n);
  else if (op == "contend") v = Contend(dir, n, argc > 4 ? std::atoi(argv[4]) : 4);
  else return 2;
  std::printf("%.3f\n", v);
  return 0;
}
