#!/usr/bin/env bash
# Runs clang-tidy with the tree's profile (.clang-tidy) over every C++ source file of the project in
# BUILD_DIR's compilation database (default build/; build it first: deploy/build.sh). Prints each
# finding and exits non-zero if there is one. About 10 minutes on 2 cores; not part of the test command.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
[ -f "$build_dir/compile_commands.json" ] || { echo "clang-tidy.sh: no $build_dir/compile_commands.json (run deploy/build.sh)" >&2; exit 2; }
command -v clang-tidy >/dev/null || apt-get install -y -q clang-tidy >/dev/null
cd "$root"
# The project's files that the build compiles (bench/mpi_dadmm.cc only where MPI is installed).
files=$(git ls-files '*.cc' | while read -r f; do grep -q "\"file\": \"$root/$f\"" "$build_dir/compile_commands.json" && echo "$f"; done)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# One process per file, as many at once as there are cores; findings collected, then printed.
printf '%s\n' $files | xargs -P "$(nproc)" -n 1 clang-tidy -p "$build_dir" --quiet 2>/dev/null | grep -E '(warning|error):' | sort -u >"$out" || true
if [ -s "$out" ]; then
  cat "$out"
  echo "clang-tidy: $(wc -l <"$out") finding(s)" >&2
  exit 1
fi
echo "clang-tidy: no findings in $(printf '%s\n' $files | wc -l) files"
