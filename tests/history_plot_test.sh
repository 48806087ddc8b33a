#!/usr/bin/env bash
# --history and dadmm-ctl plot: the seven agents of Figure 1 record 300 steps of consensus in at most
# 64 points. Each history must be bounded, evenly strided (a power of two, every point a multiple of
# it), reach the end of the run, and agree with what D-ADMM must send (one estimate per neighbour per
# step: messages = degree x iteration at every point, x (iteration + 1) for the first colour) and with the result (the modelled energy grows,
# the last point's counts are at most the result's). Then dadmm-ctl plot draws them into a PNG, and
# refuses results without history, naming the file.
#   tests/history_plot_test.sh BUILD_DIR OUT_DIR
set -euo pipefail
build=$1
out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$out" && mkdir -p "$out"
fail() { echo "FAIL: $*"; exit 1; }

"$root/deploy/run-local-cluster.sh" --build-dir "$build" --out "$out/run" --iterations 300 --tolerance 0 \
  -- --history=64 > "$out/run.txt" 2>&1 || { cat "$out/run.txt"; fail "the run"; }
grep -q "bit-identical to simulator: yes, every node" "$out/run.txt" || fail "recording history changed the run"

python3 - "$out/run/results" "$root/deploy/examples/fig1/topology.yaml" << 'PY'
import glob, json, os, sys
import yaml
results, topology = sys.argv[1], yaml.safe_load(open(sys.argv[2]))
degree = {n["id"]: 0 for n in topology["nodes"]}
for a, b in topology["edges"]:
    degree[a] += 1
    degree[b] += 1
for path in sorted(glob.glob(os.path.join(results, "node-*.json"))):
    r = json.load(open(path))
    node, steps, h = r["nodeId"], int(r["iterations"]), r["history"]
    stride = int(r["historyStride"])
    its = [int(p["iteration"]) for p in h]
    assert steps == 300, f"node {node}: {steps} steps"
    assert 0 < len(h) <= 64, f"node {node}: {len(h)} points, bound 64"
    assert stride & (stride - 1) == 0 and stride > 1, f"node {node}: stride {stride} (300 steps in 64 points need 8)"
    assert all(i % stride == 0 for i in its) and its == sorted(set(its)), f"node {node}: points {its[:5]}..."
    assert its[0] == stride and its[-1] > steps - stride, f"node {node}: points from {its[0]} to {its[-1]}"
    for p in h:
        # D-ADMM's colour order: a node of the first colour starts step k + 1 (and sends x^(k+1)) as soon
        # as step k is complete; the others wait for that colour's estimates of step k + 1 first.
        k = int(p["iteration"])
        want = degree[node] * (k + 1 if int(r["colour"]) == 1 else k)
        assert int(p["messagesSent"]) == want, f"node {node} (colour {r['colour']}) at {k}: {p['messagesSent']} sent, D-ADMM sends {want}"
    energy = [p["energyJoules"] for p in h]
    assert all(b > a for a, b in zip(energy, energy[1:])), f"node {node}: energy does not grow"
    assert int(h[-1]["messageBytesSent"]) <= int(r["messageBytesSent"]), f"node {node}: more bytes than the result"
    assert h[-1]["change"] < 1e-6 < h[0]["change"], f"node {node}: change {h[0]['change']} -> {h[-1]['change']}"
print(f"ok: 7 histories of 300 steps, each at most 64 points with stride 8, messages as D-ADMM sends them")
PY

"$build/agent/dadmm-ctl" plot "$out/run/results" --out "$out/run.png" > "$out/plot.txt" 2>&1 ||
  { cat "$out/plot.txt"; fail "dadmm-ctl plot"; }
head -c 8 "$out/run.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || fail "$out/run.png is not a PNG"
(($(stat -c %s "$out/run.png") > 20000)) || fail "$out/run.png is too small to hold four panels"
echo "ok: dadmm-ctl plot wrote a PNG of $(stat -c %s "$out/run.png") bytes: $(cat "$out/plot.txt")"

# Results without history: one line naming the file, exit 2.
mkdir -p "$out/bare"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r.pop("history"); json.dump(r, open(sys.argv[2], "w"))' \
  "$out/run/results/node-1.json" "$out/bare/node-1.json"
status=0
"$build/agent/dadmm-ctl" plot "$out/bare" --out "$out/bare.png" 2> "$out/bare.txt" || status=$?
((status == 2)) && grep -q "node-1.json: no history (run the agents with --history=N" "$out/bare.txt" ||
  fail "results without history: exit $status, $(cat "$out/bare.txt")"
echo "ok: results without history are refused: $(cat "$out/bare.txt")"
