#!/usr/bin/env bash
# Cross-builds dadmm-agent and dadmm-ctl for Raspberry Pi OS Bookworm 64-bit (Debian 12 arm64) on a
# Debian 12 x86-64 machine, with Debian multiarch. Installs what is missing (as root):
# crossbuild-essential-arm64, the :arm64 libraries, qemu-user-static (to run the result here).
#   deploy/raspberry-pi/cross-build.sh [--agent-only] [--no-debug-info] [BUILD_DIR]
#       BUILD_DIR: default build-arm64 at the repository root
#       --agent-only: dadmm-agent only (not dadmm-ctl)
#       --no-debug-info: -O2 without -g (a third faster to build; the tests use it)
# The programs are BUILD_DIR/agent/dadmm-agent and BUILD_DIR/agent/dadmm-ctl; copy them to the Pi
# (deploy/raspberry-pi/README.md).
#
# libyaml-cpp-dev is not multiarch-co-installable in Debian 12 (its :arm64 package would replace the
# host's), so it is unpacked into BUILD_DIR/sysroot instead of installed. prometheus-cpp's :arm64 -dev
# package would pull libcurl's and civetweb's: the agent links the arm64 runtime libraries directly,
# with the host's (architecture-independent) headers.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
targets=(dadmm-agent dadmm-ctl)
build_type=RelWithDebInfo
while (($#)); do
  case $1 in
    --agent-only) targets=(dadmm-agent) ;;
    --no-debug-info) build_type=Release ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "cross-build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
(($# <= 1)) || { echo "cross-build.sh: one BUILD_DIR at most (see --help)" >&2; exit 2; }
build_dir=${1:-$root/build-arm64}
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)

pkgs=(crossbuild-essential-arm64 qemu-user-static cmake pkg-config protobuf-compiler protobuf-compiler-grpc
      libeigen3-dev libgrpc++-dev:arm64 libprotobuf-dev:arm64 libabsl-dev:arm64 libyaml-cpp0.7:arm64
      prometheus-cpp-dev libprometheus-cpp-pull1.0:arm64 libprometheus-cpp-core1.0:arm64)
missing=()
for p in "${pkgs[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || { echo "cross-build.sh: missing ${missing[*]}; run as root" >&2; exit 1; }
  echo "cross-build.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    apt-get update -q
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}" || { apt-get update -q; apt-get install -y -q --no-install-recommends "${missing[@]}"; }
fi

sysroot=$build_dir/sysroot
if [[ ! -f "$sysroot/usr/lib/aarch64-linux-gnu/cmake/yaml-cpp/yaml-cpp-config.cmake" ]]; then
  mkdir -p "$build_dir/debs" "$sysroot"
  (cd "$build_dir/debs" && apt-get download libyaml-cpp-dev:arm64 libyaml-cpp0.7:arm64 >/dev/null)
  for deb in "$build_dir"/debs/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
fi

cmake -S "$root" -B "$build_dir" -DCMAKE_TOOLCHAIN_FILE="$root/deploy/raspberry-pi/arm64-toolchain.cmake" \
  -DCMAKE_BUILD_TYPE="$build_type" -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DDADMM_BUILD_TESTS=OFF \
  -Dyaml-cpp_DIR="$sysroot/usr/lib/aarch64-linux-gnu/cmake/yaml-cpp" \
  -DPROMETHEUS_CPP_PULL_LIBRARY=/usr/lib/aarch64-linux-gnu/libprometheus-cpp-pull.so.1.0 \
  -DPROMETHEUS_CPP_CORE_LIBRARY=/usr/lib/aarch64-linux-gnu/libprometheus-cpp-core.so.1.0 >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]}"
file "$build_dir/agent/dadmm-agent" | sed 's/, BuildID.*//'
