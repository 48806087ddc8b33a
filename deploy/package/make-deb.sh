#!/usr/bin/env bash
# Makes the dadmm Debian package from a build tree (deploy/package/package.cmake says what is in it).
#   deploy/package/make-deb.sh [BUILD_DIR] [OUT_DIR]
#       BUILD_DIR: default build/ (deploy/build.sh); an arm64 tree from
#                  deploy/raspberry-pi/cross-build.sh (without --agent-only) gives the arm64 package
#       OUT_DIR:   where the .deb goes (default BUILD_DIR/packages)
# Prints the package's path. Install it with: sudo apt install ./dadmm_VERSION_ARCH.deb
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
case "${1:-}" in -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
build_dir=${1:-$root/build}
[[ -f "$build_dir/CPackConfig.cmake" ]] || { echo "make-deb.sh: $build_dir is not a configured build tree (deploy/build.sh)" >&2; exit 2; }
build_dir=$(cd "$build_dir" && pwd)
out=${2:-$build_dir/packages}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for program in agent/dadmm-agent agent/dadmm-ctl; do
  [[ -x "$build_dir/$program" ]] || { echo "make-deb.sh: $build_dir/$program is not built" >&2; exit 2; }
done
# Everything the install rules name must be built (the tools, in a full build).
cmake --build "$build_dir" -j "$(nproc)" --target dadmm-agent dadmm-ctl dadmm-sim dadmm-topogen dadmm-split \
  dadmm-sweep dadmm-table1 > /dev/null
(cd "$build_dir" && cpack -G DEB -B "$out/cpack" > "$out/cpack.log" 2>&1) || { tail -20 "$out/cpack.log" >&2; exit 1; }
deb=$(ls -t "$out"/cpack/dadmm_*.deb | head -1)
mv "$deb" "$out/"
rm -rf "$out/cpack/_CPack_Packages"
echo "$out/$(basename "$deb")"
