"""Reading a local cluster's result files (deploy/run-local-cluster.sh --out DIR), for the benchmarks."""

import glob
import json
import os


def results(out_dir):
    """The agents' results (JSON), in node file order."""
    paths = sorted(glob.glob(os.path.join(out_dir, "results", "node-*.json")))
    out = []
    for path in paths:
        with open(path) as f:
            out.append(json.load(f))
    return out


def mean_seconds_per_iteration(out_dir):
    """The agents' algorithm time per iteration, averaged over the nodes."""
    per_iteration = [r["algorithmSeconds"] / int(r["iterations"]) for r in results(out_dir)]
    if not per_iteration:
        raise SystemExit(f"no result files in {out_dir}/results")
    return sum(per_iteration) / len(per_iteration)
