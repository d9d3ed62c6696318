// FindPath (see deadlock.h): breadth-first search with parent links, so the
// path found is a shortest one and can be logged as the cycle it closes.
//
// Thread safety: pure function.
#include "lockd/src/deadlock.h"

#include <algorithm>
#include <deque>
#include <unordered_map>

namespace shmheap::lockd {

std::optional<std::vector<Holder>> FindPath(const std::vector<Holder>& blockers,
                                            const Holder& target, const Successors& successors) {
  // parent[n] = the node n was first reached from; start nodes map to
  // themselves.
  std::unordered_map<Holder, Holder, HolderHash> parent;
  std::deque<Holder> frontier;
  for (const Holder& b : blockers) {
    if (parent.emplace(b, b).second) frontier.push_back(b);
  }
  std::vector<Holder> next;
  while (!frontier.empty()) {
    const Holder node = frontier.front();
    frontier.pop_front();
    if (node == target) {
      std::vector<Holder> path{node};
      for (Holder n = node; !(parent.at(n) == n);) {
        n = parent.at(n);
        path.push_back(n);
      }
      std::reverse(path.begin(), path.end());
      return path;
    }
    next.clear();
    successors(node, &next);
    for (const Holder& s : next) {
      if (parent.emplace(s, node).second) frontier.push_back(s);
    }
  }
  return std::nullopt;
}

}  // namespace shmheap::lockd
