#!/bin/sh
# The simulator tools from the command line: --help lists the flags, bad input gives one line and a
# non-zero exit, and a small sweep writes its tables.
#   tests/tools_cli_test.sh BUILD_DIR OUT_DIR
set -u
build=$1
out=$2
sim=$build/tools/dadmm-sim
sweep=$build/tools/dadmm-sweep
topogen=$build/tools/dadmm-topogen
split=$build/tools/dadmm-split
table1=$build/tools/dadmm-table1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
rm -rf "$out" && mkdir -p "$out"

for tool in "$sim" "$sweep" "$topogen" "$split" "$table1"; do
  "$tool" --help > "$out/help.txt" 2>&1 || fail "$(basename "$tool") --help exits $? (expected 0)"
  grep -q -- "--out\|--problem\|--experiment\|--nodes" "$out/help.txt" || fail "$(basename "$tool") --help does not list its flags"
done
# Help asked for is not an error: exit 0, on stdout, in every spelling.
for tool in "$build/agent/dadmm-agent" "$build/agent/dadmm-ctl" "$sim"; do
  for flag in --help -help -h --helpfull; do
    "$tool" $flag > "$out/help.txt" 2> "$out/help-err.txt" || fail "$(basename "$tool") $flag exits $?"
    grep -q "$(basename "$tool"):" "$out/help.txt" || fail "$(basename "$tool") $flag: no usage on stdout"
  done
done

# One line, exit 1.
expect_error() {
  expected=$1
  shift
  if "$@" > "$out/stdout.txt" 2> "$out/stderr.txt"; then
    fail "'$*' succeeded"
    return
  fi
  [ "$(wc -l < "$out/stderr.txt")" -eq 1 ] || fail "'$*': not one line: $(cat "$out/stderr.txt")"
  grep -q -- "$expected" "$out/stderr.txt" || fail "'$*': expected '$expected', got: $(cat "$out/stderr.txt")"
}
expect_error "unknown problem 'nope'" "$sim" --table2=1 --nodes=10 --problem=nope
expect_error "--rho must be > 0" "$sim" --table2=1 --nodes=10 --rho=-1
expect_error "give --topology" "$sim"
# Both colourings are shown: the experiments' centralized one and the agents' distributed protocol's.
root=$(cd "$(dirname "$0")/.." && pwd)
"$sim" --topology "$root/deploy/examples/fig1/topology.yaml" --problem consensus --max_steps 10 > "$out/fig1.txt" 2>&1
grep -q "3 colours (centralized greedy, used here); agents' distributed colouring: 3 colours in" "$out/fig1.txt" \
  || fail "dadmm-sim does not show both colourings: $(head -1 "$out/fig1.txt")"
expect_error "unknown 'fig9'" "$sweep" --experiment=fig9 --out="$out/s"
expect_error "not a network of Table II" "$sweep" --experiment=fig3 --networks=8 --out="$out/s"
expect_error "averaging" "$sim" --table2=1 --nodes=10 --problem=bpdn-dct --algorithm=averaging

# dadmm-split: one line per bad input; a dataset split over a generated network.
printf '1,2,1\n3,4,-1\n5,6,2\n' > "$out/bad-labels.csv"
printf '1,2,1\n3,4,-1\n5,6,1\n7,8,-1\n9,10,1\n' > "$out/points.csv"
expect_error "row 3 has label 2" "$split" --data="$out/bad-labels.csv" --problem=svm --nodes=2 --out="$out/split"
expect_error "5 rows for 10 nodes" "$split" --data="$out/points.csv" --problem=svm --nodes=10 --out="$out/split"
expect_error "--problem is required" "$split" --data="$out/points.csv" --nodes=2 --out="$out/split"
expect_error "cannot open data file" "$split" --data="$out/missing.csv" --problem=svm --nodes=2 --out="$out/split"
"$split" --data="$out/points.csv" --problem=svm --nodes=2 --table2=7 --out="$out/split" > /dev/null || fail "split failed"
[ "$(grep -c . "$out/split/node-1.csv")" -eq 3 ] && [ "$(grep -c . "$out/split/node-2.csv")" -eq 2 ] \
  || fail "split: 5 rows should go 3 + 2"
grep -q '^data: node-2.csv' "$out/split/node-2.yaml" || fail "split: node-2.yaml does not name its data"
grep -q '^--problem=svm' "$out/split/problem.flags" || fail "split: problem.flags"
# lasso splits the columns of A (7 here: 4 + 3); every node keeps b as its last column.
printf '1,2,3,4,5,6,7,10\n8,9,10,11,12,13,14,20\n' > "$out/lasso.csv"
expect_error "7 columns of A for 10 nodes" "$split" --data="$out/lasso.csv" --problem=lasso --nodes=10 --out="$out/split-l"
expect_error "sigma must be" "$split" --data="$out/lasso.csv" --problem=lasso --sigma=-1 --nodes=2 --out="$out/split-l"
"$split" --data="$out/lasso.csv" --problem=lasso --sigma=2 --nodes=2 --table2=7 --out="$out/split-l" > /dev/null \
  || fail "lasso split failed"
[ "$(head -1 "$out/split-l/node-1.csv")" = "1,2,3,4,10" ] && [ "$(sed -n 2p "$out/split-l/node-2.csv")" = "12,13,14,20" ] \
  || fail "lasso split: columns 1-4 and 5-7 with b, got $(cat "$out/split-l/node-1.csv" "$out/split-l/node-2.csv")"
grep -q '^--problem=lasso --sigma=2 --delta=0.001' "$out/split-l/problem.flags" || fail "lasso split: problem.flags"
grep -q '^sigma: 2' "$out/split-l/node-1.yaml" || fail "lasso split: node-1.yaml has no sigma"

# A run prints its counts; messages = 2E x steps.
"$sim" --table2=7 --nodes=10 --problem=consensus --algorithm=d-admm --rho=1 --errors_csv="$out/e.csv" > "$out/sim.txt" \
  || fail "dadmm-sim run failed"
grep -q "tolerance 0.0001 reached" "$out/sim.txt" || fail "dadmm-sim did not reach the tolerance: $(cat "$out/sim.txt")"
line=$(grep '^messages' "$out/sim.txt")
echo "$line" | awk '{ gsub(/\)/, "", $NF); if ($2 != $NF) exit 1 }' || fail "messages != 2E x steps: $line"

# From a poor rho, the balancing rule finds a workable one (the same network at fixed rho 1e-4 does not
# reach the tolerance in 1000 steps).
"$sim" --table2=7 --nodes=10 --problem=consensus --rho=1e-4 --vary_rho=balance --max_steps=1000 > "$out/vary.txt" \
  || fail "dadmm-sim --vary_rho failed"
grep -q "tolerance 0.0001 reached" "$out/vary.txt" || fail "--vary_rho=balance from 1e-4: $(cat "$out/vary.txt")"
grep -q "^penalty   balance, a vote every" "$out/vary.txt" || fail "--vary_rho: no penalty line: $(cat "$out/vary.txt")"
"$sim" --table2=7 --nodes=10 --problem=consensus --rho=1e-4 --vary_rho=edge --max_steps=1000 > "$out/edge.txt" \
  || fail "dadmm-sim --vary_rho=edge failed"
grep -q "tolerance 0.0001 reached" "$out/edge.txt" || fail "--vary_rho=edge from 1e-4: $(cat "$out/edge.txt")"
grep -q "^penalty   edge, per edge every 2 steps" "$out/edge.txt" || fail "--vary_rho=edge: no penalty line"
"$sim" --table2=7 --nodes=10 --problem=consensus --rho=1e-4 --max_steps=1000 > "$out/fixed.txt" || true
grep -q "tolerance 0.0001 NOT reached" "$out/fixed.txt" || fail "fixed rho 1e-4 reached the tolerance: $(cat "$out/fixed.txt")"
[ "$(head -1 "$out/e.csv")" = "step,relative_error" ] || fail "errors CSV header"

# Seed 001's Table 1 on a small instance: every column reaches the targets, and the table is printed.
expect_error "K = 63 is not a square" "$table1" --nodes=4 --k=63
expect_error "unknown column 'x'" "$table1" --nodes=4 --k=64 --runs=x
"$table1" --nodes=4 --k=64 --runs=cadmm8,icadmm > "$out/table1.txt" 2> "$out/table1.err" || fail "dadmm-table1 failed: $(cat "$out/table1.err")"
grep -q "^ADMM Ite\." "$out/table1.txt" || fail "dadmm-table1 printed no ADMM Ite. row"
grep -q "IC-ADMM: targets reached" "$out/table1.err" || fail "dadmm-table1: IC-ADMM did not reach the targets"

# A small sweep: one network of Fig. 3, every algorithm, tables written.
"$sweep" --experiment=fig3 --networks=3 --out="$out/s" > "$out/sweep.txt" 2> "$out/progress.txt" || fail "sweep failed"
grep -q '^| consensus | 3 | watts-strogatz | 50 |' "$out/s/fig3.md" || fail "fig3.md has no row for network 3"
[ "$(wc -l < "$out/s/fig3.csv")" -eq 5 ] || fail "fig3.csv should hold a header and 4 algorithms"
grep -q '^\[fig3 4/4\]' "$out/progress.txt" || fail "no progress lines"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "tools CLI: all checks passed"
