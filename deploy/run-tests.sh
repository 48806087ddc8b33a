#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, simulator and multi-process).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
"$root/deploy/build.sh"
# The sources must be formatted (root .clang-format); after the build, which installs clang-format.
"$root/deploy/check-format.sh"
# Serially: the process tests start many agents and the example cluster uses fixed ports.
ctest --test-dir "$build_dir" --output-on-failure --timeout 600
# Every fuzz target replays its corpus (the inputs that once broke something among them) and fuzzes for
# 10 s, two at a time (deploy/fuzz.sh alone: 30 s each; --runs 10000000 for the long run).
"$root/deploy/fuzz.sh" --seconds 10
