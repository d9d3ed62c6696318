#!/usr/bin/env bash
# Builds the Debian packages shmheapfs, libshmheap0 and libshmheap-dev from
# this source tree and leaves them in build-deb/ at the top of the tree.
#
# The tree is copied (tracked files plus untracked ones not ignored by git,
# so work in progress is included and build directories are not) to a
# temporary directory, packaging/debian becomes debian/ there, and
# dpkg-buildpackage -us -uc -b runs on the copy; the source tree itself is
# never touched except for build-deb/.
#
# Needs: dpkg-dev, debhelper (>= 13) and the Build-Depends of
# packaging/debian/control (packaging/deps.sh installs those). Set
# KEEP_BUILD_TREE=1 to keep the temporary copy for inspection.
# The build runs under flock /tmp/shmheapfs-build.lock, like every build of
# this project on shared machines.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build-deb"
version=$(dpkg-parsechangelog -l "$top/packaging/debian/changelog" -S Version)
work=$(mktemp -d /tmp/shmheapfs-deb.XXXXXX)
cleanup() { [ "${KEEP_BUILD_TREE:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT

src="$work/shmheapfs-$version"
mkdir -p "$src"
cd "$top"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Build directories are left out even where they are tracked;
  # deleted-but-tracked files are skipped (--ignore-failed-read).
  git ls-files -z --cached --others --exclude-standard | grep -zv '^build[^/]*/' |
    tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$src"
else
  tar --exclude='./build*' --exclude='./.git' --exclude='*.heap' -cf - . | tar -xf - -C "$src"
fi
rm -rf "$src/debian"
cp -a packaging/debian "$src/debian"

cd "$src"
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=${JOBS:-2}}"
flock /tmp/shmheapfs-build.lock dpkg-buildpackage -us -uc -b

mkdir -p "$out"
rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.buildinfo "$out"/*.changes
for f in "$work"/*.deb "$work"/*.ddeb "$work"/*.buildinfo "$work"/*.changes; do
  [ -e "$f" ] && mv "$f" "$out/"
done
ls -l "$out"
