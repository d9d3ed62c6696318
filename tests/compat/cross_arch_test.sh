#!/usr/bin/env bash
# One heap file shared by a 64-bit and a 32-bit process: each reads what the
# other wrote, changes it, and both count under the same lock at once.
# Usage: cross_arch_test.sh CROSS64 CROSS32 SHMHEAP_CLI
set -euo pipefail
c64=$1
c32=$2
cli=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
h=$dir/shared.heap

"$c64" create "$h"
"$c32" create "$h"
"$c32" verify "$h" 64 >/dev/null
"$c64" verify "$h" 32 >/dev/null

# A lock held by the 32-bit process excludes the 64-bit one, and is released
# when it exits.
"$c32" hold "$h" 700 > "$dir/held" &
holder=$!
for _ in $(seq 100); do grep -q locked "$dir/held" 2>/dev/null && break; sleep 0.05; done
rc=0; "$c64" trylock "$h" || rc=$?
[ "$rc" -eq 3 ] || { echo "64-bit trylock should be busy while 32-bit holds the lock (rc=$rc)"; exit 1; }
wait "$holder"
"$c64" trylock "$h"

# Both widths increment one counter under the object lock, concurrently.
"$c64" count "$h" 20000 & a=$!
"$c32" count "$h" 20000 & b=$!
"$c64" count "$h" 20000 & c=$!
"$c32" count "$h" 20000 & d=$!
wait $a; wait $b; wait $c; wait $d
got=$("$cli" cat "$h" counter | od -An -tu8 | tr -d ' ')
[ "$got" = 80000 ] || { echo "counter is $got, expected 80000"; exit 1; }
"$cli" check "$h"
echo "cross-architecture sharing: ok"
