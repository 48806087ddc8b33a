#!/usr/bin/env python3
"""Summarizes penalty.csv files of `dadmm-sweep --experiment=penalty` (one or several parts of a sweep) as
a Markdown table: per problem, algorithm and rule, how many runs reached the relative error 1e-4 within
1.25x (and 1x, 2x) of the steps of the best rho of the paper's grid, how many did not within 4x (or the
maximum), how many diverged, and how many reached it where no value of the grid did; then the same
over all problems per algorithm, over everything, and for what an agent's --vary_rho_rule=auto runs.

  deploy/penalty-summary.py results/seed1/penalty/*/penalty.csv
"""
import collections
import csv
import sys


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    rows = []
    for path in paths:
        try:
            with open(path, newline="") as f:
                rows += list(csv.DictReader(f))
        except OSError as e:
            print(f"penalty-summary: {path}: {e.strerror}", file=sys.stderr)
            return 2
    counts = collections.defaultdict(collections.Counter)
    for r in rows:
        if r.get("rule") in (None, "fixed"):
            continue
        keys = [(r["problem"], r["algorithm"], r["rule"]), ("all", r["algorithm"], r["rule"]), ("all", "all", r["rule"])]
        # What an agent's --vary_rho_rule=auto runs: per-edge penalties with D-ADMM, the balancing vote
        # with the others.
        if (r["algorithm"], r["rule"]) in (("d-admm", "edge"), ("algorithm3", "balance")):
            keys.append(("all", "all", "auto (edge with d-admm, balance with algorithm3)"))
        for key in keys:
            c = counts[key]
            reached = r["reached"] == "1"
            if r["grid_steps"] == "":
                c["no_grid"] += 1
                c["no_grid_reached"] += reached
                continue
            ratio = float(r["ratio"]) if reached else float("inf")
            c["cases"] += 1
            c["x1"] += ratio <= 1.0
            c["x1.25"] += ratio <= 1.25
            c["x2"] += ratio <= 2.0
            c["missed"] += not reached
            c["diverged"] += r["diverged"] == "1"
    print("| problem | algorithm | rule | runs | within 1.25x | at most 1x | within 2x | not within 4x | diverged "
          "| reached where no grid value did |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (problem, algorithm, rule), c in sorted(counts.items(), key=lambda kv: (kv[0][0] == "all", kv[0][1] == "all", kv[0])):
        share = 100.0 * c["x1.25"] / c["cases"] if c["cases"] else 0.0
        print(f"| {problem} | {algorithm} | {rule} | {c['cases']} | {c['x1.25']} ({share:.0f}%) | {c['x1']} | "
              f"{c['x2']} | {c['missed']} | {c['diverged']} | {c['no_grid_reached']} of {c['no_grid']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
