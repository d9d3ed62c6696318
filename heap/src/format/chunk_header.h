// ChunkHeader: the 16 bytes in front of every allocation's user data.
//
// It ties a data block back to its object record (so shfree(ptr) of a named
// object's data removes the name) and records the requested size. Free small
// chunks reuse the first 4 bytes as the in-block free-list link instead.
#ifndef SHMHEAP_FORMAT_CHUNK_HEADER_H_
#define SHMHEAP_FORMAT_CHUNK_HEADER_H_

#include "heap/src/format/common.h"

namespace shmheap::format {

inline constexpr std::uint32_t kChunkMagic = 0xB10CC0DEu;
inline constexpr std::uint32_t kChunkRetired = 1;
// Owner of the library's own chunks (name index table, record segments,
// hold-table segments): never a valid argument to free or realloc.
inline constexpr std::uint64_t kInternalOwner = ~0ull;

struct ChunkHeader {
  std::uint32_t magic;      // 0: kChunkMagic while allocated. Else: not a chunk start.
  std::uint32_t flags;      // 4: kChunkRetired once the chunk is an old version of
                            //    its owner's data kept alive by pins; else 0.
  std::uint64_t owner;      // 8: record index + 1 of the object whose data this is
                            //    (current or retired version); 0 = anonymous.
};
SHMHEAP_FORMAT_STRUCT(ChunkHeader, 16);
SHMHEAP_FORMAT_FIELD(ChunkHeader, owner, 8);

}  // namespace shmheap::format

#endif  // SHMHEAP_FORMAT_CHUNK_HEADER_H_
