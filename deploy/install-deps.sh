#!/usr/bin/env bash
# Installs what dadmm needs to build, test and run, from Debian 12 packages only.
# Idempotent: when every package is already installed it only runs dpkg-query and returns.
# Usage: deploy/install-deps.sh [--runtime-only]
set -euo pipefail

build_pkgs=(
  build-essential cmake pkg-config clang-format clang-tidy clang libclang-rt-14-dev
  libgrpc++-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libssl-dev openssl
  libabsl-dev libeigen3-dev libasio-dev libyaml-cpp-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev
  python3 python3-grpcio python3-protobuf python3-yaml python3-numpy python3-scipy iproute2 nftables docker-compose prometheus
  python3-matplotlib
)
runtime_pkgs=(libgrpc++1.51 libprotobuf32 libyaml-cpp0.7 libssl3 openssl libprometheus-cpp-pull1.0)

pkgs=("${build_pkgs[@]}")
if [[ "${1:-}" == "--runtime-only" ]]; then
  pkgs=("${runtime_pkgs[@]}")
elif [[ -n "${1:-}" ]]; then
  echo "install-deps.sh: unknown argument '$1' (expected nothing or --runtime-only)" >&2
  exit 2
fi

native=$(dpkg --print-architecture)
missing=()
for p in "${pkgs[@]}"; do
  # One line per installed architecture (a cross-build adds arm64 copies of the -dev packages): the
  # machine's own architecture, or "all", must be among them.
  dpkg-query -W -f='${Status} ${Architecture}\n' "$p" 2>/dev/null |
    grep -Eq "^install ok installed ($native|all)$" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: missing packages (${missing[*]}); run as root or install them with apt-get" >&2
  exit 1
fi

echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when apt has never fetched them (a fresh image).
if ! compgen -G "/var/lib/apt/lists/*_Packages" >/dev/null; then
  apt-get update -q
fi
apt-get install -y -q --no-install-recommends "${missing[@]}" || {
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
}
