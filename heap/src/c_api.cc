// The C API: converts arguments, calls the C++ API, converts the result.
// No logic lives here. errno is produced only through Status::ToErrno.
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <ctime>
#include <functional>
#include <new>
#include <string>

#include <shmheap.h>
#include <shmheap/heap.hpp>
#include <shmheap/reference.hpp>

#include "heap/src/log.h"

struct shmheap_handle {
  std::unique_ptr<shmheap::Heap> heap;
};

namespace {

thread_local std::string g_last_error;

// Records a failed status and sets errno; returns `ret`.
template <typename T>
T Fail(const shmheap::Status& s, T ret) {
  g_last_error = s.ToString();
  errno = s.ToErrno();
  return ret;
}

template <typename T>
T FailErrno(int err, const char* what, T ret) {
  g_last_error = what;
  errno = err;
  return ret;
}

// Runs f, turning exceptions into errors (nothing may cross into C).
template <typename T, typename F>
T Guard(T on_error, F&& f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return FailErrno(ENOMEM, "out of memory", on_error);
  } catch (const std::exception& e) {
    shmheap::Log()->error("C API: unexpected exception: {}", e.what());
    return FailErrno(EIO, e.what(), on_error);
  } catch (...) {
    shmheap::Log()->error("C API: unexpected exception");
    return FailErrno(EIO, "unexpected exception", on_error);
  }
}

shmheap::LockMode ModeOf(int mode) {
  return mode == SHMHEAP_READ ? shmheap::LockMode::kRead : shmheap::LockMode::kWrite;
}

}  // namespace

extern "C" {

shmheap_t* shmheap_attach(const char* path, int flags, uint64_t max_size) {
  return Guard<shmheap_t*>(nullptr, [&]() -> shmheap_t* {
    if (!path || (flags & ~(SHMHEAP_CREATE | SHMHEAP_RDONLY)) ||
        ((flags & SHMHEAP_CREATE) && (flags & SHMHEAP_RDONLY))) {
      return FailErrno<shmheap_t*>(EINVAL, "bad path or flags", nullptr);
    }
    shmheap::Options o;
    o.mode = (flags & SHMHEAP_RDONLY)   ? shmheap::OpenMode::kReadOnly
             : (flags & SHMHEAP_CREATE) ? shmheap::OpenMode::kOpenOrCreate
                                        : shmheap::OpenMode::kOpen;
    o.max_size = max_size;
    auto h = shmheap::Heap::Open(path, o);
    if (!h.ok()) return Fail<shmheap_t*>(h.status(), nullptr);
    auto handle = std::make_unique<shmheap_handle>();
    handle->heap = std::move(*h);
    return handle.release();  // ownership passes to the caller until shmheap_detach
  });
}

int shmheap_detach(shmheap_t* h) {
  return Guard(-1, [&] {
    if (!h) return FailErrno(EINVAL, "NULL heap", -1);
    std::unique_ptr<shmheap_handle> owned(h);
    return 0;
  });
}

void* shmalloc(shmheap_t* h, size_t size, const char* name) {
  return Guard<void*>(nullptr, [&]() -> void* {
    if (!h) return FailErrno<void*>(EINVAL, "NULL heap", nullptr);
    auto r = name ? h->heap->Allocate(name, size) : h->heap->AllocateAnonymous(size);
    if (!r.ok()) return Fail<void*>(r.status(), nullptr);
    return r->data();
  });
}

void* shrealloc(shmheap_t* h, void* ptr, size_t size) {
  return Guard<void*>(nullptr, [&]() -> void* {
    if (!h) return FailErrno<void*>(EINVAL, "NULL heap", nullptr);
    auto r = h->heap->Realloc(ptr, size);
    if (!r.ok()) return Fail<void*>(r.status(), nullptr);
    return *r;
  });
}

int shfree(shmheap_t* h, void* ptr) {
  return Guard(-1, [&] {
    if (!h || !ptr) return FailErrno(EINVAL, "NULL heap or pointer", -1);
    shmheap::Status s = h->heap->Free(ptr);
    return s.ok() ? 0 : Fail(s, -1);
  });
}

void* shmheap_find(shmheap_t* h, const char* name, size_t* size) {
  return Guard<void*>(nullptr, [&]() -> void* {
    if (!h || !name) return FailErrno<void*>(EINVAL, "NULL heap or name", nullptr);
    auto r = h->heap->Find(name);
    if (!r.ok()) return Fail<void*>(r.status(), nullptr);
    if (size) *size = r->size();
    return r->data();
  });
}

void* shmheap_lock_object_name(shmheap_t* h, int op, const char* name, int mode) {
  return Guard<void*>(nullptr, [&]() -> void* {
    if (!h || !name || mode < SHMHEAP_READ || mode > SHMHEAP_READWRITE) {
      return FailErrno<void*>(EINVAL, "NULL heap or name, or bad mode", nullptr);
    }
    const shmheap::OwnerToken owner = shmheap::ThreadOwner();
    if (op == SHMHEAP_UNLOCK) {
      std::span<std::byte> data;
      shmheap::Status s = h->heap->UnlockByName(name, owner, &data);
      if (!s.ok()) return Fail<void*>(s, nullptr);
      return data.data() ? static_cast<void*>(data.data()) : static_cast<void*>(h->heap->base());
    }
    if (op != SHMHEAP_LOCK && op != SHMHEAP_TRYLOCK) return FailErrno<void*>(EINVAL, "bad lock operation", nullptr);
    auto r = h->heap->LockRaw(name, ModeOf(mode), owner, op == SHMHEAP_TRYLOCK ? 0 : -1);
    if (!r.ok()) return Fail<void*>(r.status(), nullptr);
    return r->data() ? static_cast<void*>(r->data()) : static_cast<void*>(h->heap->base());
  });
}

uint64_t shmheap_version(shmheap_t* h, const char* name) {
  return Guard<uint64_t>(0, [&]() -> uint64_t {
    if (!h || !name) return FailErrno<uint64_t>(EINVAL, "NULL heap or name", 0);
    auto v = h->heap->Version(name);
    if (!v.ok()) return Fail<uint64_t>(v.status(), 0);
    return *v;
  });
}

int shmheap_set_type(shmheap_t* h, const char* name, const char* type) {
  return Guard(-1, [&] {
    if (!h || !name || !type) return FailErrno(EINVAL, "NULL argument", -1);
    shmheap::Status s = h->heap->SetType(name, type);
    return s.ok() ? 0 : Fail(s, -1);
  });
}

int shmheap_map_show(shmheap_t* h, FILE* out) {
  return Guard(-1, [&] {
    if (!h || !out) return FailErrno(EINVAL, "NULL heap or stream", -1);
    std::fprintf(out, "%-32s %14s %14s %-16s %10s %s\n", "NAME", "OFFSET", "SIZE", "TYPE", "VERSION", "LOCK");
    for (const auto& o : h->heap->List()) {
      std::fprintf(out, "%-32s %14" PRIu64 " %14" PRIu64 " %-16s %10" PRIu64 " %s\n", o.name.c_str(), o.offset,
                   o.size, o.type.empty() ? "-" : o.type.c_str(), o.version, o.lock_state.c_str());
    }
    return std::ferror(out) ? FailErrno(EIO, "write error", -1) : 0;
  });
}

int shmheap_client_show(shmheap_t* h, FILE* out) {
  return Guard(-1, [&] {
    if (!h || !out) return FailErrno(EINVAL, "NULL heap or stream", -1);
    std::fprintf(out, "%-5s %8s %-24s %4s %-20s %s\n", "SLOT", "PID", "HOST", "BITS", "ATTACHED", "STATE");
    for (const auto& c : h->heap->Clients()) {
      std::time_t t = static_cast<std::time_t>(c.attach_time_ns / 1'000'000'000);
      char when[32] = "?";
      struct tm tm {};
      if (localtime_r(&t, &tm)) std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
      std::fprintf(out, "%-5u %8u %-24s %4u %-20s %s%s\n", c.slot, c.pid, c.host.c_str(), c.word_size, when,
                   c.alive ? "alive" : "dead", c.self ? " (self)" : "");
    }
    return std::ferror(out) ? FailErrno(EIO, "write error", -1) : 0;
  });
}

int shmheap_flush(shmheap_t* h) {
  return Guard(-1, [&] {
    if (!h) return FailErrno(EINVAL, "NULL heap", -1);
    shmheap::Status s = h->heap->Flush();
    return s.ok() ? 0 : Fail(s, -1);
  });
}

int shmheap_check(const char* path, FILE* report) {
  return Guard(-1, [&] {
    if (!path) return FailErrno(EINVAL, "NULL path", -1);
    shmheap::Options o;
    o.mode = shmheap::OpenMode::kOpen;
    auto h = shmheap::Heap::Open(path, o);
    if (!h.ok()) {
      if (report) std::fprintf(report, "%s: cannot attach: %s\n", path, h.status().ToString().c_str());
      return Fail(h.status(), -1);
    }
    auto problems = (*h)->CheckAttached();
    if (report) {
      for (const auto& p : problems) std::fprintf(report, "%s: %s\n", path, p.c_str());
      if (problems.empty()) std::fprintf(report, "%s: consistent\n", path);
    }
    return problems.empty() ? 0 : 1;
  });
}

namespace {
int SemCall(shmheap_t* h, const char* name, const std::function<shmheap::Status(shmheap::Heap&)>& f) {
  return Guard(-1, [&] {
    if (!h || !name) return FailErrno(EINVAL, "NULL heap or name", -1);
    shmheap::Status s = f(*h->heap);
    return s.ok() ? 0 : Fail(s, -1);
  });
}
}  // namespace

int shmheap_sem_create(shmheap_t* h, const char* name, unsigned value) {
  return SemCall(h, name, [&](shmheap::Heap& heap) { return heap.SemCreate(name, value); });
}
int shmheap_sem_wait(shmheap_t* h, const char* name) {
  return SemCall(h, name, [&](shmheap::Heap& heap) { return heap.SemWait(name); });
}
int shmheap_sem_trywait(shmheap_t* h, const char* name) {
  return SemCall(h, name, [&](shmheap::Heap& heap) { return heap.SemTryWait(name); });
}
int shmheap_sem_post(shmheap_t* h, const char* name) {
  return SemCall(h, name, [&](shmheap::Heap& heap) { return heap.SemPost(name); });
}
int shmheap_sem_getvalue(shmheap_t* h, const char* name, unsigned* value) {
  return SemCall(h, name, [&](shmheap::Heap& heap) {
    auto v = heap.SemValue(name);
    if (!v.ok()) return v.status();
    if (value) *value = *v;
    return shmheap::Status::Ok();
  });
}

int shmheap_ref_create(shmheap_t* h, const char* name, const char* target) {
  return Guard(-1, [&] {
    if (!h || !name || !target) return FailErrno(EINVAL, "NULL argument", -1);
    auto id = shmheap::CreateReference(*h->heap, name, target);
    return id.ok() ? 0 : Fail(id.status(), -1);
  });
}

int shmheap_ref_read(shmheap_t* h, const char* name, char* buf, size_t len) {
  return Guard(-1, [&] {
    if (!h || !name || (!buf && len)) return FailErrno(EINVAL, "NULL argument", -1);
    auto t = shmheap::ReadReference(*h->heap, name);
    if (!t.ok()) return Fail(t.status(), -1);
    std::memcpy(buf, t->data(), std::min(len, t->size()));
    return static_cast<int>(t->size());
  });
}

void* shmheap_ref_resolve(shmheap_t* h, const char* name, shmheap_t** heap, size_t* size) {
  return Guard<void*>(nullptr, [&]() -> void* {
    if (!h || !name || !heap) return FailErrno<void*>(EINVAL, "NULL argument", nullptr);
    auto r = shmheap::Resolve(*h->heap, name);
    if (!r.ok()) return Fail<void*>(r.status(), nullptr);
    *heap = h;
    if (r->attached) {
      auto handle = std::make_unique<shmheap_handle>();
      handle->heap = std::move(r->attached);
      *heap = handle.release();  // the caller detaches it
    }
    if (size) *size = r->data.size();
    return r->data.data() ? static_cast<void*>(r->data.data()) : static_cast<void*>((*heap)->heap->base());
  });
}

const char* shmheap_last_error(void) { return g_last_error.c_str(); }

}  // extern "C"
