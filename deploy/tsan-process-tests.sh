#!/usr/bin/env bash
# Builds dadmm with ThreadSanitizer (DADMM_TSAN) into BUILD_DIR (default: build-tsan/ at the
# repository root) and runs the process tests on it: every agent they start is instrumented, and
# every report ThreadSanitizer writes (one file per process) is printed. Exit 1 if there is any.
# Not in the test command (a full instrumented build takes about 10 minutes on two cores).
#
# gRPC, protobuf and Abseil come from Debian uninstrumented. TSan does not see their locks, so the
# libc calls they make (memcpy, new/delete, epoll) look like thousands of races; the run ignores
# what those libraries do (ignore_noninstrumented_modules=1) and checks dadmm's own code: the
# algorithm thread against Status's handlers, the signal thread and gRPC's callbacks into it.
#   deploy/tsan-process-tests.sh [CTEST_REGEX]     (default: the process tests, -L process)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build-tsan}
"$root/deploy/install-deps.sh"
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDADMM_TSAN=ON >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
reports=$(mktemp -d /tmp/dadmm-tsan.XXXXXX)
selection=(-L process)
[[ -z "${1:-}" ]] || selection=(-R "$1")
status=0
# The arm64 test runs uninstrumented cross-built agents; the compose check builds nothing of ours.
TSAN_OPTIONS="log_path=$reports/report ignore_noninstrumented_modules=1 second_deadlock_stack=1 halt_on_error=0" \
  ctest --test-dir "$build_dir" --output-on-failure --timeout 900 "${selection[@]}" -E 'arm64_mixed|compose_check' ||
  status=$?
shopt -s nullglob
files=("$reports"/report.*)
for f in "${files[@]}"; do
  echo "=== $f"
  cat "$f"
done
echo "tsan-process-tests: ${#files[@]} process(es) reported races (reports in $reports); ctest exit $status"
((${#files[@]} == 0 && status == 0))
