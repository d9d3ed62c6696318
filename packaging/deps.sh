#!/usr/bin/env bash
# Installs the Debian packages shmheapfs needs to build, test and run.
# Installs only what is missing; needs root (or sudo) when something is.
set -euo pipefail
pkgs=(build-essential cmake pkg-config g++-multilib
      fuse3 libfuse3-dev libboost-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
      attr python3 python3-numpy util-linux procps psmisc iproute2
      nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils libnfs-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
