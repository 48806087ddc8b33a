#!/usr/bin/python3
"""Robust (Huber) regression split by rows, as an external local solver.

Node p holds rows (a_i, b_i) of the data and f_p(x) = sum_i h(a_i'x - b_i), with Huber's loss
h(r) = r^2 / 2 for |r| <= delta, delta (|r| - delta / 2) beyond: least squares that outliers cannot
drag far (scikit-learn's HuberRegressor without its scale estimate and penalty, fit_intercept=False).
X_p = R^n. The local step argmin f_p(x) + v'x + (c/2)||x||^2 is strongly convex and smooth; scipy's
L-BFGS-B solves it from the previous x.

    python/examples/huber.py --data DIR --listen unix:///tmp/huber.sock [--delta 1.35]
serves every node whose node-<id>.csv is in DIR (rows: a_i's entries, then b_i); the agents take
--problem=external --solver=unix:///tmp/huber.sock.
"""

import argparse
import os
import sys

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dadmm_solver import LocalSolver, serve  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _data import node_files, read_rows  # noqa: E402


def huber_loss(residual, delta):
    """sum of h(r), and h'(r) entry by entry."""
    small = np.abs(residual) <= delta
    loss = np.where(small, 0.5 * residual ** 2, delta * (np.abs(residual) - 0.5 * delta))
    return float(np.sum(loss)), np.where(small, residual, delta * np.sign(residual))


class Huber(LocalSolver):
    def __init__(self, rows, delta, description=""):
        self.A = rows[:, :-1]
        self.b = rows[:, -1]
        self.delta = float(delta)
        self.problem = f"huber delta={self.delta!r}"
        self.description = description

    def dimension(self):
        return self.A.shape[1]

    def objective(self, x):
        return huber_loss(self.A @ x - self.b, self.delta)[0]

    def local_step(self, v, c, x_warm):
        def cost(x):
            loss, slope = huber_loss(self.A @ x - self.b, self.delta)
            return loss + v @ x + 0.5 * c * (x @ x), self.A.T @ slope + v + c * x

        result = minimize(cost, x_warm, jac=True, method="L-BFGS-B",
                          options={"maxiter": 10000, "ftol": 1e-16, "gtol": 1e-11, "maxcor": 20})
        return result.x, int(result.nit), result.nit >= 10000

    def subgradient(self, x):
        return self.A.T @ huber_loss(self.A @ x - self.b, self.delta)[1]

    def project(self, x):
        return x


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="directory with node-<id>.csv (rows: a_i, then b_i)")
    parser.add_argument("--listen", required=True, help="unix:PATH or localhost:PORT")
    parser.add_argument("--delta", type=float, default=1.35, help="Huber's threshold (default 1.35)")
    args = parser.parse_args()
    if not args.delta > 0:
        raise SystemExit("huber.py: --delta must be > 0")
    solvers = {node: Huber(read_rows(path), args.delta, f"{path}") for node, path in node_files(args.data).items()}
    print(f"huber.py: serving nodes {sorted(solvers)} on {args.listen}", flush=True)
    serve(solvers, args.listen)


if __name__ == "__main__":
    main()
