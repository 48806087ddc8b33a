#!/usr/bin/env bash
# The seven agents of Figure 1 as if on seven separate hosts: each in its own network namespace with
# its own address (10.251.<k>.<id>/24 on a veth pair to a bridge that lives in an eighth namespace),
# every agent on the same port 50051, one link slowed by netem when the kernel has it. The network
# must compute what the simulator computes, bit for bit (dadmm-ctl report checks it).
#   tests/netns_cluster_test.sh BUILD_DIR OUT_DIR
# Needs root (ip netns). Nothing touches the machine's own namespace: the bridge is in a namespace
# of its own, and everything is removed on exit.
set -euo pipefail
build=$1
out=$2
root=$(cd "$(dirname "$0")/.." && pwd)

if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
  echo "SKIP: needs root and iproute2 (ip netns)"
  exit 77
fi
# Root is not enough in a container or chroot without CAP_SYS_ADMIN (or without /run/netns): try
# once, as the test would, and skip with the reason if namespaces cannot be made here.
probe="dadmm$$probe"
if ! why=$(ip netns add "$probe" 2>&1); then
  echo "SKIP: cannot create network namespaces here (ip netns add: ${why:-failed})"
  exit 77
fi
ip netns del "$probe" 2>/dev/null || true

prefix="dadmm$$h"   # node i's host: ${prefix}i; the switch: ${prefix}sw
subnet="10.251.$(($$ % 250)).0"
net=${subnet%.0}
ids=(1 2 3 4 5 6 7)
cleanup() {
  for i in "${ids[@]}" sw; do ip netns del "$prefix$i" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

ip netns add "${prefix}sw"
ip -n "${prefix}sw" link add br0 type bridge
ip -n "${prefix}sw" link set br0 up
for i in "${ids[@]}"; do
  ip netns add "$prefix$i"
  ip link add "p$i" netns "${prefix}sw" type veth peer name eth0 netns "$prefix$i"
  ip -n "${prefix}sw" link set "p$i" master br0 up
  ip -n "$prefix$i" addr add "$net.$i/24" dev eth0
  ip -n "$prefix$i" link set eth0 up
  ip -n "$prefix$i" link set lo up
done
# A slower radio for node 7: 2 ms each way (netem may be missing from a minimal kernel).
if ip netns exec "${prefix}7" tc qdisc add dev eth0 root netem delay 2ms 2>/dev/null; then
  echo "node 7's link delayed by 2 ms (netem)"
else
  echo "netem not available: all links at full speed"
fi
# No host has a route anywhere but its own /24: loopback addresses of the machine are out of reach.
ip -n "${prefix}1" route | grep -q "^$net.0/24" || { echo "FAIL: host 1 has no route to the subnet"; exit 1; }

rm -rf "$out" && mkdir -p "$out"
# Figure 1's network with one address per host, the same port everywhere.
sed -E "s/127\.0\.0\.1:5005([1-7])/$net.\1:50051/" "$root/deploy/examples/fig1/topology.yaml" > "$out/topology.yaml"
grep -q "$net.7:50051" "$out/topology.yaml" || { echo "FAIL: topology rewrite"; exit 1; }

status=0
"$root/deploy/run-local-cluster.sh" --build-dir "$build" --out "$out/run" --topology "$out/topology.yaml" \
  --netns "$prefix" --problem bpdn-dct --rho 0.1 --iterations 1000 --tolerance 1e-6 > "$out/report.txt" 2>&1 || status=$?
cat "$out/report.txt"
if ((status != 0)); then
  echo "FAIL: the network in namespaces did not match the simulator (exit $status)"
  exit 1
fi
grep -q "bit-identical to simulator: yes, every node" "$out/report.txt" || { echo "FAIL: no bit-identical line"; exit 1; }
# A vector x: the table shows its norm and nonzeros, and --x_out writes all of it.
grep -q "|x|=.* nz=" "$out/report.txt" || { echo "FAIL: the table does not summarize the vector estimates"; exit 1; }
entries=$(sed -n 's/^x: \([0-9]*\) entries.*/\1/p' "$out/report.txt")
"$build/agent/dadmm-ctl" report "$out/topology.yaml" --results "$out/run/results" --data_dir "$out/run/data" \
  --x_out "$out/x.csv" > /dev/null
[[ -n "$entries" && $(wc -l < "$out/x.csv") -eq $entries ]] || { echo "FAIL: --x_out wrote $(wc -l < "$out/x.csv") values, the report says '$entries'"; exit 1; }
# Each agent listened on its own host's address, not on loopback.
for i in "${ids[@]}"; do
  grep -q "$net.$i:50051" "$out/run/logs/node-$i.log" || { echo "FAIL: node $i's log does not show $net.$i:50051"; exit 1; }
done

# What the agents counted against what crossed each host's interface (the kernel's counter: Ethernet,
# IP and TCP headers, HTTP/2 and gRPC framing, ACKs, keepalive pings included).
for i in "${ids[@]}"; do
  echo "$i $(ip netns exec "$prefix$i" cat /sys/class/net/eth0/statistics/tx_bytes)"
done > "$out/tx_bytes.txt"
python3 - "$out/run/results" "$out/tx_bytes.txt" <<'PY' || exit 1
import json, sys
results, tx = sys.argv[1], dict(line.split() for line in open(sys.argv[2]))
total_counted = total_wire = 0
print("host  counted message bytes  bytes on its interface  ratio")
for node, wire in sorted(tx.items(), key=lambda kv: int(kv[0])):
    r = json.load(open(f"{results}/node-{node}.json"))
    counted = int(r["messageBytesSent"]) + sum(int(n.get("bootstrapMessageBytesSent", 0)) for n in r["neighbours"])
    wire = int(wire)
    total_counted += counted
    total_wire += wire
    print(f"{node:>4}  {counted:>21}  {wire:>22}  {wire / counted:.4f}")
    if wire < counted:
        sys.exit(f"FAIL: host {node} sent {wire} bytes but its agent counted {counted}")
print(f"all   {total_counted:>21}  {total_wire:>22}  {total_wire / total_counted:.4f}")
PY
echo "netns cluster: 7 hosts, bit-identical to the simulator"

# A lossy radio: every host drops 10% of the packets it sends (nftables in its namespace; netem is
# missing from this kernel). TCP hides the loss as retransmission delay, keepalive may declare a
# connection dead and the links then resend what was not acknowledged: the result must not change.
# The same short run clean first, for the slowdown.
if ! command -v nft >/dev/null; then
  echo "SKIP (packet drop): nft not installed (apt-get install nftables)"
  exit 0
fi
lossy_run() {  # NAME: runs consensus for 100 steps, prints the wall time
  local started=$SECONDS status=0
  "$root/deploy/run-local-cluster.sh" --build-dir "$build" --out "$out/$1" --topology "$out/topology.yaml" \
    --netns "$prefix" --problem consensus --iterations 100 --tolerance 0 > "$out/$1.txt" 2>&1 || status=$?
  if ((status != 0)) || ! grep -q "bit-identical to simulator: yes, every node" "$out/$1.txt"; then
    cat "$out/$1.txt"
    echo "FAIL: the $1 run did not match the simulator (exit $status)"
    exit 1
  fi
  echo $((SECONDS - started))
}
clean_seconds=$(lossy_run clean)
for i in "${ids[@]}"; do
  ip netns exec "$prefix$i" nft -f - <<'NFT'
table inet dadmm_faults {
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "eth0" numgen random mod 100 < 10 counter drop
  }
}
NFT
done
lossy_seconds=$(lossy_run lossy)
dropped=0
for i in "${ids[@]}"; do
  n=$(ip netns exec "$prefix$i" nft list chain inet dadmm_faults out | grep -o 'packets [0-9]*' | awk '{print $2}')
  dropped=$((dropped + n))
done
((dropped > 0)) || { echo "FAIL: nftables dropped no packet"; exit 1; }
resent=$(python3 -c "
import glob, json
print(sum(int(json.load(open(f)).get('resentMessages', 0)) for f in glob.glob('$out/lossy/results/*.json')))")
grep "bit-identical" "$out/lossy.txt"
echo "10% packet drop on every host: $dropped packets dropped, $resent messages resent after broken streams;"
echo "  100 steps took ${lossy_seconds} s against ${clean_seconds} s clean (bit-identical to the simulator)"
