// shmheap put PATH NAME FILE: stores FILE as object NAME, replacing its
// current version atomically if it exists.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include "heap/cli/commands.h"

namespace shmheap::cli {

int CmdPut(const Args& args) {
  if (args.size() != 3) return Usage("put takes PATH NAME FILE");
  std::string bytes;
  if (args[2] == "-") {
    bytes.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(args[2], std::ios::binary);
    if (!in) return Fail("put: read " + args[2], Status::NotFound(args[2]));
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto h = OpenExisting(args[0], false);
  if (!h.ok()) return Fail("put " + args[0], h.status());
  std::span<const std::byte> data(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
  auto created = (*h)->Allocate(args[1], bytes.size());
  if (created.ok()) {
    std::copy(data.begin(), data.end(), created->begin());
    return 0;
  }
  if (created.code() != Code::kAlreadyExists) return Fail("put " + args[1], created.status());
  Status s = (*h)->Replace(args[1], data);
  return s.ok() ? 0 : Fail("put " + args[1], s);
}

}  // namespace shmheap::cli
