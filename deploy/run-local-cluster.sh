#!/usr/bin/env bash
# Starts one dadmm-agent per node of a topology file on this machine, waits for all of them, and
# prints what the network computed (dadmm-ctl report), checked against the simulator.
#
#   deploy/run-local-cluster.sh [--topology FILE] [--problem P] [--algorithm A] [--seed N] [--rho R]
#                               [--iterations K] [--tolerance T] [--dimension N] [--data-dir DIR]
#                               [--build-dir DIR] [--out DIR] [--netns PREFIX]
#                               [--arm64 IDS --arm64-build DIR] [--metrics-port BASE] [--solver ADDRESS]
#                               [-- AGENT_FLAGS...]
#
# --problem: consensus (default), bpdn-gaussian, bpdn-dct or svm-iris (the data are split by rows
# over the nodes), lasso-gaussian or lasso-dct (split by columns), svm-cancer, logreg-cancer,
# sparse-lr-textures (seed 001's (7), 10 patches per node); --algorithm: d-admm (default), algorithm3
# (= c-admm), subgradient, averaging, ic-admm (sparse-lr-textures); --dimension: the length of each
# theta_p for consensus (default 1), K for sparse-lr-textures (a square; default 10000); --data-dir: use the node-<id>.csv and
# problem.flags there (as dadmm-split writes them) instead of generating data; --netns: run node i's
# agent in the network namespace PREFIX<i> (hosts made by tests/netns_cluster_test.sh); --arm64: run
# these nodes (comma-separated ids) with the arm64 agent of --arm64-build under qemu-user;
# --metrics-port: node i serves Prometheus metrics on 127.0.0.1:BASE+i, and OUT/prometheus-targets.json
# lists them for a Prometheus file_sd_configs (deploy/prometheus/); --solver: --problem=external, each
# node's f_p from the local solver at ADDRESS ({node}: the node id; start the solvers first, e.g.
# python/examples/), and the simulator's check asks the same solvers. Flags after
# `--` go to every agent as they are (e.g. -- --eps_abs=1e-4 --eps_rel=1e-2 --tolerance=0, the residual
# stop of seed 002 §3.3, or --vary_rho_every=auto: rho chosen by the nodes, see README "Choosing rho").
#
# Each agent gets only its own private value theta_p (node-<id>.csv, generated with theta_p ~
# N(10, 100^2) from --seed) and talks only to its neighbours: a handshake, the distributed colouring,
# then D-ADMM until the agreed stop (--tolerance; 0 runs exactly --iterations steps).
# Logs go to OUT/logs/node-<id>.log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
topology="$here/examples/fig1/topology.yaml"
seed=1
rho=1
iterations=1000
problem=consensus
dimension=1
data_dir=""
algorithm=d-admm
tolerance=1e-6
build_dir="$root/build"
out=""
netns=""
arm64_ids=""
arm64_build=""
metrics_port=""
solver=""
extra_flags=()

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while (($#)); do
  case "$1" in
    --topology) topology=$2; shift 2 ;;
    --problem) problem=$2; shift 2 ;;
    --dimension) dimension=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --algorithm) algorithm=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --rho) rho=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --tolerance) tolerance=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --netns) netns=$2; shift 2 ;;
    --arm64) arm64_ids=$2; shift 2 ;;
    --arm64-build) arm64_build=$2; shift 2 ;;
    --metrics-port) metrics_port=$2; shift 2 ;;
    --solver) solver=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; extra_flags=("$@"); break ;;
    *) echo "run-local-cluster.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

bin="$build_dir"
for tool in agent/dadmm-agent agent/dadmm-ctl tools/dadmm-sim; do
  [[ -x "$bin/$tool" ]] || { echo "run-local-cluster.sh: $bin/$tool not built (run: cmake -S $root -B $build_dir && cmake --build $build_dir)" >&2; exit 2; }
done
if [[ -n "$arm64_ids" ]]; then
  [[ -x "$arm64_build/agent/dadmm-agent" ]] || { echo "run-local-cluster.sh: --arm64 needs --arm64-build DIR with agent/dadmm-agent (deploy/raspberry-pi/cross-build.sh)" >&2; exit 2; }
  qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
  [[ -n "$qemu" ]] || { echo "run-local-cluster.sh: --arm64 needs qemu-user-static (apt-get install qemu-user-static)" >&2; exit 2; }
fi
[[ -n "$out" ]] || out=$(mktemp -d /tmp/dadmm-cluster.XXXXXX)
mkdir -p "$out/data" "$out/results" "$out/logs"
rm -f "$out"/results/*.json "$out"/data/*.csv

if [[ -n "$solver" ]]; then
  [[ -z "$data_dir" ]] || { echo "run-local-cluster.sh: --solver and --data-dir exclude each other (the solvers hold the data)" >&2; exit 2; }
  echo "--problem=external --solver=$solver" > "$out/data/problem.flags"
  problem="external (local solvers at $solver)"
elif [[ -n "$data_dir" ]]; then
  [[ -f "$data_dir/problem.flags" ]] || { echo "run-local-cluster.sh: $data_dir/problem.flags missing (made by dadmm-split)" >&2; exit 2; }
  cp "$data_dir"/problem.flags "$out/data/"
  for f in "$data_dir"/node-*.csv "$data_dir"/node-*.svm; do
    if [[ -e "$f" ]]; then cp "$f" "$out/data/"; fi
  done
  problem="data from $data_dir"
else
  "$bin/tools/dadmm-sim" --topology "$topology" --problem "$problem" --dimension "$dimension" --seed "$seed" \
    --write_data "$out/data" >/dev/null
fi
read -r -a problem_flags < "$out/data/problem.flags"
mapfile -t nodes < <("$bin/agent/dadmm-ctl" nodes "$topology")
((${#nodes[@]})) || { echo "run-local-cluster.sh: no nodes read from $topology" >&2; exit 2; }

# The data must be the topology's nodes', no more and no less: a node without its file cannot run,
# and files of nodes that are not in the topology would silently be left out of the problem.
if [[ -n "$data_dir" ]]; then
  declare -A in_topology=()
  for line in "${nodes[@]}"; do in_topology[${line%% *}]=1; done
  missing=() extra=()
  for line in "${nodes[@]}"; do
    id=${line%% *}
    [[ -e "$out/data/node-$id.csv" || -e "$out/data/node-$id.svm" ]] || missing+=("$id")
  done
  for f in "$out"/data/node-*.csv "$out"/data/node-*.svm; do
    [[ -e "$f" ]] || continue
    id=${f##*/node-}; id=${id%.*}
    [[ -n "${in_topology[$id]:-}" ]] || extra+=("$(basename "$f")")
  done
  if ((${#missing[@]})); then
    echo "run-local-cluster.sh: $data_dir has no node-<id>.csv or .svm for node(s) ${missing[*]} of $topology" >&2
    exit 2
  fi
  if ((${#extra[@]})); then
    echo "run-local-cluster.sh: $data_dir has data for nodes that are not in $topology: ${extra[*]} (a topology of ${#nodes[@]} nodes; give the one the data were split for)" >&2
    exit 2
  fi
fi

# Ports another process listens on (another network on this machine?): say so now, not in 7 logs.
if [[ -z "$netns" ]]; then
  for line in "${nodes[@]}"; do
    address=${line#* }
    host=${address%:*} port=${address##*:}
    host=${host#[}; host=${host%]}
    if (: > "/dev/tcp/$host/$port") 2>/dev/null; then
      echo "run-local-cluster.sh: $address (node ${line%% *}) is in use by another process: another network on this machine? (stop it, or give a topology on other ports: dadmm-topogen picks free ones)" >&2
      exit 2
    fi
  done
fi

# Mutual TLS with a throwaway CA made for this run (OUT/tls), unless the agents are told --insecure.
tls_dir=""
if [[ " ${extra_flags[*]:-} " != *" --insecure "* ]]; then
  tls_dir=$out/tls
  rm -rf "$tls_dir"
  "$here/make-certs.sh" "$topology" "$tls_dir" --ctl-bin "$bin/agent/dadmm-ctl" >/dev/null
fi

# Prometheus metrics: node i on BASE+i, and the targets in Prometheus's file_sd format.
if [[ -n "$metrics_port" ]]; then
  [[ "$metrics_port" =~ ^[0-9]+$ ]] && ((metrics_port >= 1 && metrics_port <= 65535)) ||
    { echo "run-local-cluster.sh: --metrics-port '$metrics_port' is not a port number" >&2; exit 2; }
  targets=()
  for line in "${nodes[@]}"; do
    port=$((metrics_port + ${line%% *}))
    ((port <= 65535)) || { echo "run-local-cluster.sh: --metrics-port $metrics_port + node id ${line%% *} is above 65535" >&2; exit 2; }
    targets+=("\"127.0.0.1:$port\"")
  done
  (IFS=,; echo "[{\"targets\": [${targets[*]}], \"labels\": {\"job\": \"dadmm\"}}]") >"$out/prometheus-targets.json"
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

echo "starting ${#nodes[@]} agents (${tls_dir:+mutual TLS, throwaway CA in $tls_dir; }$algorithm on $problem, topology $topology, rho $rho, at most $iterations iterations, tolerance $tolerance); logs in $out/logs"
for line in "${nodes[@]}"; do
  id=${line%% *}
  launch=()
  [[ -z "$netns" ]] || launch+=(ip netns exec "$netns$id")
  if [[ ",$arm64_ids," == *",$id,"* ]]; then
    launch+=("$qemu" "$arm64_build/agent/dadmm-agent")
    echo "  node $id: arm64 agent under $(basename "$qemu")"
  else
    launch+=("$bin/agent/dadmm-agent")
  fi
  data_flags=(--data "$out/data/node-$id.csv")
  if [[ -e "$out/data/node-$id.svm" ]]; then data_flags=(--data "$out/data/node-$id.svm"); fi  # sparse features, SVMlight
  [[ -z "$solver" ]] || data_flags=()
  tls_flags=()
  [[ -z "$metrics_port" ]] || tls_flags+=(--metrics_address "127.0.0.1:$((metrics_port + id))")
  [[ -z "$tls_dir" ]] || tls_flags+=(--tls_ca "$tls_dir/ca.pem" --tls_cert "$tls_dir/node-$id/cert.pem" --tls_key "$tls_dir/node-$id/key.pem")
  "${launch[@]}" --node_id "$id" --topology "$topology" "${data_flags[@]}" "${tls_flags[@]}" \
    "${problem_flags[@]}" --algorithm "$algorithm" --rho "$rho" --iterations "$iterations" --tolerance "$tolerance" "${extra_flags[@]}" \
    --output "$out/results/node-$id.json" \
    >"$out/logs/node-$id.out" 2>"$out/logs/node-$id.log" &
  pids+=($!)
done

failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "agent ${nodes[$i]%% *} failed; its log:" >&2
    tail -5 "$out/logs/node-${nodes[$i]%% *}.log" >&2
    failed=1
  fi
done
pids=()
((failed == 0)) || exit 1

echo
report_flags=(--data_dir "$out/data")
[[ -z "$solver" ]] || report_flags=(--solver "$solver")
"$bin/agent/dadmm-ctl" report "$topology" --results "$out/results" "${report_flags[@]}"
