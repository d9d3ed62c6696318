#!/usr/bin/env bash
# nfs_export_test.sh -- a shmheapfs mount exported over NFS works, data and
# locks, between a library client on the server host and an NFS client on
# "another host".
#
#   nfs_export_test.sh SHMHEAPFS SHMHEAP_CLI LIB_LOCK_PROBE NFS_LOCK_CLIENT [GANESHA_CONF_IN]
#
# Real pieces only: the shmheapfs daemon mounts a fresh heap directory (FUSE),
# NFS-Ganesha 4.3 (FSAL_VFS) exports the mount from a "server" network
# namespace, and libnfs 4.0 clients (nfs-cp, nfs-cat, nfs_lock_client) run in
# a "client" network namespace joined to it by a veth pair (10.213.7.0/24,
# addresses that exist only inside the two namespaces). Library clients
# (lib_lock_probe, the shmheap CLI) attach the heap file directly.
#
# Checks:
#   1. data: a file written over NFSv3 (nfs-cp) is, byte for byte, the heap
#      object a library client reads; a small NFSv4 write too; an object a
#      library client writes reads back identically over NFSv3 and NFSv4.
#   2. locks: an NFSv4 write lock held by the NFS client makes a library
#      client's SHMHEAP_TRYLOCK WRITE fail with EAGAIN, and it succeeds once
#      the client unlocks; a library WRITE lock makes the NFS lock request
#      fail with NFS4ERR_DENIED, and it is granted once the library unlocks.
#
# Exit 0: pass. 1: failure (message on stderr). 77: skipped because not
# root or no /dev/fuse -- except with CI=true, where that is a failure too.
# Any other missing prerequisite (ganesha, rpcbind, libnfs tools) is always
# a failure. Everything started is torn down on every exit path: processes
# are stopped by their pid, the FUSE mount is unmounted (lazily as a last
# resort), the namespaces are deleted.
set -euo pipefail

readonly SKIP=77
readonly SRV_ADDR=10.213.7.1
readonly CLI_ADDR=10.213.7.2
readonly LOCK_OBJ=lockobj

prog=$(basename "$0")
say() { printf '%s: %s\n' "$prog" "$*"; }
fail() {
  printf '%s: FAIL: %s\n' "$prog" "$*" >&2
  exit 1
}
skip_or_fail() {
  if [ "${CI:-}" = "true" ]; then
    fail "$* (required under CI=true)"
  fi
  printf '%s: SKIP: %s\n' "$prog" "$*" >&2
  exit "$SKIP"
}

if [ $# -lt 4 ] || [ $# -gt 5 ]; then
  echo "usage: $prog SHMHEAPFS SHMHEAP_CLI LIB_LOCK_PROBE NFS_LOCK_CLIENT [GANESHA_CONF_IN]" >&2
  exit 1
fi
SHMHEAPFS=$1
SHMHEAP_CLI=$2
LIB_PROBE=$3
NFS_CLIENT=$4
CONF_IN=${5:-$(cd "$(dirname "$0")" && pwd)/ganesha.conf.in}

# --- prerequisites ----------------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip_or_fail "must run as root (network namespaces, NFS-Ganesha)"
if ! [ -c /dev/fuse ] || ! [ -r /dev/fuse ] || ! [ -w /dev/fuse ]; then
  skip_or_fail "/dev/fuse is not available"
fi

for bin in "$SHMHEAPFS" "$SHMHEAP_CLI" "$LIB_PROBE" "$NFS_CLIENT"; do
  [ -x "$bin" ] || fail "not an executable: $bin"
done
[ -r "$CONF_IN" ] || fail "ganesha config template not readable: $CONF_IN"
missing=()
for tool in ganesha.nfsd rpcbind nfs-cp nfs-cat nfs-ls ip ss ps fusermount3 mkfifo cmp timeout; do
  command -v "$tool" > /dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] ||
  fail "missing tools: ${missing[*]} (Debian packages: nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils fuse3 iproute2 procps)"
PLUGINS_DIR=""
for d in /usr/lib/x86_64-linux-gnu/ganesha /usr/lib/*-linux-gnu*/ganesha /usr/lib64/ganesha /usr/lib/ganesha; do
  if [ -e "$d/libfsalvfs.so" ]; then
    PLUGINS_DIR=$d
    break
  fi
done
[ -n "$PLUGINS_DIR" ] || fail "FSAL_VFS (libfsalvfs.so) not found: install nfs-ganesha-vfs"
# rpcbind's socket (/run/rpcbind.sock) is shared by every network namespace;
# Ganesha would register with a host rpcbind that the client cannot reach.
# A live rpcbind (an exited one left as a zombie does not count).
# shellcheck disable=SC2009  # pgrep cannot exclude zombies by state portably
rpcbind_running() { ps -C rpcbind -o stat= 2> /dev/null | grep -qv '^Z'; }
if rpcbind_running; then
  fail "an rpcbind is already running on this host; this test runs its own in the server namespace (stop it first)"
fi

# --- state and cleanup ----------------------------------------------------
WORK=$(mktemp -d /tmp/shmheapfs-nfs.XXXXXX)
chmod 755 "$WORK"
MNT=$WORK/mnt
HEAPDIR=$WORK/heaps
HEAP=$HEAPDIR/h.heap
NS_SRV=shnfs-srv-$$
NS_CLI=shnfs-cli-$$
VETH_SRV=shnfs-s$$
VETH_CLI=shnfs-c$$
mkdir -p "$MNT" "$HEAPDIR" "$WORK/recovery"

daemon_pid=""
rpcbind_pid=""
ganesha_pid=""
holder_pid=""
holder_fd=""
netns_made=()
passed=0

# Waits up to $2 tenths of a second for pid $1 to exit; true if it did.
wait_exit() {
  local pid=$1 tenths=$2 i
  for ((i = 0; i < tenths; i++)); do
    kill -0 "$pid" 2> /dev/null || return 0
    sleep 0.1
  done
  ! kill -0 "$pid" 2> /dev/null
}
# SIGTERM, then SIGKILL after $2 tenths of a second, of one process we started.
stop_pid() {
  local pid=$1 tenths=$2 name=$3
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2> /dev/null || return 0
  kill -TERM "$pid" 2> /dev/null || true
  if ! wait_exit "$pid" "$tenths"; then
    say "cleanup: $name (pid $pid) ignored SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2> /dev/null || true
    wait_exit "$pid" 50 || say "cleanup: $name (pid $pid) did not die"
  fi
  wait "$pid" 2> /dev/null || true
}
is_mounted() { awk -v m="$MNT" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts; }
show_logs() {
  local f
  for f in "$WORK/daemon.log" "$WORK/ganesha.log" "$WORK/ganesha.out" "$WORK/rpcbind.log"; do
    [ -s "$f" ] || continue
    echo "----- last lines of $f -----" >&2
    tail -n 25 "$f" >&2
  done
}
cleanup() {
  local rc=$? i ns
  set +e
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ] && [ "$passed" -eq 0 ]; then show_logs; fi
  if [ -n "$holder_fd" ]; then exec {holder_fd}>&-; fi
  stop_pid "$holder_pid" 20 "lock holder"
  stop_pid "$ganesha_pid" 100 "ganesha.nfsd"
  stop_pid "$rpcbind_pid" 20 "rpcbind"
  # Our rpcbind leaves its socket and lock file behind; nobody else's is running.
  if [ -n "$rpcbind_pid" ] && ! rpcbind_running; then
    rm -f /run/rpcbind.sock /run/rpcbind.lock
  fi
  if is_mounted; then
    for ((i = 0; i < 20; i++)); do
      fusermount3 -u "$MNT" 2> /dev/null && break
      sleep 0.25
    done
    if is_mounted; then
      say "cleanup: fusermount3 -u failed; detaching lazily (fusermount3 -u -z)"
      fusermount3 -u -z "$MNT"
    fi
  fi
  if [ -n "$daemon_pid" ]; then
    if ! wait_exit "$daemon_pid" 100; then
      say "cleanup: shmheapfs (pid $daemon_pid) still running after unmount; sending SIGKILL"
      kill -KILL "$daemon_pid" 2> /dev/null
      wait_exit "$daemon_pid" 50
      is_mounted && fusermount3 -u -z "$MNT"
    fi
    wait "$daemon_pid" 2> /dev/null
  fi
  for ns in "${netns_made[@]}"; do
    ip netns del "$ns" 2> /dev/null || say "cleanup: could not delete network namespace $ns"
  done
  if is_mounted; then
    say "cleanup: $MNT is still mounted; leaving $WORK in place"
  elif [ "${NFS_TEST_KEEP:-}" = "1" ]; then
    say "keeping $WORK (NFS_TEST_KEEP=1)"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

srv() { ip netns exec "$NS_SRV" "$@"; }
cli() { timeout 30 ip netns exec "$NS_CLI" "$@"; }
# Polls "$@" every 0.1 s for up to $1 tenths of a second.
poll() {
  local tenths=$1 i
  shift
  for ((i = 0; i < tenths; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
listening() { srv ss -Hltn "sport = :$1" | grep -q LISTEN; }

# --- the mount ------------------------------------------------------------
say "mounting shmheapfs on $MNT (heaps in $HEAPDIR)"
"$SHMHEAPFS" -f -o "heapdir=$HEAPDIR,allow_other,default_permissions" "$MNT" > "$WORK/daemon.log" 2>&1 &
daemon_pid=$!
poll 100 is_mounted || fail "shmheapfs did not mount within 10 s"
mkdir "$MNT/h" || fail "mkdir of heap directory $MNT/h failed"
[ -f "$HEAP" ] || fail "mkdir $MNT/h did not create heap file $HEAP"
head -c 4096 /dev/zero > "$MNT/h/$LOCK_OBJ" || fail "creating $MNT/h/$LOCK_OBJ failed"

# --- the two hosts --------------------------------------------------------
say "creating network namespaces $NS_SRV ($SRV_ADDR) and $NS_CLI ($CLI_ADDR)"
ip netns add "$NS_SRV"
netns_made+=("$NS_SRV")
ip netns add "$NS_CLI"
netns_made+=("$NS_CLI")
ip link add "$VETH_SRV" type veth peer name "$VETH_CLI"
ip link set "$VETH_SRV" netns "$NS_SRV"
ip link set "$VETH_CLI" netns "$NS_CLI"
ip -n "$NS_SRV" addr add "$SRV_ADDR/24" dev "$VETH_SRV"
ip -n "$NS_CLI" addr add "$CLI_ADDR/24" dev "$VETH_CLI"
for ns in "$NS_SRV" "$NS_CLI"; do ip -n "$ns" link set lo up; done
ip -n "$NS_SRV" link set "$VETH_SRV" up
ip -n "$NS_CLI" link set "$VETH_CLI" up

# --- the NFS server -------------------------------------------------------
say "starting rpcbind and NFS-Ganesha in $NS_SRV"
# `ip netns exec` execs the command, so $! is the server's own pid.
ip netns exec "$NS_SRV" rpcbind -f > "$WORK/rpcbind.log" 2>&1 &
rpcbind_pid=$!
poll 50 listening 111 || fail "rpcbind is not listening on port 111 after 5 s"

sed -e "s|@BIND_ADDR@|$SRV_ADDR|g" -e "s|@PLUGINS_DIR@|$PLUGINS_DIR|g" \
  -e "s|@RECOVERY_ROOT@|$WORK/recovery|g" -e "s|@MOUNT@|$MNT|g" "$CONF_IN" > "$WORK/ganesha.conf"
ip netns exec "$NS_SRV" ganesha.nfsd -F -f "$WORK/ganesha.conf" -L "$WORK/ganesha.log" \
  -p "$WORK/ganesha.pid" -N NIV_EVENT > "$WORK/ganesha.out" 2>&1 &
ganesha_pid=$!
ganesha_ready() {
  kill -0 "$ganesha_pid" 2> /dev/null || fail "ganesha.nfsd exited during startup"
  grep -q "NFS SERVER INITIALIZED" "$WORK/ganesha.log" 2> /dev/null && listening 2049
}
poll 150 ganesha_ready || fail "ganesha.nfsd did not come up within 15 s"

NFS3_URL="nfs://$SRV_ADDR$MNT/h"             # NFSv3: the export's Path
NFS4_URL="nfs://$SRV_ADDR/shmheapfs/h"       # NFSv4: the export's Pseudo path
export_ls=$(cli nfs-ls "nfs://$SRV_ADDR$MNT/") || fail "nfs-ls of the export from $NS_CLI failed"
grep -q " h$" <<< "$export_ls" || fail "the heap directory h is not listed over NFS: $export_ls"
say "ok: the export is reachable from $NS_CLI"

# --- 1. data ----------------------------------------------------------------
# Object contents as a library client sees them: via the C API (lib_lock_probe,
# under a READ lock) and via the shmheap CLI.
lib_matches() {
  local name=$1 expect=$2
  "$LIB_PROBE" "$HEAP" "$name" cat > "$WORK/lib.out" || fail "lib_lock_probe cat $name failed"
  cmp -s "$WORK/lib.out" "$expect" ||
    fail "library client's '$name' ($(stat -c %s "$WORK/lib.out") bytes) differs from what was written over NFS ($(stat -c %s "$expect") bytes)"
  "$SHMHEAP_CLI" cat "$HEAP" "$name" > "$WORK/cli.out" || fail "shmheap cat $name failed"
  cmp -s "$WORK/cli.out" "$expect" || fail "shmheap cat '$name' differs from what was written over NFS"
}

head -c 200001 /dev/urandom > "$WORK/nfs_v3.bin"
cli nfs-cp "$WORK/nfs_v3.bin" "$NFS3_URL/from_nfs3" > /dev/null || fail "nfs-cp over NFSv3 to $NFS3_URL/from_nfs3 failed"
lib_matches from_nfs3 "$WORK/nfs_v3.bin"
say "ok: 200001 bytes written with nfs-cp over NFSv3 are the heap object library clients read"

# libnfs 4.0 fails NFSv4 writes above ~3.9 KB per call: one small write.
head -c 3000 /dev/urandom > "$WORK/nfs_v4.bin"
cli nfs-cp "$WORK/nfs_v4.bin" "$NFS4_URL/from_nfs4?version=4" > /dev/null ||
  fail "nfs-cp over NFSv4 to $NFS4_URL/from_nfs4 failed"
lib_matches from_nfs4 "$WORK/nfs_v4.bin"
say "ok: 3000 bytes written with nfs-cp over NFSv4 are the heap object library clients read"

head -c 70001 /dev/urandom > "$WORK/lib.bin"
"$LIB_PROBE" "$HEAP" from_lib put "$WORK/lib.bin" || fail "library client could not write object from_lib"
nfs3_reads_lib_object() {
  cli nfs-cat "$NFS3_URL/from_lib" > "$WORK/nfs3.out" 2> "$WORK/nfs3.err" && cmp -s "$WORK/nfs3.out" "$WORK/lib.bin"
}
# A new name appears at once (a lookup miss goes to the daemon); allow for
# Ganesha's 1 s attribute cache anyway.
poll 30 nfs3_reads_lib_object ||
  fail "nfs-cat over NFSv3 of library-written from_lib: $(cat "$WORK/nfs3.err") ($(stat -c %s "$WORK/nfs3.out") of 70001 bytes, contents $(cmp -s "$WORK/nfs3.out" "$WORK/lib.bin" && echo equal || echo differ))"
cli "$NFS_CLIENT" "$SRV_ADDR" /shmheapfs /h/from_lib read > "$WORK/nfs4.out" || fail "NFSv4 read of from_lib failed"
cmp -s "$WORK/nfs4.out" "$WORK/lib.bin" || fail "NFSv4 read of library-written from_lib differs from what the library wrote"
say "ok: 70001 bytes a library client wrote read back identically over NFSv3 (nfs-cat) and NFSv4"

# --- 2. locks ---------------------------------------------------------------
# Starts a lock holder ("$@") whose stdin is a fifo this script keeps open:
# closing the fifo tells it to unlock. Waits until it prints "locked".
start_holder() {
  local what=$1
  shift
  rm -f "$WORK/ctl"
  mkfifo -m 600 "$WORK/ctl"
  "$@" < "$WORK/ctl" > "$WORK/holder.out" 2> "$WORK/holder.err" &
  holder_pid=$!
  exec {holder_fd}> "$WORK/ctl"
  holder_locked() {
    grep -qx locked "$WORK/holder.out" && return 0
    kill -0 "$holder_pid" 2> /dev/null ||
      fail "$what exited without taking the lock: $(cat "$WORK/holder.out" "$WORK/holder.err")"
    return 1
  }
  poll 100 holder_locked || fail "$what did not report the lock within 10 s"
}
# Tells the holder to unlock and waits for it; fails unless it exits 0.
release_holder() {
  local what=$1 st=0
  exec {holder_fd}>&-
  holder_fd=""
  wait "$holder_pid" || st=$?
  holder_pid=""
  [ "$st" -eq 0 ] || fail "$what failed to unlock (exit $st): $(cat "$WORK/holder.out" "$WORK/holder.err")"
  grep -qx unlocked "$WORK/holder.out" || fail "$what did not report the unlock"
}
lib_trylock() {
  local st=0
  "$LIB_PROBE" "$HEAP" "$LOCK_OBJ" trywrite > "$WORK/probe.out" 2> "$WORK/probe.err" || st=$?
  return "$st"
}
nfs_trylock() {
  local st=0
  cli "$NFS_CLIENT" "$SRV_ADDR" /shmheapfs "/h/$LOCK_OBJ" trylock > "$WORK/probe.out" 2> "$WORK/probe.err" || st=$?
  return "$st"
}

# 2a. An NFSv4 write lock excludes a library WRITE lock.
lib_trylock || fail "library TRYLOCK WRITE of $LOCK_OBJ failed before any NFS lock: $(cat "$WORK/probe.err")"
start_holder "NFSv4 lock holder" ip netns exec "$NS_CLI" "$NFS_CLIENT" "$SRV_ADDR" /shmheapfs "/h/$LOCK_OBJ" hold
st=0
lib_trylock || st=$?
case $st in
  2) say "ok: NFSv4 write lock held by $NS_CLI -> library SHMHEAP_TRYLOCK WRITE fails with EAGAIN" ;;
  0) fail "library SHMHEAP_TRYLOCK WRITE succeeded while the NFS client held a write lock on $LOCK_OBJ (the NFS lock did not reach the heap)" ;;
  *) fail "library SHMHEAP_TRYLOCK WRITE failed with something other than EAGAIN (exit $st): $(cat "$WORK/probe.err")" ;;
esac
release_holder "NFSv4 lock holder"
# LOCKU is synchronous down to the daemon's setlk; a short grace for safety.
poll 20 lib_trylock ||
  fail "library SHMHEAP_TRYLOCK WRITE still fails 2 s after the NFS client unlocked: $(cat "$WORK/probe.out" "$WORK/probe.err")"
say "ok: after the NFSv4 unlock the library SHMHEAP_TRYLOCK WRITE succeeds"

# 2b. A library WRITE lock excludes NFSv4 locks.
nfs_trylock || fail "NFSv4 lock of $LOCK_OBJ failed with no other holder: $(cat "$WORK/probe.err")"
start_holder "library lock holder" "$LIB_PROBE" "$HEAP" "$LOCK_OBJ" hold
st=0
nfs_trylock || st=$?
case $st in
  2) say "ok: library WRITE lock -> NFSv4 LOCK from $NS_CLI is denied (NFS4ERR_DENIED)" ;;
  0) fail "the NFS client was granted a write lock on $LOCK_OBJ while a library client held its WRITE lock" ;;
  *) fail "NFSv4 lock attempt failed with something other than a denial (exit $st): $(cat "$WORK/probe.err")" ;;
esac
release_holder "library lock holder"
poll 20 nfs_trylock ||
  fail "NFSv4 lock still not granted 2 s after the library client unlocked: $(cat "$WORK/probe.out" "$WORK/probe.err")"
say "ok: after the library unlock the NFSv4 lock is granted"

# The heap is still consistent after all of this.
"$SHMHEAP_CLI" check "$HEAP" > "$WORK/check.out" 2>&1 || fail "shmheap check $HEAP: $(cat "$WORK/check.out")"

passed=1
say "PASS"
