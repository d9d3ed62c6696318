// FUSE node ids, derived from persistent identities so that they survive a
// daemon restart and stay valid after the kernel forgets them (NFS export).
//
//   root directory   1
//   heap directory   slot << 48             (slot 1 .. 2^16 - 1, from HeapRegistry)
//   object           slot << 48 | inode << 20 | generation mod 2^20
//                                           (inode: the object's persistent
//                                            inode number, 1 .. 2^28 - 1)
// A slot is never reused for another heap while one holds it (the registry
// keys slots by heap UUID), and an object's (inode, generation) is never
// reused within a heap.
//
// The generation is in the node id because a heap reuses inode numbers (with
// a new generation), and the kernel must never see one node id name two
// objects while it still holds the first: requests carry only the node id,
// so a request in flight for the old object, or one made through a stale
// dentry, would act on the new one (a truncate landing on another object).
// The kernel drops a node id it holds when an entry brings it back with
// another generation, but not before. With 20 bits, two objects share a
// node id only if the heap allocated a multiple of 2^20 objects between
// them and the kernel still holds the first.
#ifndef SHMHEAP_FS_NODE_ID_H_
#define SHMHEAP_FS_NODE_ID_H_

#include <cstdint>

namespace shmheap::fs {

inline constexpr std::uint64_t kRootNode = 1;
inline constexpr unsigned kSlotShift = 48;
inline constexpr unsigned kInodeShift = 20;
inline constexpr std::uint64_t kGenerationMask = (1ull << kInodeShift) - 1;
inline constexpr std::uint64_t kMaxInode = (1ull << (kSlotShift - kInodeShift)) - 1;
inline constexpr std::uint32_t kMaxSlot = (1u << (64 - kSlotShift)) - 1;

inline std::uint64_t HeapNode(std::uint32_t slot) { return std::uint64_t{slot} << kSlotShift; }
// 0 (no node) for an inode number beyond kMaxInode.
inline std::uint64_t ObjectNode(std::uint32_t slot, std::uint64_t inode, std::uint64_t generation) {
  if (inode == 0 || inode > kMaxInode) return 0;
  return HeapNode(slot) | inode << kInodeShift | (generation & kGenerationMask);
}
inline std::uint32_t SlotOf(std::uint64_t node) { return static_cast<std::uint32_t>(node >> kSlotShift); }
inline std::uint64_t InodeOf(std::uint64_t node) { return (node >> kInodeShift) & kMaxInode; }
// True if `generation` is one that node id `node` can name.
inline bool GenerationFits(std::uint64_t node, std::uint64_t generation) {
  return (node & kGenerationMask) == (generation & kGenerationMask);
}

}  // namespace shmheap::fs

#endif  // SHMHEAP_FS_NODE_ID_H_
