#!/usr/bin/env bash
# Runs heap_bench and prints a Markdown table of ratios: libshmheap against its
# baseline (Boost.Interprocess managed_mapped_file, a process-shared pthread
# mutex, or itself at 1k objects), all measured in the same run, with the
# build type, kernel and heap sizes. Heaps live on /dev/shm.
#
#   tests/bench/run_heap_bench.sh [BUILD_DIR] [--huge] [--quick]
#     BUILD_DIR  a build with SHMHEAP_BUILD_BENCH=ON (default: build)
#     --huge     lookup at 10M objects instead of 1M (slow, ~5 GB of /dev/shm)
#     --quick    one repetition instead of the median of three
# Ratio = shmheap ns/op / baseline ns/op (below 1: shmheap is faster).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build
huge=""
reps=3
for a in "$@"; do
  case $a in
    --huge) huge=--huge ;;
    --quick) reps=1 ;;
    -*) echo "usage: $0 [BUILD_DIR] [--huge] [--quick]" >&2; exit 2 ;;
    *) build=$a ;;
  esac
done
bin=$build/tests/heap_bench
if [ ! -x "$bin" ]; then
  echo "no $bin: configure with -DSHMHEAP_BUILD_BENCH=ON and build target heap_bench" >&2
  exit 1
fi
json=$(mktemp)
trap 'rm -f "$json"' EXIT
"$bin" $huge --benchmark_repetitions="$reps" --benchmark_out="$json" --benchmark_out_format=json \
  --benchmark_min_time=0.2 >&2

python3 - "$json" "$(uname -r)" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
ctx = data["context"]
unit = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

def pick(name):
    """Median (or the single run) of benchmark `name`, in ns per iteration."""
    runs = [b for b in data["benchmarks"] if b.get("run_name", b["name"]) == name]
    med = [b for b in runs if b.get("aggregate_name") == "median"]
    b = (med or [r for r in runs if b_is_iteration(r)] or [None])[0]
    if b is None:
        return None
    return b["real_time"] * unit[b.get("time_unit", "ns")]

def b_is_iteration(b):
    return b.get("run_type", "iteration") == "iteration"

big = "10000000" if ctx.get("lookup_big_n", "").startswith("10M") else "1000000"
rows = [
    ("named alloc+free, 64 B (C shmalloc+shfree)", "BM_Shmheap_NamedAllocFree",
     "BM_Boost_NamedConstructDestroy", "Boost construct+destroy", 0.5, "≥ 2× faster (ratio ≤ 0.5)"),
    ("named alloc+free, 64 B (C++ Allocate+Remove)", "BM_ShmheapCpp_NamedAllocateRemove",
     "BM_Boost_NamedConstructDestroy", "Boost construct+destroy", 0.5, "≥ 2× faster (ratio ≤ 0.5)"),
    ("find by name among 100k (C shmheap_find)", "BM_Shmheap_FindAmong100k",
     "BM_Boost_FindAmong100k", "Boost find<>", 1.0, "not slower (ratio ≤ 1)"),
    ("find by name among 100k (C++ Find)", "BM_ShmheapCpp_FindAmong100k",
     "BM_Boost_FindAmong100k", "Boost find<>", 1.0, "not slower (ratio ≤ 1)"),
    ("anonymous alloc/free mix, 16..4096 B, 1k live", "BM_Shmheap_AnonMix",
     "BM_Boost_AnonMix", "Boost allocate/deallocate", None, "—"),
    ("lock+unlock by name, WRITE, uncontended (C)", "BM_Shmheap_LockUnlockByName",
     "BM_PthreadMutexShared_LockUnlock", "pshared pthread mutex", 1.5, "≤ 1.5× the mutex"),
    ("lock+unlock by name, WRITE (C++ guard)", "BM_ShmheapCpp_LockGuardByName",
     "BM_PthreadMutexShared_LockUnlock", "pshared pthread mutex", 1.5, "≤ 1.5× the mutex"),
    ("lookup at %s objects vs 1k" % ("10M" if big == "10000000" else "1M"),
     "BM_ShmheapCpp_FindAtN/" + big, "BM_ShmheapCpp_FindAtN/1000", "shmheap at 1k", 1.3, "≤ 1.3× at 1k"),
]
print("## libshmheap benchmark\n")
print("- build type: %s; kernel: %s; %s CPUs at %s MHz; date %s" % (
    ctx.get("build_type", "?"), sys.argv[2], ctx.get("num_cpus", "?"), ctx.get("mhz_per_cpu", "?"),
    ctx.get("date", "?")))
print("- heaps on %s; heap maximum size: %s; objects 64 B; %s repetition(s), median" % (
    ctx.get("heap_dir", "?"), ctx.get("heap_max_size", "?"),
    "3" if any(b.get("aggregate_name") == "median" for b in data["benchmarks"]) else "1"))
print()
print("| operation | shmheap ns/op | baseline | baseline ns/op | ratio | target | met |")
print("|---|---:|---|---:|---:|---|---|")
for label, ours, base, base_label, limit, target in rows:
    a, b = pick(ours), pick(base)
    if a is None or b is None:
        print("| %s | %s | %s | %s | — | %s | not run |" % (label, a, base_label, b, target))
        continue
    ratio = a / b
    met = "—" if limit is None else ("yes" if ratio <= limit else "**no**")
    print("| %s | %.1f | %s | %.1f | %.2f | %s | %s |" % (label, a, base_label, b, ratio, target, met))
frag = [b for b in data["benchmarks"] if b.get("run_name", b["name"]).startswith("BM_ShmheapCpp_FragmentationAfterMix")
        and b_is_iteration(b)]
if frag:
    f = frag[0]
    print()
    print("Fragmentation after 200k random anonymous alloc/free (16 B..128 KiB log-uniform, ~2000 live): "
          "HeapStats internal %.1f%%, external %.1f%%; size-class rounding loses a further %.1f%% of chunk bytes; "
          "%d free runs, heap file %.1f MiB, %d live allocations." % (
              100 * f["internal_frag"], 100 * f["external_frag"], 100 * f["rounding_loss"], f["free_runs"],
              f["file_MiB"], f["live_allocs"]))
EOF
