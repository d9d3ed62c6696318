#!/usr/bin/env bash
# Runs the whole test suite: installs missing build dependencies, builds the
# project, a 32-bit library build (for the 32/64-bit sharing test), and
# ASan+UBSan and TSan builds, and runs ctest in each. Exit status 0 only if
# everything passed. Builds go to build/, build-m32/, build-asan/, build-tsan/.
#   tests/run_all.sh            everything
#   tests/run_all.sh --quick    main build only
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=${JOBS:-2}

packaging/deps.sh

configure() {  # dir, cmake args...
  local dir=$1; shift
  cmake -S "$root" -B "$root/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
}

echo "== 32-bit library build (build-m32)"
configure build-m32 -DSHMHEAP_LIB_ONLY=ON -DSHMHEAP_SPDLOG_HEADER_ONLY=ON -DSHMHEAP_LTO=OFF \
  -DCMAKE_C_FLAGS=-m32 -DCMAKE_CXX_FLAGS=-m32
cmake --build build-m32 -j "$jobs" --target cross_arch

echo "== main build (build)"
configure build -DSHMHEAP_M32_TOOL="$root/build-m32/cross_arch"
cmake --build build -j "$jobs"
echo "== main tests"
ctest --test-dir build --output-on-failure -j "$jobs"

if [ "$quick" -eq 0 ]; then
  echo "== ASan+UBSan build (build-asan): unit, corruption and integration tests (the daemon under ASan)"
  configure build-asan -DSHMHEAP_SANITIZE=address -DSHMHEAP_BUILD_BENCH=OFF
  cmake --build build-asan -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j "$jobs" -L 'unit|corruption|integration'
  echo "== TSan build (build-tsan): unit and integration tests (the daemon under TSan)"
  configure build-tsan -DSHMHEAP_SANITIZE=thread -DSHMHEAP_BUILD_BENCH=OFF
  cmake --build build-tsan -j "$jobs"
  TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure -j "$jobs" -L 'unit|integration'
fi
echo "== all tests passed"
