// References between heaps by name: COOL v2's "representatives".
//
// Objects of one heap never point into another heap directly: a heap maps
// at a different address in every process, and another heap may not be
// attached at all. A *reference* is a named object that names its target
// instead: its bytes are the text "OBJECT" (an object of the same heap) or
// "../HEAP/OBJECT" (object OBJECT of heap HEAP, the file HEAP.heap in the
// same directory as this heap). Its mode has the file type S_IFLNK, so the
// shmheapfs mount shows it as a symbolic link whose target is exactly that
// text - `ln -s ../other/obj /mnt/shmheapfs/h/ref` creates one, and
// `readlink` reads one a library client made - and the kernel follows it to
// the right file.
//
// Resolve() follows references (up to kMaxReferenceHops, like the kernel's
// symlink limit), attaching other heaps as needed.
//
// Thread safety: as Heap. A reference's target is fixed at creation; to
// retarget one, create a new reference and Rename it over the old one.
#ifndef SHMHEAP_REFERENCE_HPP_
#define SHMHEAP_REFERENCE_HPP_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <shmheap/heap.hpp>
#include <shmheap/status.hpp>

namespace shmheap {

// st_mode of a reference: S_IFLNK | 0777 (symbolic links carry no
// permissions of their own).
inline constexpr std::uint32_t kReferenceMode = 0120777;
// References followed by Resolve before it gives up (kInvalidArgument).
inline constexpr int kMaxReferenceHops = 8;
// Longest target text (PATH_MAX - 1).
inline constexpr std::size_t kMaxReferenceTarget = 4095;

// True if `mode` (ObjectAttr::mode) is a reference's.
constexpr bool IsReferenceMode(std::uint32_t mode) { return (mode & 0170000u) == 0120000u; }

// A parsed target: heap is empty for an object of the referring heap.
struct ReferenceTarget {
  std::string heap;    // HEAP of "../HEAP/OBJECT"
  std::string object;  // OBJECT
};

// Parses target text. Errors: kInvalidArgument (empty, too long, NUL) and
// kNotSupported for text that is a valid symbolic link but names nothing a
// heap can reach ("/abs/path", "a/b", "../../x"): such links may exist in
// the mount, and Resolve refuses them.
Result<ReferenceTarget> ParseReferenceTarget(std::string_view target);

// Creates reference `name` in `heap` pointing at `target`, atomically (the
// name never exists without its target). The target need not exist (a
// dangling reference, as with symlinks), but it must parse. attr.mode is
// replaced by kReferenceMode. Errors: those of ParseReferenceTarget, and
// kAlreadyExists, kInvalidArgument (bad name), kNoSpace.
Result<ObjectId> CreateReference(Heap& heap, std::string_view name, std::string_view target,
                                 const ObjectAttr& attr = {});

// The target text of reference `name`. Errors: kNotFound, kInvalidArgument
// (the object is not a reference).
Result<std::string> ReadReference(Heap& heap, std::string_view name);
// The same, by id (what a file system's readlink has). Errors: kStale,
// kInvalidArgument.
Result<std::string> ReadReference(Heap& heap, ObjectId id);

// Where a name finally leads.
struct Resolved {
  // The heap holding the object: `attached` when Resolve attached another
  // heap for it (it stays attached as long as this value lives), else the
  // heap Resolve was called on.
  std::unique_ptr<Heap> attached;
  Heap* heap = nullptr;
  std::string object;           // the final object's name in *heap
  std::span<std::byte> data;    // its bytes (as Find: unlocked)
};

// Follows `name` in `heap`: a reference leads to its target, which may be a
// reference again; anything else resolves to itself. Other heaps are
// attached with default Options (they must exist). Errors: kNotFound (a
// missing object or heap: a dangling reference), kInvalidArgument (more than
// kMaxReferenceHops references), kNotSupported (a target no heap can reach),
// and the errors of Heap::Open.
Result<Resolved> Resolve(Heap& heap, std::string_view name);

}  // namespace shmheap

#endif  // SHMHEAP_REFERENCE_HPP_
