#!/usr/bin/python3
"""External local solvers (proto/local_solver.proto, python/dadmm_solver): agents with
--problem=external on Python solvers, each run checked by dadmm-ctl report against the simulator
asking the same solvers (bit for bit), and the examples against centralized scipy solutions.

  1. consensus in Python (python/examples/consensus.py) = the built-in consensus kind, bit for bit, and
     dadmm-sim --problem=external on the same solver = the agents, bit for bit;
  2. Huber regression (python/examples/huber.py) = scipy's trust-exact fit of all the rows, to 1e-4;
  3. box-constrained least squares (python/examples/box_least_squares.py) = scipy's lsq_linear of
     all the rows, to 1e-4, with a bound active;
  4. a solver that crashes mid-run and is restarted: the agents wait, say so, and finish with the
     simulator's bits;
  5. a solver that hangs: Status says what the agent waits for; at --solver_timeout_seconds the agents
     stop with exit 5 and a line that says why, having sent nothing the solver did not compute;
  6. a solver that is not deterministic: the agents warn, the report names it;
  7. replies of the wrong length or not finite: refused with a line naming the solver and the value.

usage: external_solver_test.py BUILD_DIR WORK_DIR   (DADMM_CASES=5,7 runs only those cases)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
from scipy.optimize import lsq_linear, minimize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "python", "examples"))
from dadmm_solver import serve  # noqa: E402
from consensus import Consensus, solvers_from  # noqa: E402

PY = "/usr/bin/python3"


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print("ok:", what, flush=True)


# --- the faulty solvers, run as `external_solver_test.py serve KIND DATA ADDRESS` ----------------

class Faulty(Consensus):
    """Consensus with a fault after `after` local steps (counted over every node it serves)."""
    calls = 0
    lock = threading.Lock()

    def __init__(self, theta, fault, after):
        super().__init__(theta)
        self.fault, self.after = fault, after

    def local_step(self, v, c, x_warm):
        with Faulty.lock:
            Faulty.calls += 1
            faulty = Faulty.calls > self.after
        x = super().local_step(v, c, x_warm)
        time.sleep(0.002)  # a solver that takes a moment, so that a run lasts long enough to break
        if not faulty:
            return x
        if self.fault == "crash":
            os._exit(3)
        if self.fault == "hang":
            time.sleep(3600)
        if self.fault == "noise":
            return x + np.random.default_rng().normal(size=x.size) * 1e-9
        if self.fault == "short":
            return x[:-1]
        if self.fault == "nan":
            x = x.copy()
            x[0] = float("nan")
            return x
        return x


def serve_faulty(fault, after, data, address):
    solvers = {node: Faulty(s.theta, fault, int(after)) for node, s in solvers_from(data).items()}
    serve(solvers, address)


# --- the runs --------------------------------------------------------------------------------------

class Env:
    def __init__(self, build, work):
        self.build, self.work = build, work
        self.procs = []

    def solver(self, args, name):
        log = open(os.path.join(self.work, f"{name}.log"), "w")
        p = subprocess.Popen([PY] + args, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def wait_socket(self, path, proc):
        deadline = time.monotonic() + 20
        while not os.path.exists(path):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the solver did not start (its log: {self.work})")
            time.sleep(0.05)

    def cluster(self, name, topology, args, background=False):
        out = os.path.join(self.work, name)
        command = [os.path.join(ROOT, "deploy/run-local-cluster.sh"), "--build-dir", self.build, "--out", out,
                   "--topology", topology] + args
        if background:
            return out, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return out, run

    def fit_against(self, name, script, args, topology, nodes, reference, what, reference_name):
        """python/examples/SCRIPT on WORK/NAME-data, 300 steps at rho 5: bit-identical to the simulator on the
        same solver, and every node's x within 1e-4 of `reference`."""
        sock = os.path.join(self.work, f"{name}.sock")
        p = self.solver([os.path.join(ROOT, "python/examples", script), "--data", os.path.join(self.work, f"{name}-data"),
                         "--listen", f"unix://{sock}"] + args, f"{name}-solver")
        self.wait_socket(sock, p)
        out, run = self.cluster(name, topology, ["--solver", f"unix://{sock}", "--iterations", "300",
                                                 "--tolerance", "0", "--rho", "5"])
        check(run.returncode == 0 and "bit-identical to simulator: yes" in run.stdout,
              f"{what} ran, bit-identical to the simulator")
        errors = relative_errors(results(out, nodes), reference)
        check(max(errors) <= 1e-4, f"every node's x is within 1e-4 of {reference_name} (largest {max(errors):.2e})")

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def results(out, nodes):
    return {i: json.load(open(os.path.join(out, "results", f"node-{i}.json"))) for i in nodes}


def logs(out, nodes):
    return {i: open(os.path.join(out, "logs", f"node-{i}.log")).read() for i in nodes}


def write_rows(directory, nodes, rows_per_node, n, seed, outliers):
    """Rows (a_i, b_i) per node: b = A x_true + noise, with `outliers` gross errors per node."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    x_true = rng.normal(size=n)
    for p in nodes:
        A = rng.normal(size=(rows_per_node, n))
        b = A @ x_true + 0.1 * rng.normal(size=rows_per_node)
        if outliers:
            b[rng.choice(rows_per_node, outliers, replace=False)] += 20.0 * rng.normal(size=outliers)
        np.savetxt(os.path.join(directory, f"node-{p}.csv"), np.column_stack([A, b]), delimiter=",", fmt="%.17g")
    return np.vstack([np.loadtxt(os.path.join(directory, f"node-{p}.csv"), delimiter=",", ndmin=2) for p in nodes])


def relative_errors(result, reference):
    return [float(np.linalg.norm(np.array(r["x"]) - reference) / np.linalg.norm(reference)) for r in result.values()]


def want(case):
    """DADMM_CASES=5,6 runs only those cases (all by default)."""
    only = os.environ.get("DADMM_CASES", "")
    return not only or str(case) in only.split(",")


def main():
    build, work = sys.argv[1:3]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    env = Env(build, work)
    topology = os.path.join(work, "net.yaml")
    subprocess.run([os.path.join(build, "tools/dadmm-topogen"), "--model=erdos-renyi", "--nodes=6", "--p=0.5",
                    "--seed=3", f"--out={topology}"], check=True, stderr=subprocess.DEVNULL)
    nodes = list(range(1, 7))
    try:
        data = os.path.join(work, "consensus-data")
        subprocess.run([os.path.join(build, "tools/dadmm-sim"), f"--topology={topology}", "--problem=consensus",
                        "--dimension=3", f"--write_data={data}"], check=True, stdout=subprocess.DEVNULL)
        common = ["--iterations", "150", "--tolerance", "0", "--rho", "1"]
        me = os.path.abspath(__file__)
        if want(1):
            # 1. The built-in consensus kind and the same in Python, on the same data.
            sock = os.path.join(work, "consensus.sock")
            p = env.solver([os.path.join(ROOT, "python/examples/consensus.py"), "--data", data, "--listen",
                            f"unix://{sock}"], "consensus-solver")
            env.wait_socket(sock, p)
            out_builtin, run = env.cluster("builtin", topology, ["--data-dir", data] + common)
            check(run.returncode == 0 and "bit-identical to simulator: yes" in run.stdout,
                  "the built-in consensus ran, bit-identical to the simulator")
            out_external, run = env.cluster("external", topology, ["--solver", f"unix://{sock}"] + common)
            check(run.returncode == 0 and "bit-identical to simulator: yes" in run.stdout,
                  "consensus on the Python solver ran; dadmm-ctl report's simulator asked the same solver: the same bits")
            a, b = results(out_builtin, nodes), results(out_external, nodes)
            check(all(a[i]["x"] == b[i]["x"] and a[i]["iterations"] == b[i]["iterations"] for i in nodes),
                  "every node's x from the Python solver = the built-in kind's, bit for bit")
            check(all(b[i]["problem"] == "external" and re.fullmatch(r"[0-9a-f]{16}", b[i]["solverReplyHash"])
                      and b[i]["localSolverSeconds"] > 0 for i in nodes),
                  "the results record the solver's reply hash and its time")
            check("local solver: consensus-python, n = 3" in logs(out_external, [1])[1], "the agent logs what its solver is")
            sim = subprocess.run([os.path.join(build, "tools/dadmm-sim"), f"--topology={topology}", "--problem=external",
                                  f"--solver=unix://{sock}", "--tol=0", "--max_steps=150", "--rho=1"],
                                 capture_output=True, text=True)
            rows = {int(f[0]): (f[1], [float(v) for v in f[2:]]) for f in
                    (line.split() for line in sim.stdout.splitlines()) if f and f[0].isdigit()}
            check(sim.returncode == 0 and "communication steps 150" in sim.stdout and sorted(rows) == nodes and
                  all(rows[i] == (b[i]["solverReplyHash"], b[i]["x"]) for i in nodes),
                  "dadmm-sim --problem=external on the same solver: every node's x and reply hash = the agents'")

        if want(2):
            # 2. Huber regression against the centralized fit of all the rows (trust-exact, exact Hessian).
            delta = 1.35
            rows = write_rows(os.path.join(work, "huber-data"), nodes, 30, 5, seed=7, outliers=3)
            A, y = rows[:, :-1], rows[:, -1]

            def huber(x):
                r = A @ x - y
                small = np.abs(r) <= delta
                return (np.sum(np.where(small, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta))),
                        A.T @ np.where(small, r, delta * np.sign(r)))
            central = minimize(lambda x: huber(x)[0], np.zeros(5), jac=lambda x: huber(x)[1],
                               hess=lambda x: A.T @ ((np.abs(A @ x - y) <= delta)[:, None] * A),
                               method="trust-exact", options={"gtol": 1e-13})
            check(central.success, "scipy's centralized Huber fit converged")
            env.fit_against("huber", "huber.py", ["--delta", str(delta)], topology, nodes, central.x,
                            "Huber regression (scipy L-BFGS-B local steps)", "scipy's centralized fit")

        if want(3):
            # 3. Box-constrained least squares against lsq_linear on all the rows (trust-region reflective).
            rows = write_rows(os.path.join(work, "box-data"), nodes, 30, 5, seed=11, outliers=0)
            central = lsq_linear(rows[:, :-1], rows[:, -1], bounds=(-0.5, 0.5), method="trf", tol=1e-15)
            active = int(np.sum(np.abs(np.abs(central.x) - 0.5) < 1e-9))
            check(central.success and active >= 1, f"scipy's centralized box fit converged, {active} bound(s) active")
            env.fit_against("box", "box_least_squares.py", [], topology, nodes, central.x,
                            "box-constrained least squares (scipy lsq_linear local steps)",
                            "scipy's centralized solution")

        if want(4):
            # 4. A solver that crashes after 300 local steps, restarted a second later.
            sock = os.path.join(work, "crash.sock")
            first = env.solver([me, "serve", "crash", "300", data, f"unix://{sock}"], "crash-solver-1")
            env.wait_socket(sock, first)
            out, cluster = env.cluster("crash", topology, ["--solver", f"unix://{sock}"] + common, background=True)
            check(first.wait(timeout=60) == 3, "the solver crashed mid-run (after 300 local steps)")
            time.sleep(1.0)
            env.solver([me, "serve", "crash", "100000000", data, f"unix://{sock}"], "crash-solver-2")
            stdout, _ = cluster.communicate(timeout=120)
            check(cluster.returncode == 0 and "bit-identical to simulator: yes" in stdout,
                  "the agents waited for the restarted solver and finished with the simulator's bits")
            said = [i for i, text in logs(out, nodes).items() if "waiting for the local solver at" in text]
            check(len(said) >= 1, f"agents {said} logged that they waited for their local solver")

        if want(5):
            # 5. A solver that hangs after 300 local steps; the agents give up after 3 s.
            sock = os.path.join(work, "hang.sock")
            p = env.solver([me, "serve", "hang", "300", data, f"unix://{sock}"], "hang-solver")
            env.wait_socket(sock, p)
            out, cluster = env.cluster("hang", topology, ["--solver", f"unix://{sock}"] + common +
                                       ["--", "--solver_timeout_seconds=3", "--neighbour_timeout=3"],
                                       background=True)
            address = [line.split()[1] for line in subprocess.run(
                [os.path.join(build, "agent/dadmm-ctl"), "nodes", topology], capture_output=True, text=True,
                check=True).stdout.splitlines()]
            tls = os.path.join(out, "tls")
            seen = ""
            deadline = time.monotonic() + 60
            while cluster.poll() is None and time.monotonic() < deadline and "waiting for the local solver" not in seen:
                # Any node's step may be the one that hangs (the solver counts the steps of all six).
                for a in address:
                    seen = subprocess.run([os.path.join(build, "agent/dadmm-ctl"), "status", a,
                                           f"--tls_ca={tls}/ca.pem", f"--tls_cert={tls}/ctl/cert.pem",
                                           f"--tls_key={tls}/ctl/key.pem", "--timeout_seconds=1"],
                                          capture_output=True, text=True).stdout
                    if "waiting for the local solver" in seen:
                        break
                time.sleep(0.1)
            check("waiting for the local solver at" in seen,
                  "Status shows what the agent waits for: " + next(
                      (line for line in seen.splitlines() if "waiting for" in line), "(nothing)"))
            cluster.communicate(timeout=120)
            check(cluster.returncode != 0, "the run failed (its solver hung)")
            texts = logs(out, nodes)
            gave_up = [i for i, t in texts.items()
                       if re.search(r"LocalStep failed after 3\.\d s: no answer.*stopping without sending anything", t)]
            check(len(gave_up) >= 1, f"agents {gave_up} gave up after 3 s with a line that says why")
            codes = [line for t in texts.values() for line in t.splitlines() if "FAILED" in line]
            check(all("local solver" in line or "neighbour" in line for line in codes),
                  "every agent that failed says it was its solver or a neighbour's absence")

        if want(6):
            # 6. A solver that is not deterministic: warned at the start, named in the report.
            sock = os.path.join(work, "noise.sock")
            p = env.solver([me, "serve", "noise", "0", data, f"unix://{sock}"], "noise-solver")
            env.wait_socket(sock, p)
            out, run = env.cluster("noise", topology, ["--solver", f"unix://{sock}"] + common)
            check("is not deterministic" in logs(out, [1])[1], "the agent warns that its solver is not deterministic")
            check(run.returncode != 0 and "bit-identical to simulator: NO" in run.stdout and
                  "answered the agent and the simulator differently" in run.stdout,
                  "the report says the run is not the simulator's and names the solvers whose replies differed")

        if want(7):
            # 7. Replies that are not valid.
            for fault, line in [("short", r"LocalStep returned 2 value\(s\); its dimension is 3"),
                                ("nan", r"LocalStep returned nan at entry 1")]:
                sock = os.path.join(work, f"{fault}.sock")
                p = env.solver([me, "serve", fault, "50", data, f"unix://{sock}"], f"{fault}-solver")
                env.wait_socket(sock, p)
                out, run = env.cluster(fault, topology, ["--solver", f"unix://{sock}"] + common +
                                       ["--", "--neighbour_timeout=3"])
                texts = logs(out, nodes)
                refused = [i for i, t in texts.items() if re.search(line, t)]
                check(run.returncode != 0 and refused, f"a reply that is {fault}: refused by agents {refused} ({line})")
    finally:
        env.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve_faulty(*sys.argv[2:6])
    else:
        sys.exit(main())
