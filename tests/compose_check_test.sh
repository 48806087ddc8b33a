#!/usr/bin/env bash
# The compose file and its tools: the repository's docker-compose.yml passes deploy/docker/check-compose.py;
# make-compose.py writes a valid file for another network (10 nodes from dadmm-split); and broken
# copies are caught, one line each.
#   tests/compose_check_test.sh BUILD_DIR OUT_DIR
set -uo pipefail
build=$1
out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
check=$root/deploy/docker/check-compose.py
make=$root/deploy/docker/make-compose.py
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
rm -rf "$out" && mkdir -p "$out"

# Its certificates are made on the machine (deploy/compose/fig1/tls is not in git).
"$root/deploy/make-certs.sh" "$root/deploy/compose/fig1/topology.yaml" "$root/deploy/compose/fig1/tls" \
  --ctl-bin "$build/agent/dadmm-ctl" > /dev/null || fail "make-certs.sh for the repository's compose file"
"$check" "$root/docker-compose.yml" || fail "the repository's docker-compose.yml does not pass"

# Another network: a dataset split over 10 nodes, then its compose file.
printf '1,2,1\n3,4,-1\n5,6,1\n7,8,-1\n9,10,1\n2,1,-1\n4,3,1\n6,5,-1\n8,7,1\n10,9,-1\n0,1,1\n' > "$out/points.csv"
"$build/tools/dadmm-split" --data="$out/points.csv" --problem=svm --nodes=10 --out="$out/net" > /dev/null \
  || fail "dadmm-split"
"$make" --topology "$out/net/topology.yaml" --data-dir "$out/net" --out-dir "$out/compose" \
  --compose "$out/compose.yml" --rho 10 > /dev/null || fail "make-compose.py"
"$check" "$out/compose.yml" > "$out/ok.txt" || fail "a generated compose file does not pass: $(cat "$out/ok.txt")"
grep -q "10 agents" "$out/ok.txt" || fail "expected 10 agents: $(cat "$out/ok.txt")"

# Broken copies: each must fail, with a line that says what is wrong (one line per problem found).
expect_problem() {
  local expected=$1 file=$2
  if "$check" "$file" > /dev/null 2> "$out/err.txt"; then fail "$file passed; expected: $expected"; return; fi
  grep -q -- "$expected" "$out/err.txt" || fail "$file: expected '$expected', got: $(cat "$out/err.txt")"
}
mutate() {  # mutate NAME PYTHON-EXPRESSION-ON-c (the compose mapping)
  python3 - "$out/compose.yml" "$out/$1.yml" "$2" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
exec(sys.argv[3])
yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)
PY
}
mutate other-data 'v = c["services"]["node-2"]["volumes"]; v[2] = v[2].replace("node-2.csv", "node-3.csv")'
expect_problem "belongs to node 3" "$out/other-data.yml"
mutate missing 'del c["services"]["node-4"]'
expect_problem "no service node-4" "$out/missing.yml"
mutate writable 'v = c["services"]["node-5"]["volumes"]; v[1] = v[1][:-3]'
expect_problem "node-5: /etc/dadmm/node.yaml is mounted writable" "$out/writable.yml"
mutate no-net 'c["services"]["node-6"]["networks"] = ["elsewhere"]'
expect_problem "network 'elsewhere' is not declared" "$out/no-net.yml"
mutate volume 'c["volumes"].pop("node-7-results")'
expect_problem "named volume 'node-7-results' is not declared" "$out/volume.yml"
mutate monitor 'c["services"]["monitor"]["command"] = ["dadmm-ctl", "watch", "/elsewhere.yaml"]'
expect_problem "does not mount" "$out/monitor.yml"
python3 -c '
import sys, yaml
t = yaml.safe_load(open(sys.argv[1])); t["nodes"][0]["address"] = "127.0.0.1:50051"
yaml.safe_dump(t, open(sys.argv[2], "w"))' "$out/compose/topology.yaml" "$out/compose/topology-bad.yaml"
mutate address 'c["services"] = {k: dict(v, volumes=[x.replace("topology.yaml:", "topology-bad.yaml:", 1) for x in v["volumes"]]) for k, v in c["services"].items()}'
expect_problem "node 1's address 127.0.0.1:50051 should be node-1:PORT" "$out/address.yml"

# With Prometheus and Grafana: the prometheus service scrapes exactly the agents' metrics addresses.
"$make" --topology "$out/net/topology.yaml" --data-dir "$out/net" --out-dir "$out/compose-m" \
  --compose "$out/compose-m.yml" --rho 10 --metrics 9100 --grafana > /dev/null || fail "make-compose.py --metrics --grafana"
"$check" "$out/compose-m.yml" > "$out/ok-m.txt" || fail "a compose file with metrics does not pass: $(cat "$out/ok-m.txt")"
grep -q "prometheus" "$out/compose-m.yml" && grep -q "grafana" "$out/compose-m.yml" || fail "no prometheus or grafana service"
python3 -c '
import sys, yaml
c = yaml.safe_load(open(sys.argv[1])); c["scrape_configs"][0]["static_configs"][0]["targets"].remove("node-3:9100")
yaml.safe_dump(c, open(sys.argv[2], "w"))' "$out/compose-m/prometheus.yml" "$out/compose-m/prometheus-bad.yml"
python3 - "$out/compose-m.yml" "$out/no-target.yml" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
v = c["services"]["prometheus"]["volumes"]; v[0] = v[0].replace("prometheus.yml:", "prometheus-bad.yml:", 1)
yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)
PY
expect_problem "does not scrape node-3:9100" "$out/no-target.yml"
python3 - "$out/compose-m.yml" "$out/no-datasource.yml" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["services"]["grafana"]["volumes"] = [v for v in c["services"]["grafana"]["volumes"] if "datasources" not in v]
yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)
PY
expect_problem "no datasource http://prometheus:PORT" "$out/no-datasource.yml"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "compose checks: all passed"
