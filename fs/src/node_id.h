// FUSE node ids, derived from persistent identities so that they survive a
// daemon restart and stay valid after the kernel forgets them (NFS export).
//
//   root directory   1
//   heap directory   slot << 40             (slot >= 1, from HeapRegistry)
//   object           slot << 40 | inode     (inode: the object's persistent
//                                            inode number, 1 .. 2^40 - 1)
// A slot is never reused for another heap (the registry keys slots by heap
// UUID), and an object's (inode, generation) is never reused within a heap,
// so (node id, generation) never names two things.
#ifndef SHMHEAP_FS_NODE_ID_H_
#define SHMHEAP_FS_NODE_ID_H_

#include <cstdint>

namespace shmheap::fs {

inline constexpr std::uint64_t kRootNode = 1;
inline constexpr unsigned kSlotShift = 40;
inline constexpr std::uint64_t kInodeMask = (1ull << kSlotShift) - 1;
inline constexpr std::uint32_t kMaxSlot = (1u << 23) - 1;

inline std::uint64_t HeapNode(std::uint32_t slot) { return std::uint64_t{slot} << kSlotShift; }
inline std::uint64_t ObjectNode(std::uint32_t slot, std::uint64_t inode) { return HeapNode(slot) | inode; }
inline std::uint32_t SlotOf(std::uint64_t node) { return static_cast<std::uint32_t>(node >> kSlotShift); }
inline std::uint64_t InodeOf(std::uint64_t node) { return node & kInodeMask; }

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_NODE_ID_H_
