#!/usr/bin/env bash
# Malformed inputs to dadmm-agent, dadmm-ctl, the simulator tools and deploy/make-certs.sh: files, flags, config values,
# certificates, a port in use, unparsable addresses. Each must exit 2 (dadmm-agent --help: "2 bad
# flags or files") with one line on stderr that names the file, line or field.
#   tests/malformed_inputs_test.sh BUILD_DIR OUT_DIR
set -u
build=$1
out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
agent=$build/agent/dadmm-agent
ctl=$build/agent/dadmm-ctl
rm -rf "$out" && mkdir -p "$out"
failures=0
cases=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect CODE PATTERN COMMAND...: exit CODE, exactly one stderr line (warnings aside), matching PATTERN.
expect() {
  local code=$1 pattern=$2
  shift 2
  cases=$((cases + 1))
  timeout 20 "$@" > "$out/stdout.txt" 2> "$out/stderr.txt"
  local got=$?
  grep -v "warning: --insecure" "$out/stderr.txt" > "$out/errors.txt"
  if [[ $got -ne $code ]]; then
    fail "exit $got, not $code: $* -- $(head -3 "$out/stderr.txt")"
  elif [[ $(wc -l < "$out/errors.txt") -ne 1 ]]; then
    fail "not one line: $* -- $(cat "$out/errors.txt")"
  elif ! grep -q -- "$pattern" "$out/errors.txt"; then
    fail "'$pattern' not in: $(cat "$out/errors.txt") ($*)"
  fi
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$out/net.yaml" <<EOF
name: bad
nodes:
  - {id: 1, address: "127.0.0.1:$port"}
  - {id: 2, address: "127.0.0.1:1"}
edges:
  - [1, 2]
EOF
net=$out/net.yaml
"$root/deploy/make-certs.sh" "$net" "$out/certs" --ctl-bin "$ctl" > /dev/null || fail "make-certs.sh"
"$root/deploy/make-certs.sh" "$net" "$out/other" --ctl-bin "$ctl" > /dev/null || fail "make-certs.sh (another CA)"
mkdir -p "$out/expired" && cp "$out/certs/ca.pem" "$out/certs/ca.key" "$out/expired/"
"$root/deploy/make-certs.sh" "$net" "$out/expired" --ctl-bin "$ctl" --days 0 --nodes 1 > /dev/null || fail "expired"
sleep 1.1
tls=(--tls_ca="$out/certs/ca.pem" --tls_cert="$out/certs/node-1/cert.pem" --tls_key="$out/certs/node-1/key.pem")
ok=(--node_id=1 --topology="$net" --theta=1 --insecure)

# Topology files.
printf 'nodes: [\n' > "$out/t1.yaml"
expect 2 "t1.yaml" "$agent" --node_id=1 --topology="$out/t1.yaml" --theta=1 --insecure
printf 'name: x\nnodes:\n  - {id: 1, address: "nowhere"}\nedges: []\n' > "$out/t2.yaml"
expect 2 "t2.yaml:3" "$agent" --node_id=1 --topology="$out/t2.yaml" --theta=1 --insecure
printf 'name: x\nnodes:\n  - {id: 1, address: "127.0.0.1:5"}\n  - {id: 1, address: "127.0.0.1:6"}\nedges: []\n' > "$out/t3.yaml"
expect 2 "t3.yaml" "$agent" --node_id=1 --topology="$out/t3.yaml" --theta=1 --insecure
printf 'name: x\nnodes:\n  - {id: 1, address: "127.0.0.1:5"}\nedges:\n  - [1, 7]\n' > "$out/t4.yaml"
expect 2 "t4.yaml:5" "$agent" --node_id=1 --topology="$out/t4.yaml" --theta=1 --insecure
printf 'name: x\nnodes:\n  - {id: 1, address: "127.0.0.1:99999"}\nedges: []\n' > "$out/t5.yaml"
expect 2 "t5.yaml:3" "$agent" --node_id=1 --topology="$out/t5.yaml" --theta=1 --insecure
printf 'name: x\nnodes: []\nextra: 1\n' > "$out/t6.yaml"
expect 2 "t6.yaml" "$agent" --node_id=1 --topology="$out/t6.yaml" --theta=1 --insecure
expect 2 "missing.yaml" "$agent" --node_id=1 --topology="$out/missing.yaml" --theta=1 --insecure
truncate -s 9M "$out/huge.yaml"
expect 2 "huge.yaml: 9437184 bytes; a topology file is at most 8 MiB" "$agent" --node_id=1 --topology="$out/huge.yaml" --theta=1 --insecure
expect 2 "not in" "$agent" --node_id=9 --topology="$net" --theta=1 --insecure

# Flags.
expect 2 "node_id" "$agent" --topology="$net" --theta=1 --insecure
expect 2 "topology" "$agent" --node_id=1 --theta=1 --insecure
expect 2 "rho" "${agent}" "${ok[@]}" --rho=-1
expect 2 "rho" "${agent}" "${ok[@]}" --rho=nan
expect 2 "iterations" "${agent}" "${ok[@]}" --iterations=0
# A value the flag library cannot parse at all is its error, exit 1 (documented in --help).
expect 1 "iterations" "${agent}" "${ok[@]}" --iterations=many
expect 2 "algorithm" "${agent}" "${ok[@]}" --algorithm=newton
expect 2 "problem" "$agent" --node_id=1 --topology="$net" --theta=1 --insecure --problem=knapsack
expect 2 "theta" "$agent" --node_id=1 --topology="$net" --theta=1,x --insecure
expect 2 "exactly one of --theta and --data" "$agent" --node_id=1 --topology="$net" --insecure
expect 2 "linger_seconds" "${agent}" "${ok[@]}" --linger_seconds=-3
expect 2 "neighbour_timeout" "${agent}" "${ok[@]}" --neighbour_timeout=-1
expect 2 "checkpoint_every" "${agent}" "${ok[@]}" --checkpoint_every=0
expect 2 "vary_rho_every" "${agent}" "${ok[@]}" --vary_rho_every=-2
expect 2 "vary_rho_rule=fancy: expected auto, edge, balance or vote" "${agent}" "${ok[@]}" --vary_rho_rule=fancy
expect 2 "applies to d-admm, not algorithm3" "${agent}" "${ok[@]}" --algorithm=algorithm3 --vary_rho_every=auto --vary_rho_rule=edge
expect 2 "vary_rho_votes must be in 1..1e6" "${agent}" "${ok[@]}" --vary_rho_every=auto --vary_rho_votes=-1
expect 2 "unexpected argument" "${agent}" "${ok[@]}" stray
expect 2 "dial" "${agent}" "${ok[@]}" --dial=2=nohost
expect 2 "dial" "${agent}" "${ok[@]}" --dial=7=127.0.0.1:5
expect 1 "no_such_flag" "${agent}" "${ok[@]}" --no_such_flag=1

# Data files.
printf '' > "$out/empty.csv"
expect 2 "empty.csv" "$agent" --node_id=1 --topology="$net" --data="$out/empty.csv" --insecure
printf '1,abc\n' > "$out/word.csv"
expect 2 "word.csv" "$agent" --node_id=1 --topology="$net" --data="$out/word.csv" --insecure
expect 2 "nothing.csv" "$agent" --node_id=1 --topology="$net" --data="$out/nothing.csv" --insecure

# Config files.
printf 'node_id: 1\ntopology: net.yaml\nrho: [1, 2]\n' > "$out/c1.yaml"
cp "$net" "$out/net.yaml" 2>/dev/null
expect 2 "c1.yaml:3" "$agent" --config="$out/c1.yaml" --theta=1 --insecure
printf 'node_id: 1\ncolour: 3\n' > "$out/c2.yaml"
expect 2 "c2.yaml:2" "$agent" --config="$out/c2.yaml"
printf 'node_id: 1\n  bad: indent\n' > "$out/c3.yaml"
expect 2 "c3.yaml" "$agent" --config="$out/c3.yaml"
expect 2 "c4.yaml" "$agent" --config="$out/c4.yaml"
printf 'node_id: 1\nrho: 1\nrho: 2\n' > "$out/c5.yaml"
expect 2 "c5.yaml:3: rho is set twice (first on line 2)" "$agent" --config="$out/c5.yaml"
mkdir -p "$out/c6.yaml"
expect 2 "c6.yaml: a directory" "$agent" --config="$out/c6.yaml"
printf '[node_id, 1]\n' > "$out/c7.yaml"
expect 2 "c7.yaml:1: expected a map" "$agent" --config="$out/c7.yaml"

# TLS.
expect 2 "no TLS settings" "$agent" --node_id=1 --topology="$net" --theta=1
expect 2 "exclude each other" "$agent" "${ok[@]}" "${tls[@]}"
expect 2 "needs all of" "$agent" --node_id=1 --topology="$net" --theta=1 --tls_ca="$out/certs/ca.pem"
expect 2 "nope.pem" "$agent" --node_id=1 --topology="$net" --theta=1 --tls_ca="$out/nope.pem" \
  --tls_cert="$out/certs/node-1/cert.pem" --tls_key="$out/certs/node-1/key.pem"
expect 2 "key.pem: the key does not belong" "$agent" --node_id=1 --topology="$net" --theta=1 \
  --tls_ca="$out/certs/ca.pem" --tls_cert="$out/certs/node-1/cert.pem" --tls_key="$out/certs/node-2/key.pem"
expect 2 "names dadmm://bad/node/2, not this agent" "$agent" --node_id=1 --topology="$net" --theta=1 \
  --tls_ca="$out/certs/ca.pem" --tls_cert="$out/certs/node-2/cert.pem" --tls_key="$out/certs/node-2/key.pem"
expect 2 "not from this network's CA" "$agent" --node_id=1 --topology="$net" --theta=1 \
  --tls_ca="$out/certs/ca.pem" --tls_cert="$out/other/node-1/cert.pem" --tls_key="$out/other/node-1/key.pem"
expect 2 "has expired" "$agent" --node_id=1 --topology="$net" --theta=1 \
  --tls_ca="$out/certs/ca.pem" --tls_cert="$out/expired/node-1/cert.pem" --tls_key="$out/expired/node-1/key.pem"
expect 2 "no PEM certificate" "$agent" --node_id=1 --topology="$net" --theta=1 \
  --tls_ca="$out/certs/ca.pem" --tls_cert="$net" --tls_key="$out/certs/node-1/key.pem"

# Addresses and ports.
expect 2 "cannot listen on 256.1.1.1:5:" "$agent" "${ok[@]}" --listen=256.1.1.1:5
expect 2 "the port '70000' is not a number from 1 to 65535" "$agent" "${ok[@]}" --listen=127.0.0.1:70000
expect 2 "the port 'http' is not a number" "$agent" "${ok[@]}" --listen=127.0.0.1:http
expect 2 "metrics_address=9100: cannot listen: not HOST:PORT" "$agent" "${ok[@]}" --metrics_address=9100
expect 2 "run-local-cluster.sh: --metrics-port 'x' is not a port number" "$root/deploy/run-local-cluster.sh" \
  --build-dir "$build" --out "$out/launch-m" --metrics-port x
expect 2 "the directory $out/no-such-dir does not exist" "$agent" "${ok[@]}" --output="$out/no-such-dir/r.json"
expect 2 "output=$out: is a directory" "$agent" "${ok[@]}" --output="$out"
expect 2 "theta:1: value 2 is empty" "$agent" --node_id=1 --topology="$net" --theta=1,,2 --insecure
printf '1\n2,\n' > "$out/trailing-comma.csv"
expect 2 "trailing-comma.csv:2: value 2 is empty" "$agent" --node_id=1 --topology="$net" --data="$out/trailing-comma.csv" --insecure
printf '1\ntheta\n' > "$out/late-header.csv"
expect 2 "late-header.csv:2: 'theta' is not a finite number (a line that starts with # is a comment)" "$agent" \
  --node_id=1 --topology="$net" --data="$out/late-header.csv" --insecure
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$port)); s.listen(); time.sleep(20)" &
holder=$!
# Until it listens (python can take a while to start on a loaded machine).
for _ in $(seq 100); do (: > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
expect 2 "cannot listen on 127.0.0.1:$port: Address already in use" "$agent" "${ok[@]}"
expect 2 "metrics_address=127.0.0.1:$port: cannot listen: Address already in use" "$agent" "${ok[@]}" \
  --listen=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])') --metrics_address=127.0.0.1:$port
launcher=("$root/deploy/run-local-cluster.sh" --build-dir "$build")
expect 2 "127.0.0.1:$port (node 1) is in use by another process" "${launcher[@]}" --topology "$net" --out "$out/launch"
kill $holder 2>/dev/null

# The local launcher: data that do not match the topology.
fig1=$root/deploy/examples/fig1/topology.yaml
"$build/tools/dadmm-sim" --topology "$fig1" --problem consensus --write_data "$out/d" > /dev/null || fail "write_data"
for i in 8 9 10; do cp "$out/d/node-1.csv" "$out/d/node-$i.csv"; done
expect 2 "has data for nodes that are not in .*fig1/topology.yaml: node-10.csv node-8.csv node-9.csv" \
  "${launcher[@]}" --topology "$fig1" --data-dir "$out/d" --out "$out/launch"
rm "$out"/d/node-{7,8,9,10}.csv
expect 2 "has no node-<id>.csv or .svm for node(s) 7 of" "${launcher[@]}" --topology "$fig1" --data-dir "$out/d" --out "$out/launch"

# dadmm-ctl and make-certs.sh.
expect 2 "unknown command" "$ctl" frobnicate x
expect 2 "expected a command" "$ctl" status
expect 2 "missing.yaml" "$ctl" identities "$out/missing.yaml"
expect 2 "report needs" "$ctl" report "$net"
expect 2 "nope.pem" "$ctl" status 127.0.0.1:1 --tls_ca="$out/nope.pem" --tls_cert="$out/certs/ctl/cert.pem" \
  --tls_key="$out/certs/ctl/key.pem"
expect 2 "expected TOPOLOGY OUT" "$root/deploy/make-certs.sh" "$net"
expect 2 "timeout_seconds must be in" "$ctl" status 127.0.0.1:1 --timeout_seconds=-1
expect 2 "plot needs --out=FILE.png" "$ctl" plot "$out"
expect 2 "dadmm-ctl plot: $out/missing: not a directory" "$ctl" plot "$out/missing" --out="$out/x.png"
expect 2 "history must be in 0..1000000" "$agent" "${ok[@]}" --history=-1
expect 2 "max_steps must be >= 1" "$build/tools/dadmm-sim" --table2=1 --nodes=10 --max_steps=0
expect 2 "--vary_rho=fancy: expected balance, vote or edge" "$build/tools/dadmm-sim" --table2=1 --nodes=10 --vary_rho=fancy
expect 2 "p must be in (0, 1] for erdos-renyi" "$build/tools/dadmm-topogen" --model=erdos-renyi --nodes=5 --p=0
expect 2 "base_port must be a port (1..65535) or 'auto', got 'x'" "$build/tools/dadmm-topogen" --model=lattice --nodes=4 --base_port=x
expect 2 "10.255.255.1 is not an address of this machine" "$build/tools/dadmm-topogen" --model=lattice --nodes=4 --host=10.255.255.1
expect 2 "--days must be" "$root/deploy/make-certs.sh" "$net" "$out/x" --days -1 --ctl-bin "$ctl"

# External local solvers (--problem=external).
expect 2 "needs --solver" "$agent" --node_id=1 --topology="$net" --insecure --problem=external
expect 2 "must be on this device" "$agent" --node_id=1 --topology="$net" --insecure --problem=external --solver=10.0.0.5:5000
expect 2 "solver is for --problem=external" "${agent}" "${ok[@]}" --solver=unix:///run/dadmm/solver.sock
expect 2 "the data are the local solver's" "$agent" --node_id=1 --topology="$net" --insecure --problem=external \
  --solver=unix:///run/dadmm/solver.sock --theta=1
expect 2 "solver_timeout_seconds must be in" "$agent" --node_id=1 --topology="$net" --insecure --problem=external \
  --solver=unix:///run/dadmm/solver.sock --solver_timeout_seconds=0
expect 2 "an external solver holds its own data" "$build/tools/dadmm-sim" --table2=1 --nodes=10 --problem=external \
  --solver=unix:///run/dadmm/solver.sock --write_data="$out/x"
expect 2 "solver is for --problem=external" "$build/tools/dadmm-sim" --table2=1 --nodes=10 --solver=unix:///x.sock

echo "malformed_inputs_test: $cases cases, $failures failure(s)"
((cases >= 40)) || fail "only $cases cases"
[[ $failures -eq 0 ]]
