// HeapRegistry implementation.
#include "fs/src/heap_registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fs/src/log.h"
#include "fs/src/node_id.h"

namespace shmheap::fs {

namespace {

constexpr const char* kSlotFile = ".shmheapfs-slots";
constexpr const char* kSuffix = ".heap";

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

std::shared_ptr<FileDescriptor> OpenData(const std::string& path) {
  return std::make_shared<FileDescriptor>(::open(path.c_str(), O_RDWR | O_CLOEXEC));
}

}  // namespace

bool ValidHeapName(const std::string& name) {
  return !name.empty() && name.size() <= 250 && name[0] != '.' && name.find('/') == std::string::npos;
}

Status HeapRegistry::Init() {
  std::error_code ec;
  if (!std::filesystem::exists(heapdir_, ec)) {
    std::filesystem::create_directories(std::filesystem::path(heapdir_).parent_path(), ec);
    if (::mkdir(heapdir_.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::FromErrno("create heap directory " + heapdir_, errno);
    }
    Log()->info("created heap directory {}", heapdir_);
  }
  struct stat st {};
  if (::stat(heapdir_.c_str(), &st) != 0) return Status::FromErrno("heap directory " + heapdir_, errno);
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(heapdir_ + " is not a directory");
  {
    std::lock_guard<std::mutex> g(mu_);
    std::ifstream in(heapdir_ + "/" + kSlotFile);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::uint32_t slot;
      std::string uuid, name;
      if (!(ls >> slot >> uuid) || slot == 0) continue;
      if (slot > kMaxSlot) {  // from before node ids held generations (node_id.h)
        Log()->warn("{}/{}: slot {} is past {}; its heap gets a new slot", heapdir_, kSlotFile, slot, kMaxSlot);
        continue;
      }
      std::getline(ls >> std::ws, name);
      slots_[uuid] = slot;
      slot_names_[slot] = name;
      next_slot_ = std::max(next_slot_, slot + 1);
    }
  }
  return Status::Ok();
}

void HeapRegistry::SaveSlotsLocked() {
  std::string tmp = heapdir_ + "/" + kSlotFile + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& [uuid, slot] : slots_) out << slot << ' ' << uuid << ' ' << slot_names_[slot] << '\n';
    out.flush();
    if (!out) {
      Log()->error("cannot write {}: node ids of new heaps will not survive a restart", tmp);
      return;
    }
  }
  if (::rename(tmp.c_str(), (heapdir_ + "/" + kSlotFile).c_str()) != 0) {
    Log()->error("cannot replace {}/{}: {}", heapdir_, kSlotFile, std::strerror(errno));
  }
}

std::uint32_t HeapRegistry::SlotForLocked(const std::string& uuid, const std::string& name) {
  std::string key = uuid;
  auto it = slots_.find(key);
  if (it != slots_.end()) {
    auto live = by_slot_.find(it->second);
    // A copied heap file shares its original's UUID: give the copy its own slot.
    if (live != by_slot_.end() && live->second->name != name) key = uuid + "/" + name;
  }
  it = slots_.find(key);
  if (it != slots_.end()) {
    if (slot_names_[it->second] != name) {
      slot_names_[it->second] = name;
      SaveSlotsLocked();
    }
    return it->second;
  }
  // Never reused: the kernel and NFS clients may hold node ids of a heap
  // long gone, and a new heap's first objects would get the very same ones.
  if (!SlotsLeftLocked()) return 0;
  std::uint32_t slot = next_slot_++;
  slots_[key] = slot;
  slot_names_[slot] = name;
  SaveSlotsLocked();
  return slot;
}

std::shared_ptr<HeapEntry> HeapRegistry::AttachLocked(const std::string& name) {
  auto e = std::make_shared<HeapEntry>();
  e->name = name;
  Options o;
  o.mode = OpenMode::kOpen;
  auto h = Heap::Open(PathOf(name), o);
  if (h.ok()) {
    e->heap = std::shared_ptr<Heap>(std::move(*h));
    e->slot = SlotForLocked(e->heap->uuid(), name);
    e->data_fd = OpenData(PathOf(name));
  } else {
    e->error = h.status();
    e->slot = SlotForLocked("unattachable:" + name, name);
    Log()->error("heap {} is unavailable: {}", PathOf(name), e->error.ToString());
  }
  if (e->slot == 0) {
    Log()->error("heap {} is unavailable: all {} heap slots of {} were given out", PathOf(name), kMaxSlot,
                 heapdir_);
    return nullptr;
  }
  by_name_[name] = e;
  by_slot_[e->slot] = e;
  return e;
}

void HeapRegistry::Scan() {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(heapdir_.c_str())) {
    while (struct dirent* de = ::readdir(d)) {
      std::string f = de->d_name;
      if (f[0] == '.' || !EndsWith(f, kSuffix)) continue;
      if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN) continue;
      names.push_back(f.substr(0, f.size() - std::strlen(kSuffix)));
    }
    ::closedir(d);
  }
  std::lock_guard<std::mutex> g(mu_);
  std::map<std::string, bool> present;
  for (const auto& n : names) {
    present[n] = true;
    if (!by_name_.count(n) && ValidHeapName(n)) AttachLocked(n);
  }
  for (auto it = by_name_.begin(); it != by_name_.end();) {
    if (!present.count(it->first)) {
      by_slot_.erase(it->second->slot);
      it = by_name_.erase(it);
    } else {
      ++it;
    }
  }
}

std::shared_ptr<HeapEntry> HeapRegistry::ByName(const std::string& name) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::shared_ptr<HeapEntry> HeapRegistry::BySlot(std::uint32_t slot) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = by_slot_.find(slot);
  return it == by_slot_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<HeapEntry>> HeapRegistry::List() {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<std::shared_ptr<HeapEntry>> out;
  for (const auto& [n, e] : by_name_) out.push_back(e);
  return out;
}

Result<std::shared_ptr<HeapEntry>> HeapRegistry::Create(const std::string& name, unsigned mode, std::uint32_t uid,
                                                        std::uint32_t gid) {
  if (!ValidHeapName(name)) return Status::InvalidArgument("bad heap name '" + name + "'");
  std::lock_guard<std::mutex> g(mu_);
  if (by_name_.count(name)) return Status::AlreadyExists(name);
  Options o;
  o.mode = OpenMode::kCreate;
  o.max_size = default_max_size_;
  o.file_mode = mode & 07777;
  const std::string path = PathOf(name);
  // A new heap has a new UUID, so it needs a new slot: check before the file exists.
  if (!SlotsLeftLocked()) return Status::NoSpace("all " + std::to_string(kMaxSlot) + " heap slots were given out");
  auto h = Heap::Open(path, o);
  if (!h.ok()) return h.status();
  if (::chown(path.c_str(), uid, gid) != 0 && errno != EPERM) {
    Log()->warn("chown {} to {}:{}: {}", path, uid, gid, std::strerror(errno));
  }
  ::chmod(path.c_str(), mode & 07777);  // creation applied the umask; mkdir already did
  auto e = std::make_shared<HeapEntry>();
  e->name = name;
  e->heap = std::shared_ptr<Heap>(std::move(*h));
  e->slot = SlotForLocked(e->heap->uuid(), name);
  e->data_fd = OpenData(path);
  by_name_[name] = e;
  by_slot_[e->slot] = e;
  Log()->info("created heap {}", path);
  return e;
}

int HeapRegistry::Remove(const std::string& name) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return ENOENT;
  auto e = it->second;
  if (!e->heap) return e->error.ToErrno();
  if (e->heap->ObjectCount() > 0) return ENOTEMPTY;
  for (const auto& c : e->heap->Clients()) {
    if (c.alive && !c.self) return EBUSY;
  }
  if (::unlink(PathOf(name).c_str()) != 0) return errno;
  by_slot_.erase(e->slot);
  by_name_.erase(it);
  Log()->info("removed heap {}", PathOf(name));
  return 0;
}

int HeapRegistry::Rename(const std::string& from, const std::string& to, bool no_replace) {
  if (!ValidHeapName(to)) return EINVAL;
  std::lock_guard<std::mutex> g(mu_);
  auto src = by_name_.find(from);
  if (src == by_name_.end()) return ENOENT;
  if (from == to) return 0;
  auto dst = by_name_.find(to);
  if (dst != by_name_.end()) {
    if (no_replace) return EEXIST;
    if (!dst->second->heap) return dst->second->error.ToErrno();
    if (dst->second->heap->ObjectCount() > 0) return ENOTEMPTY;
  }
  if (::rename(PathOf(from).c_str(), PathOf(to).c_str()) != 0) return errno;
  if (dst != by_name_.end()) {
    by_slot_.erase(dst->second->slot);
    by_name_.erase(dst);
  }
  auto e = by_name_[from];
  by_name_.erase(from);
  e->name = to;
  by_name_[to] = e;
  slot_names_[e->slot] = to;
  SaveSlotsLocked();
  return 0;
}

Result<struct stat> HeapRegistry::StatFile(const std::string& name) const {
  struct stat st {};
  if (::stat(PathOf(name).c_str(), &st) != 0) return Status::FromErrno("stat " + PathOf(name), errno);
  return st;
}

Result<struct stat> HeapRegistry::StatDir() const {
  struct stat st {};
  if (::stat(heapdir_.c_str(), &st) != 0) return Status::FromErrno("stat " + heapdir_, errno);
  return st;
}

Status HeapRegistry::SetFileAttr(const std::string& name, const unsigned* mode, const std::uint32_t* uid,
                                 const std::uint32_t* gid) {
  return SetPathAttr(PathOf(name), mode, uid, gid);
}

Status SetPathAttr(const std::string& path, const unsigned* mode, const std::uint32_t* uid, const std::uint32_t* gid) {
  struct stat before {};
  if (::stat(path.c_str(), &before) != 0) return Status::FromErrno("stat " + path, errno);
  if ((uid || gid) && ::chown(path.c_str(), uid ? *uid : static_cast<uid_t>(-1),
                               gid ? *gid : static_cast<gid_t>(-1)) != 0) {
    return Status::FromErrno("chown " + path, errno);
  }
  // The backing file is a regular file, whose setgid bit chown clears; a
  // directory keeps it, so put it back unless the mode is being set anyway.
  const unsigned want = mode ? (*mode & 07777) : (before.st_mode & 07777);
  if ((mode || (uid || gid)) && ::chmod(path.c_str(), want) != 0) return Status::FromErrno("chmod " + path, errno);
  return Status::Ok();
}

void HeapRegistry::DetachAll() {
  std::lock_guard<std::mutex> g(mu_);
  for (auto& [name, e] : by_name_) {
    if (!e->heap) continue;
    Status s = e->heap->Flush();
    if (!s.ok()) Log()->error("flush heap {}: {}", name, s.ToString());
  }
  by_slot_.clear();
  by_name_.clear();
}

}  // namespace shmheap::fs
