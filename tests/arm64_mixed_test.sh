#!/usr/bin/env bash
# Raspberry Pi (arm64) agents in one network with x86-64 agents: cross-builds the agent with Debian
# multiarch (deploy/raspberry-pi/cross-build.sh, which installs what is missing), runs the seven agents
# of Figure 1 with nodes 2, 5 and 7 the arm64 build under qemu-user, and requires every agent's result
# to be bit-identical to the x86-64 simulator's (dadmm-ctl report), for consensus, BPDN, LASSO and
# l1-logistic regression (which also needs glibc's exp and log1p to agree on both machines).
# Also checks the systemd unit with systemd-analyze verify.
#   tests/arm64_mixed_test.sh BUILD_DIR OUT_DIR
set -euo pipefail
build=$1
out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$out" && mkdir -p "$out"

if [[ $(uname -m) != x86_64 ]]; then
  echo "SKIP: cross-builds from x86-64 only"
  exit 77
fi

# The unit file: systemd's own parser must accept every line (it warns on stderr and still exits 0).
if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/bin/dadmm-agent|$build/agent/dadmm-agent|" "$root/deploy/systemd/dadmm-agent@.service" \
    > "$out/dadmm-agent@.service"
  systemd-analyze verify "$out/dadmm-agent@3.service" > "$out/verify.txt" 2>&1 || true
  if [[ -s "$out/verify.txt" ]]; then
    echo "FAIL: systemd-analyze verify: $(cat "$out/verify.txt")"
    exit 1
  fi
  echo "systemd unit: systemd-analyze verify accepts dadmm-agent@3.service"
fi

started=$(date +%s)
"$root/deploy/raspberry-pi/cross-build.sh" --agent-only --no-debug-info "$build/arm64" > "$out/cross-build.log" 2>&1 \
  || { tail -20 "$out/cross-build.log"; echo "FAIL: cross-build"; exit 1; }
echo "cross-built in $(( $(date +%s) - started )) s: $(tail -1 "$out/cross-build.log")"

for run in "consensus --rho 1" "bpdn-dct --rho 0.1" "lasso-dct --rho 0.01 --tolerance 1e-7" \
           "logreg-cancer --rho 1 --iterations 2000 --tolerance 1e-8" \
           "sparse-lr-textures --dimension 100 --algorithm ic-admm --rho 0.01 --iterations 500 --tolerance 0"; do
  read -r -a args <<< "$run"
  name=${args[0]}
  status=0
  "$root/deploy/run-local-cluster.sh" --build-dir "$build" --arm64 2,5,7 --arm64-build "$build/arm64" \
    --problem "${args[@]}" --out "$out/$name" > "$out/$name.txt" 2>&1 || status=$?
  grep -E "arm64 agent|communication steps|bit-identical" "$out/$name.txt" | sed "s/^/$name: /"
  if ((status != 0)) || ! grep -q "bit-identical to simulator: yes, every node" "$out/$name.txt"; then
    cat "$out/$name.txt"
    echo "FAIL: $name: the mixed arm64/x86-64 network does not match the simulator (exit $status)"
    exit 1
  fi
done
echo "arm64 + x86-64: bit-identical to the simulator on every problem run"
