#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the seven-node network of Figure 1 of
# Mota et al. as seven dadmm-agent processes on loopback solving average consensus with D-ADMM.
# Arguments go to run-local-cluster.sh (for example --iterations 60 --rho 0.5 --seed 3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/deploy/build.sh" >/dev/null
exec "$root/deploy/run-local-cluster.sh" --build-dir "${BUILD_DIR:-$root/build}" "$@"
