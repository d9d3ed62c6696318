// LockService::ClosesCycle: deadlock detection across file owners (lockd)
// and library clients (the heap's hold tables), within one heap.
//
// Nodes are file owners and library (client slot, owner) pairs. Edges:
//  - a file owner's waiting request -> the file owners lockd says block it,
//    and, if it waits for the heap lock, the library holders that conflict;
//  - a waiting library owner -> the library holders of the object it waits
//    for, and, where the daemon's collective owner holds that object for
//    file users, the file owners whose locks there conflict.
// A path from the request's own owner back to it is a deadlock.
#include <set>
#include <tuple>
#include <vector>

#include "fs/src/filesystem.h"
#include "fs/src/lock_service.h"
#include "fs/src/node_id.h"

namespace shmheap::fs {

bool LockService::ClosesCycle(std::uint64_t id) {
  std::unordered_map<std::uint64_t, Pending> pending;
  {
    std::lock_guard<std::mutex> g(mu_);
    pending = pending_;
  }
  auto start = pending.find(id);
  if (start == pending.end()) return false;
  auto node = fs_->Resolve(start->second.ino);
  if (!node.ok() || node->kind != Node::kObject) return false;
  Heap& heap = *node->heap->heap;
  const std::uint32_t slot = node->heap->slot;
  const std::vector<Heap::LockWaiter> lib_waits = heap.LockWaiters();

  struct Key {
    bool lib;
    std::uint32_t slot;
    std::uint64_t owner;
    bool operator<(const Key& o) const {
      return std::tie(lib, slot, owner) < std::tie(o.lib, o.slot, o.owner);
    }
  };
  std::set<Key> seen;
  std::vector<Key> stack;
  const std::uint64_t me = start->second.owner;

  // Library holders of `inode` that block a request for `write` (excluding
  // the daemon itself and `except`).
  // `node`: the file request's node id, if it is one (its object may be
  // gone, and the inode number another object's now).
  auto push_library_holders = [&](std::uint64_t inode, std::uint64_t node, bool write, const Key* except) {
    auto id = heap.IdOf(inode);
    if (!id.ok() || (node != 0 && !GenerationFits(node, id->generation))) return;
    auto holders = heap.LockHolders(*id);
    if (!holders.ok()) return;
    for (const auto& h : *holders) {
      if (!write && h.mode == LockMode::kRead) continue;
      if (h.self) {
        // The collective owner: the file owners whose locks conflict.
        for (const auto& l : engine_.Locks(ObjectNode(slot, id->inode, id->generation))) {
          if (write || l.type == lockd::LockType::kWrite) stack.push_back(Key{false, 0, l.owner});
        }
        continue;
      }
      Key k{true, h.slot, h.owner};
      if (except && !(k < *except) && !(*except < k)) continue;
      stack.push_back(k);
    }
  };
  // Blockers of a waiting file request.
  auto push_request_blockers = [&](std::uint64_t rid, const Pending& p) {
    for (std::uint64_t o : engine_.BlockedBy(rid)) stack.push_back(Key{false, 0, o});
    if (engine_.WaitingOnHeap(rid)) push_library_holders(InodeOf(p.ino), p.ino, p.write, nullptr);
  };

  push_request_blockers(id, start->second);
  while (!stack.empty()) {
    Key k = stack.back();
    stack.pop_back();
    if (!k.lib && k.owner == me) return true;
    if (!seen.insert(k).second) continue;
    if (!k.lib) {
      for (const auto& [rid, p] : pending) {
        if (p.owner == k.owner && SlotOf(p.ino) == slot) push_request_blockers(rid, p);
      }
    } else {
      for (const auto& w : lib_waits) {
        if (w.self || w.slot != k.slot || w.owner != k.owner) continue;
        push_library_holders(w.inode, 0, w.mode == LockMode::kWrite, &k);
      }
    }
  }
  return false;
}

}  // namespace shmheap::fs
