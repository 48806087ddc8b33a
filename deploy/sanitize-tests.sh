#!/usr/bin/env bash
# Builds dadmm with a sanitizer and runs the unit and process tests on it: every test binary and every
# agent the process tests start is instrumented. Not in the test command (an instrumented build and
# run take 20-30 minutes on two cores).
#   deploy/sanitize-tests.sh asan [CTEST_REGEX]   AddressSanitizer + UndefinedBehaviorSanitizer
#                                                (-DDADMM_SANITIZE=ON, into build-asan/)
#   deploy/sanitize-tests.sh tsan [CTEST_REGEX]   ThreadSanitizer (-DDADMM_TSAN=ON, into build-tsan/)
# Every report a sanitizer writes (one file per process) is printed; exit 1 if there is any, or if a
# test fails. The arm64 test runs uninstrumented cross-built agents and the compose check builds
# nothing of ours: both are left out.
#
# gRPC, protobuf and Abseil come from Debian uninstrumented. TSan does not see their locks, so the
# libc calls they make (memcpy, new/delete, epoll) look like thousands of races; the run ignores
# what those libraries do (ignore_noninstrumented_modules=1) and checks dadmm's own code: the
# algorithm thread against Status's handlers, the signal thread and gRPC's callbacks into it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-}
case "$kind" in
  asan) option=-DDADMM_SANITIZE=ON ;;
  tsan) option=-DDADMM_TSAN=ON ;;
  *) echo "sanitize-tests.sh: expected 'asan' or 'tsan' as the first argument, got '$kind'" >&2; exit 2 ;;
esac
build_dir=${BUILD_DIR:-$root/build-$kind}
"$root/deploy/install-deps.sh"
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$option" -DDADMM_WERROR=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
reports=$(mktemp -d "/tmp/dadmm-$kind.XXXXXX")
selection=()
[[ -z "${2:-}" ]] || selection=(-R "$2")
# Reports go to files (the tests capture the agents' stderr); halt_on_error=0 keeps a run going so that
# one report does not hide the next.
export ASAN_OPTIONS="log_path=$reports/report detect_leaks=1 halt_on_error=0"
export UBSAN_OPTIONS="log_path=$reports/report print_stacktrace=1 halt_on_error=0"
export TSAN_OPTIONS="log_path=$reports/report ignore_noninstrumented_modules=1 second_deadlock_stack=1 halt_on_error=0"
status=0
ctest --test-dir "$build_dir" --output-on-failure --timeout 900 "${selection[@]}" -E 'arm64_mixed|compose_check' ||
  status=$?
shopt -s nullglob
files=("$reports"/report.*)
for f in "${files[@]}"; do
  echo "=== $f"
  cat "$f"
done
echo "sanitize-tests ($kind): ${#files[@]} process(es) reported (reports in $reports); ctest exit $status"
((${#files[@]} == 0 && status == 0))
