#!/usr/bin/python3
"""Average consensus (seed 000, (18)) as an external local solver: f_p(x) = ||x - theta_p||^2.

The built-in consensus kind re-implemented in Python: the local step's closed form is the same
arithmetic as common/problems/consensus.cc, so a run on this solver gives the same bits as a run of
the built-in kind on the same data (tests/external_solver_test.py shows it).

    python/examples/consensus.py --data DIR --listen unix:///tmp/consensus.sock
serves every node whose node-<id>.csv is in DIR (theta_p: the file's numbers, as dadmm-sim
--write_data writes them); the agents take --problem=external --solver=unix:///tmp/consensus.sock.
"""

import argparse
import glob
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dadmm_solver import LocalSolver, serve  # noqa: E402


class Consensus(LocalSolver):
    problem = "consensus-python"

    def __init__(self, theta, description=""):
        self.theta = np.asarray(theta, dtype=np.float64).ravel()
        self.description = description

    def dimension(self):
        return self.theta.size

    def local_step(self, v, c, x_warm):
        # 2 (x - theta) + v + c x = 0: x = (2 theta - v) / (2 + c), entry by entry as Eigen does it.
        return (2.0 * self.theta - v) / (2.0 + c)

    def objective(self, x):
        return float(np.sum((x - self.theta) ** 2))

    def subgradient(self, x):
        return 2.0 * (x - self.theta)

    def project(self, x):
        return x  # X_p = R^n


def read_numbers(path):
    values = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0]
            values.extend(float(t) for t in re.split(r"[,\s]+", line.strip()) if t)
    return values


def solvers_from(data_dir):
    solvers = {}
    for path in sorted(glob.glob(os.path.join(data_dir, "node-*.csv"))):
        node = int(re.fullmatch(r"node-(\d+)\.csv", os.path.basename(path)).group(1))
        solvers[node] = Consensus(read_numbers(path), f"theta_p from {path}")
    if not solvers:
        raise SystemExit(f"consensus.py: no node-<id>.csv in {data_dir}")
    return solvers


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="directory with node-<id>.csv (theta_p)")
    parser.add_argument("--listen", required=True, help="unix:PATH or localhost:PORT")
    args = parser.parse_args()
    solvers = solvers_from(args.data)
    print(f"consensus.py: serving nodes {sorted(solvers)} on {args.listen}", flush=True)
    serve(solvers, args.listen)


if __name__ == "__main__":
    main()
