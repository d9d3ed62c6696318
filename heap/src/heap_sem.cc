// HeapImpl: counting semaphores kept as heap objects (Minibase's latches).
//
// Object layout (16 bytes, type "shmheap.semaphore"):
//   u32 magic 'SEM1', u32 count (futex word), u32 waiters, u32 reserved.
// Waiters sleep on `count` itself; posters wake one when `waiters` is
// non-zero. Operations pin the object so that a concurrent Remove cannot
// free the words under them (the pin keeps the version alive).
#include <algorithm>
#include <climits>
#include <cstring>

#include "heap/src/heap_impl.h"

namespace shmheap {

namespace {

constexpr std::uint32_t kSemMagic = 0x314D4553;  // "SEM1"
constexpr std::string_view kSemType = "shmheap.semaphore";
constexpr std::uint32_t kSemMax = 0x7FFFFFFF;
enum : int { kMagic = 0, kCount = 1, kWaiters = 2 };

OwnerToken SemPinToken() {
  thread_local const OwnerToken token = NewOwnerToken() | (1ull << 62);
  return token;
}

}  // namespace

Status HeapImpl::SemCreate(std::string_view name, std::uint32_t initial) {
  if (initial > kSemMax) return Status::InvalidArgument("semaphore count above 2^31 - 1");
  auto data = Allocate(name, 16, ObjectAttr{0100600, 0, 0});
  if (!data.ok()) return data.status();
  auto* w = reinterpret_cast<std::uint32_t*>(data->data());
  AtomicField(w[kCount]).store(initial, std::memory_order_relaxed);
  AtomicField(w[kMagic]).store(kSemMagic, std::memory_order_release);
  return SetType(name, kSemType);
}

Status HeapImpl::WithSemaphore(std::string_view name, const std::function<Status(std::uint32_t*)>& fn) {
  SHMHEAP_RETURN_IF_ERROR(CheckWritable());
  auto id = Lookup(name);
  if (!id.ok()) return id.status();
  auto pin = locks_->Pin(id->inode - 1, id->generation, SemPinToken());
  if (!pin.ok()) return pin.status();
  auto* w = pin->size >= 16 ? space_->At<std::uint32_t>(pin->data_off, 4) : nullptr;
  Status s = (w && AtomicField(w[kMagic]).load(std::memory_order_acquire) == kSemMagic)
                 ? fn(w)
                 : Status::InvalidArgument("'" + std::string(name) + "' is not a semaphore");
  auto rel = locks_->Unpin(id->inode - 1, SemPinToken());
  if (rel.ok() && rel->released) (void)AfterRelease(id->inode - 1, *rel);
  return s;
}

Status HeapImpl::SemTryWait(std::string_view name) {
  return WithSemaphore(name, [](std::uint32_t* w) {
    auto count = AtomicField(w[kCount]);
    std::uint32_t c = count.load(std::memory_order_relaxed);
    while (c > 0) {
      if (count.compare_exchange_weak(c, c - 1, std::memory_order_acquire)) return Status::Ok();
    }
    return Status::Busy("semaphore count is 0");
  });
}

Status HeapImpl::SemWait(std::string_view name, std::optional<std::chrono::nanoseconds> timeout) {
  const std::int64_t deadline = timeout ? MonotonicNs() + timeout->count() : -1;
  return WithSemaphore(name, [&](std::uint32_t* w) {
    auto count = AtomicField(w[kCount]);
    auto waiters = AtomicField(w[kWaiters]);
    for (;;) {
      std::uint32_t c = count.load(std::memory_order_relaxed);
      while (c > 0) {
        if (count.compare_exchange_weak(c, c - 1, std::memory_order_acquire)) return Status::Ok();
      }
      std::int64_t now = MonotonicNs();
      if (deadline >= 0 && now >= deadline) return Status::TimedOut("semaphore wait timed out");
      waiters.fetch_add(1, std::memory_order_acq_rel);
      // Sleeps only while the count is still 0; bounded so a lost wake-up
      // (a poster that died between its increment and its wake) costs at
      // most one interval.
      std::int64_t sleep = kDeadCheckIntervalNs;
      if (deadline >= 0) sleep = std::min(sleep, deadline - now);
      FutexWait(&w[kCount], 0, sleep);
      waiters.fetch_sub(1, std::memory_order_acq_rel);
    }
  });
}

Status HeapImpl::SemPost(std::string_view name) {
  return WithSemaphore(name, [](std::uint32_t* w) {
    auto count = AtomicField(w[kCount]);
    std::uint32_t c = count.load(std::memory_order_relaxed);
    do {
      if (c >= kSemMax) return Status::NoSpace("semaphore count at its maximum");
    } while (!count.compare_exchange_weak(c, c + 1, std::memory_order_release));
    if (AtomicField(w[kWaiters]).load(std::memory_order_acquire) != 0) FutexWake(&w[kCount], 1);
    return Status::Ok();
  });
}

Result<std::uint32_t> HeapImpl::SemValue(std::string_view name) {
  if (read_only_) {
    // No pin (it would write the mapping): a seqlock copy of the words,
    // which is one version of this very object's bytes (ReadUnpinned).
    auto id = Lookup(name);
    if (!id.ok()) return id.status();
    std::uint32_t w[4] = {};
    auto n = ReadUnpinned(*id, 0, sizeof(w), [&](std::span<const std::byte> b) {
      std::memcpy(w, b.data(), std::min(b.size(), sizeof(w)));
    });
    if (!n.ok()) return n.status();
    if (*n < sizeof(w) || w[kMagic] != kSemMagic) {
      return Status::InvalidArgument("'" + std::string(name) + "' is not a semaphore");
    }
    return w[kCount];
  }
  std::uint32_t value = 0;
  Status s = WithSemaphore(name, [&](std::uint32_t* w) {
    value = AtomicField(w[kCount]).load(std::memory_order_acquire);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return value;
}

}  // namespace shmheap
