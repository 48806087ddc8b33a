#!/usr/bin/python3
"""A box-constrained quadratic problem split by rows, as an external local solver.

Node p holds rows (m_i, d_i) and f_p(x) = (1/2)||M_p x - d_p||^2 with X_p = {x : lo <= x <= hi}
(the same box at every node). The local step argmin_{x in X_p} f_p(x) + v'x + (c/2)||x||^2 is a
bounded least-squares problem in the stacked form
    (1/2)|| [M_p; sqrt(c) I] x - [d_p; -v / sqrt(c)] ||^2  (+ a constant),
which scipy's lsq_linear solves exactly (bounded-variable least squares).

    python/examples/box_least_squares.py --data DIR --listen unix:///tmp/box.sock [--lo -0.5 --hi 0.5]
"""

import argparse
import os
import sys

import numpy as np
from scipy.optimize import lsq_linear

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dadmm_solver import LocalSolver, serve  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _data import node_files, read_rows  # noqa: E402


class BoxLeastSquares(LocalSolver):
    def __init__(self, rows, lo, hi, description=""):
        self.M = rows[:, :-1]
        self.d = rows[:, -1]
        self.lo, self.hi = float(lo), float(hi)
        self.problem = f"box-least-squares lo={self.lo!r} hi={self.hi!r}"
        self.description = description

    def dimension(self):
        return self.M.shape[1]

    def objective(self, x):
        return 0.5 * float(np.sum((self.M @ x - self.d) ** 2))

    def local_step(self, v, c, x_warm):
        n = self.dimension()
        root = np.sqrt(c)
        A = np.vstack([self.M, root * np.eye(n)])
        b = np.concatenate([self.d, -v / root])
        result = lsq_linear(A, b, bounds=(self.lo, self.hi), method="bvls", tol=1e-14, max_iter=10 * n + 100)
        return result.x, int(result.nit), result.status == 0

    def subgradient(self, x):
        return self.M.T @ (self.M @ x - self.d)

    def project(self, x):
        return np.clip(x, self.lo, self.hi)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="directory with node-<id>.csv (rows: m_i, then d_i)")
    parser.add_argument("--listen", required=True, help="unix:PATH or localhost:PORT")
    parser.add_argument("--lo", type=float, default=-0.5, help="the box's lower bound (default -0.5)")
    parser.add_argument("--hi", type=float, default=0.5, help="the box's upper bound (default 0.5)")
    args = parser.parse_args()
    if not args.lo < args.hi:
        raise SystemExit("box_least_squares.py: --lo must be below --hi")
    solvers = {node: BoxLeastSquares(read_rows(path), args.lo, args.hi, path)
               for node, path in node_files(args.data).items()}
    print(f"box_least_squares.py: serving nodes {sorted(solvers)} on {args.listen}", flush=True)
    serve(solvers, args.listen)


if __name__ == "__main__":
    main()
