// ClientSlot: one attached process (PUPS client_show). HoldEntry: one lock,
// pin or reference that a client holds on an object.
//
// Liveness: a client owns its slot by holding an OFD write lock on byte
// kLivenessLockBase + slot of the heap file. The kernel drops that lock when
// the process dies (even by SIGKILL), so any process can tell a dead client
// from a live one with F_OFD_GETLK, across PID namespaces, without trusting
// the pid. The pid, host and start time are kept for display and reaping logs.
//
// Each client has a private hold table: a chain of HoldSegments (arena
// chunks) that only grows while the client is attached, so other processes
// can read it at any time without it moving under them. Only the client itself
// writes it, inside the object's lock section (object_lock.h) or under the
// heap mutex; after the client dies the reaper owns it.
#ifndef SHMHEAP_FORMAT_LOCK_SLOT_H_
#define SHMHEAP_FORMAT_LOCK_SLOT_H_

#include "heap/src/format/common.h"
#include "heap/src/format/superblock.h"

namespace shmheap::format {

inline constexpr std::uint64_t kLivenessLockBase = 1ull << 62;

enum ClientState : std::uint32_t {
  kClientFree = 0,
  kClientAttached = 1,
};

struct ClientSlot {
  std::uint32_t state;          // 0: ClientState (heap mutex).
  std::uint32_t pid;            // 4: pid in the client's own PID namespace.
  std::uint64_t start_ticks;    // 8: process start time (clock ticks after boot).
  std::int64_t attach_time_ns;  // 16: CLOCK_REALTIME of attach.
  std::uint8_t boot_id[16];     // 24: /proc/sys/kernel/random/boot_id of its host.
  char host[64];                // 40: host name, NUL-padded.
  std::uint64_t holds_off;      // 104: data offset of the first HoldSegment (0 = none).
  std::uint32_t holds_cap;      // 112: total entries in all segments.
  std::uint32_t word_size;      // 116: 32 or 64: the client's pointer width.
  std::uint64_t nonce;          // 120: changes on every attach to this slot.
};
SHMHEAP_FORMAT_STRUCT(ClientSlot, 128);
SHMHEAP_FORMAT_FIELD(ClientSlot, start_ticks, 8);
SHMHEAP_FORMAT_FIELD(ClientSlot, boot_id, 24);
SHMHEAP_FORMAT_FIELD(ClientSlot, host, 40);
SHMHEAP_FORMAT_FIELD(ClientSlot, holds_off, 104);
SHMHEAP_FORMAT_FIELD(ClientSlot, nonce, 120);

enum HoldMode : std::uint32_t {
  kHoldFree = 0,
  kHoldRead = 1,   // shared object lock; pins the version it saw
  kHoldWrite = 2,  // exclusive object lock; pins the version it saw
  kHoldPin = 3,    // keeps a data version alive while it is being read/written
  kHoldRef = 4,    // open references (ObjectRef); `count` of them
};

// Key (record, owner); record == 0 marks an empty slot. Entries never move
// while their client is attached (the client finds its own entries through a
// process-local map), so other processes may scan a table at any time.
// kRefOwner is the owner token reserved for kHoldRef entries.
inline constexpr std::uint64_t kRefOwner = ~0ull - 1;

struct HoldEntry {
  std::uint64_t record;       // 0: record index + 1 (0 = empty slot).
  std::uint64_t owner;        // 8: owner token chosen by the client.
  std::uint32_t mode;         // 16: bits 0..7: HoldMode held; bits 8..15: HoldMode this
                              //     owner is waiting for (deadlock detection), 0 = none.
  std::uint32_t count;        // 20: recursion depth (locks, pins) or reference count.
  std::uint64_t pinned_data;  // 24: data offset this hold keeps alive (0 = none).
};
SHMHEAP_FORMAT_STRUCT(HoldEntry, 32);
SHMHEAP_FORMAT_FIELD(HoldEntry, mode, 16);
SHMHEAP_FORMAT_FIELD(HoldEntry, count, 20);
SHMHEAP_FORMAT_FIELD(HoldEntry, pinned_data, 24);

// HoldSegment: the header of one segment of a hold table, followed by
// `capacity` HoldEntry slots.
struct HoldSegment {
  std::uint64_t next;      // 0: atomic; data offset of the next segment, 0 = none.
  std::uint32_t capacity;  // 8: entries that follow the header.
  std::uint32_t used_high; // 12: atomic; entries [0, used_high) may be in use; scans stop
                           //     there. Only grows while the client is attached.
  std::uint64_t reserved1; // 16
  std::uint64_t reserved2; // 24
};
SHMHEAP_FORMAT_STRUCT(HoldSegment, 32);
SHMHEAP_FORMAT_FIELD(HoldSegment, capacity, 8);
SHMHEAP_FORMAT_FIELD(HoldSegment, used_high, 12);

// Object lock word (ObjectRecord::lock_word):
//   bits 0..15   number of READ holds (distinct client/owner pairs)
//   bit 16       a WRITE hold exists
//   bit 17       waiters are sleeping on ObjectRecord::wake_seq
//   bit 18       a writer is waiting (new readers queue behind it)
//   bits 20..31  section owner: client slot + 1 while that client edits the
//                lock state and its hold table; 0 when free.
inline constexpr std::uint32_t kLockReadersMask = 0xFFFFu;
inline constexpr std::uint32_t kLockWriter = 1u << 16;
inline constexpr std::uint32_t kLockWaiters = 1u << 17;
inline constexpr std::uint32_t kLockWriterWaiting = 1u << 18;
inline constexpr std::uint32_t kLockSectionShift = 20;
inline constexpr std::uint32_t kLockSectionMask = 0xFFFu << kLockSectionShift;
static_assert(kMaxClients < 0xFFFu);

}  // namespace shmheap::format

#endif  // SHMHEAP_FORMAT_LOCK_SLOT_H_
