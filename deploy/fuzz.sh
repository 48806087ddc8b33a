#!/usr/bin/env bash
# Fuzzes what agents read from outside with libFuzzer (clang, AddressSanitizer, UBSan): the topology
# YAML, CSV and SVMlight parsers, the agent's config file, and the session fed arbitrary peer messages (tests/fuzz/). Builds
# into FUZZ_BUILD_DIR (default build-fuzz/ at the repository root), replays each target's corpus
# (tests/fuzz/corpus/<target>: seeds, and every input that once broke something), then fuzzes each.
#   deploy/fuzz.sh                 30 s per target, as many targets at once as there are cores
#                                  (the README's test command runs deploy/fuzz.sh --seconds 10)
#   deploy/fuzz.sh --runs 10000000 each target to 10^7 executions, printing the counts
#   deploy/fuzz.sh --seconds 600   each target for 10 minutes
#   --only topology,session        these targets only; --jobs N: N targets at once (default: the cores)
# New inputs the fuzzer finds interesting go to a scratch directory, not the repository; an input
# that breaks a target is written as crash-* and the script exits 1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=30
runs=-1
only=""
jobs=$(nproc)
all_targets=(fuzz_topology fuzz_csv fuzz_svmlight fuzz_config fuzz_session)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; seconds=0; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) echo "fuzz.sh: unknown argument '$1' (--seconds S | --runs N | --only T,T | --jobs N)" >&2; exit 2 ;;
  esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --jobs must be a positive number, got '$jobs'" >&2; exit 2; }
targets=()
if [[ -z "$only" ]]; then
  targets=("${all_targets[@]}")
else
  IFS=, read -r -a names <<< "$only"
  for name in "${names[@]}"; do
    [[ " ${all_targets[*]} " == *" fuzz_$name "* ]] ||
      { echo "fuzz.sh: --only: no target '$name' (topology, csv, svmlight, config, session)" >&2; exit 2; }
    targets+=("fuzz_$name")
  done
fi
"$root/deploy/install-deps.sh"  # clang and libFuzzer's runtime (libclang-rt-14-dev) among them
CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="${FUZZ_OPT:--O1} -gline-tables-only" -DDADMM_FUZZ=ON -DDADMM_SANITIZE=ON \
  -DDADMM_BUILD_TESTS=OFF -DDADMM_WERROR=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" fuzz_session_seeds >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# One target per core at a time; each writes its verdict to $scratch/<name>.verdict.
fuzz_one() {
  local target=$1 name=${1#fuzz_}
  local corpus=$root/tests/fuzz/corpus/$name
  mkdir -p "$scratch/$name"
  if [[ $name == session ]]; then "$build/tests/fuzz/fuzz_session_seeds" "$scratch/$name" >/dev/null; fi
  # The corpus first (every input once), then fuzzing from it.
  if ! "$build/tests/fuzz/$target" -runs=0 "$corpus" "$scratch/$name" >"$scratch/$name.replay" 2>&1; then
    { tail -30 "$scratch/$name.replay"; echo "FAIL: $target on its corpus"; } >"$scratch/$name.verdict"
    return 1
  fi
  local args=(-max_len=4096 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$root/build-fuzz-crash-$name-")
  if [[ $runs -ge 0 ]]; then args+=(-runs="$runs"); else args+=(-max_total_time="$seconds"); fi
  if ! "$build/tests/fuzz/$target" "${args[@]}" "$scratch/$name" "$corpus" >"$scratch/$name.log" 2>&1; then
    { tail -40 "$scratch/$name.log"; echo "FAIL: $target (the input is in $root/build-fuzz-crash-$name-*)"; } \
      >"$scratch/$name.verdict"
    return 1
  fi
  local done_line
  done_line=$(grep -E "^Done [0-9]+ runs" "$scratch/$name.log" | tail -1)
  echo "$target: ${done_line:-done}, corpus $(ls "$corpus" | wc -l) + $(ls "$scratch/$name" | wc -l) found;" \
    "ASan and UBSan clean" >"$scratch/$name.verdict"
}
running=0
for target in "${targets[@]}"; do
  if ((running >= jobs)); then wait -n || true; running=$((running - 1)); fi
  fuzz_one "$target" &
  running=$((running + 1))
done
wait || true
failed=0
for target in "${targets[@]}"; do
  verdict=$scratch/${target#fuzz_}.verdict
  if [[ -f $verdict ]]; then cat "$verdict"; else echo "FAIL: $target gave no verdict"; failed=1; fi
  grep -q "^FAIL" "$verdict" 2>/dev/null && failed=1
done
exit $failed
