// ClientTable implementation and ProcessIdentity.
#include "heap/src/client_table.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "heap/src/backing_file.h"
#include "heap/src/clock.h"

namespace shmheap {

using format::ClientSlot;
using format::kMaxClients;

namespace {

std::uint64_t ReadStartTicks(std::uint32_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return 0;
  // Field 22 (starttime); skip past the parenthesised command name first.
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

void ReadBootId(std::uint8_t out[16]) {
  std::ifstream f("/proc/sys/kernel/random/boot_id");
  std::string s;
  std::getline(f, s);
  int n = 0;
  for (std::size_t i = 0; i + 1 < s.size() && n < 16; ++i) {
    if (s[i] == '-') continue;
    out[n++] = static_cast<std::uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16));
    ++i;
  }
}

}  // namespace

ProcessIdentity ProcessIdentity::Current() {
  ProcessIdentity id;
  id.pid = static_cast<std::uint32_t>(::getpid());
  id.start_ticks = ReadStartTicks(id.pid);
  ReadBootId(id.boot_id);
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  id.host = host;
  return id;
}

ClientSlot* ClientTable::Get(std::uint32_t slot) const {
  if (slot >= kMaxClients) return nullptr;
  return space_->At<ClientSlot>(space_->sb()->client_table_off + std::uint64_t{slot} * sizeof(ClientSlot));
}

Result<std::uint32_t> ClientTable::Reserve() {
  for (std::uint32_t s = 0; s < kMaxClients; ++s) {
    ClientSlot* c = Get(s);
    if (!c) return Status::Corruption("client table is out of bounds");
    if (AtomicField(c->state).load(std::memory_order_acquire) != format::kClientFree) continue;
    Status st = file_->TryLockLiveness(s);
    if (st.Is(Code::kBusy)) continue;  // another process is attaching with it
    if (!st.ok()) return st;
    return s;
  }
  return Status::NoSpace("all " + std::to_string(kMaxClients) + " client slots are in use");
}

void ClientTable::Fill(std::uint32_t slot, const ProcessIdentity& me) {
  ClientSlot* c = Get(slot);
  log_->LogRange(c, sizeof(ClientSlot));
  ClientSlot v{};
  v.state = format::kClientAttached;
  v.pid = me.pid;
  v.start_ticks = me.start_ticks;
  v.attach_time_ns = NowNs();
  std::memcpy(v.boot_id, me.boot_id, 16);
  std::strncpy(v.host, me.host.c_str(), sizeof(v.host) - 1);
  v.word_size = sizeof(void*) * 8;
  v.nonce = c->nonce + 1;
  *c = v;
  auto high = AtomicField(space_->sb()->client_high);
  if (high.load() < slot + 1) {
    log_->LogRange(&space_->sb()->client_high, 8);  // with reserved0: one 8-byte word
    high.store(slot + 1, std::memory_order_release);
  }
}

void ClientTable::Release(std::uint32_t slot) {
  ClientSlot* c = Get(slot);
  if (!c) return;
  log_->Set(c->state, static_cast<std::uint32_t>(format::kClientFree));
  log_->Set(c->holds_off, std::uint64_t{0});
  log_->Set(c->holds_cap, 0u);
}

void ClientTable::DropLiveness(std::uint32_t slot) { (void)file_->UnlockLiveness(slot); }

bool ClientTable::IsDead(std::uint32_t slot, std::int64_t self) const {
  if (static_cast<std::int64_t>(slot) == self) return false;
  const ClientSlot* c = Get(slot);
  if (!c || AtomicField(const_cast<ClientSlot*>(c)->state).load(std::memory_order_acquire) != format::kClientAttached) {
    return false;
  }
  auto held = file_->IsLivenessHeld(slot);
  return held.ok() && !*held;
}

bool ClientTable::LivenessLost(std::uint32_t slot, std::int64_t self) const {
  if (static_cast<std::int64_t>(slot) == self) return false;
  if (slot >= kMaxClients) return true;  // a corrupt owner: nobody can hold it
  auto held = file_->IsLivenessHeld(slot);
  return held.ok() && !*held;
}

std::vector<std::uint32_t> ClientTable::Attached() const {
  std::vector<std::uint32_t> out;
  ForEachAttached([&](std::uint32_t s, const ClientSlot&) {
    out.push_back(s);
    return true;
  });
  return out;
}

}  // namespace shmheap
