#!/usr/bin/env bash
# Installs shmheapfs from this source tree and starts it:
#   1. installs the Debian packages it needs (packaging/deps.sh),
#   2. builds it (build-install/, RelWithDebInfo) and installs it under /usr/local,
#   3. mounts the filesystem at /mnt/shmheapfs with heaps kept in
#      /var/lib/shmheapfs: through the systemd unit when systemd runs,
#      otherwise by starting the daemon directly.
# Re-running it upgrades and restarts. Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
packaging/deps.sh
cmake -S . -B build-install -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMHEAP_BUILD_TESTS=OFF -DSHMHEAP_BUILD_BENCH=OFF >/dev/null
cmake --build build-install -j "${JOBS:-2}"
$SUDO cmake --install build-install --prefix /usr/local >/dev/null
$SUDO ldconfig
mnt=${SHMHEAPFS_MOUNT:-/mnt/shmheapfs}
heapdir=${SHMHEAPFS_HEAPDIR:-/var/lib/shmheapfs}
[ -x /usr/local/sbin/shmheapfs ] || { echo "install.sh: /usr/local/sbin/shmheapfs was not installed" >&2; exit 1; }
$SUDO mkdir -p "$mnt" "$heapdir"
if [ -d /run/systemd/system ] && [ "$mnt" = /mnt/shmheapfs ] && [ "$heapdir" = /var/lib/shmheapfs ]; then
  # The unit (/usr/local/lib/systemd/system/shmheapfs.service) mounts
  # /mnt/shmheapfs with the settings of /usr/local/etc/shmheapfs.conf.
  $SUDO systemctl daemon-reload
  $SUDO systemctl enable shmheapfs.service
  $SUDO systemctl restart shmheapfs.service
else
  if mountpoint -q "$mnt"; then $SUDO fusermount3 -u "$mnt" || $SUDO umount "$mnt"; fi
  $SUDO /usr/local/sbin/shmheapfs -o heapdir="$heapdir",allow_other,default_permissions,config=/usr/local/etc/shmheapfs.conf "$mnt"
fi
echo "shmheapfs is mounted at $mnt (heaps in $heapdir). Try: mkdir $mnt/demo && echo hi > $mnt/demo/greeting"
