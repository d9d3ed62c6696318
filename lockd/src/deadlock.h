// Deadlock detection over the wait-for graph of lock holders.
//
// Nodes are Holders (POSIX owners and flock files). There is an edge X -> Y
// when a request of X waits for Y: Y holds a lock conflicting with it, or
// Y has an earlier waiting request it queued behind (wait_queue.h). Before
// a request of X starts waiting on holders B1..Bn, the engine asks whether
// any Bi reaches X; if so, waiting would close a cycle through X and the
// request fails with kDeadlock instead (as Linux does for F_SETLKW).
//
// The graph is not stored: edges change with every grant and release, so
// the caller supplies them on demand through a successor function, and
// only the part reachable from the blockers is ever visited. Edges are
// between holders, not requests: a multi-threaded owner with two waiting
// requests waits for the union of their blockers, a conservative reading
// (again as Linux does).
//
// Thread safety: pure function; the successor function is called on the
// caller's thread.
#ifndef SHMHEAP_LOCKD_DEADLOCK_H_
#define SHMHEAP_LOCKD_DEADLOCK_H_

#include <functional>
#include <optional>
#include <vector>

#include "lockd/src/lock_mode.h"

namespace shmheap::lockd {

// Appends to *out the holders that `node` waits for (duplicates allowed).
using Successors = std::function<void(const Holder& node, std::vector<Holder>* out)>;

// Searches the wait-for graph from `blockers` for `target`. Returns the
// path [Bi, ..., target] if one exists (so target -> Bi -> ... -> target is
// the cycle a wait would close), else nullopt. Visits each node once, so it
// terminates on graphs that already contain cycles not through `target`.
// Never fails, never blocks.
std::optional<std::vector<Holder>> FindPath(const std::vector<Holder>& blockers,
                                            const Holder& target, const Successors& successors);

}  // namespace shmheap::lockd

#endif  // SHMHEAP_LOCKD_DEADLOCK_H_
