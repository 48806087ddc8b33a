#!/usr/bin/python3
"""The agent's performance figures (issue 5): not a test, a measurement that prints what it found.

  bench/run_bench.py [--build-dir build] [--out bench/results.md] [--quick]

1. Loopback latency: a minimal TCP ping-pong (bench/tcp_pingpong.cc).
2. Iterations per second of the 7-agent consensus network (Fig. 1) and of a 50-agent network (Table II
   network 3, Watts-Strogatz), all agents on this machine; per-iteration time against the ideal
   C x one-way latency + compute (compute: the simulator's time per step for the whole network).
3. Payload, serialized and wire bytes per message for n = 1, 100, 10 000 (consensus with theta_p in
   R^n), the wire bytes counted by the kernel on the loopback interface of a network namespace of
   their own (IP level: TCP/IP headers, HTTP/2 and gRPC framing, acknowledgements, bootstrap).
4. Agent peak RSS at n = 10 000.
5. Against a hand-written MPI D-ADMM (bench/mpi_dadmm.cc, OpenMPI over TCP: --mca btl tcp,self) on the
   same networks and data: per-iteration time side by side, and the agents' CPU per message, for
   Fig. 1 with n = 1 and n = 10 000 and the 50-node network (skipped without mpirun and mpi-dadmm:
   apt-get install openmpi-bin libopenmpi-dev, then rebuild).
6. One local step: the built-in consensus kind, an external solver in C++ and in Python
   (bench/local_solver_bench.cc).
Needs root for the network namespace (step 3 is skipped otherwise).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

from cluster_results import results

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def cluster(build, out, topology, iterations, dimension=1, netns=None):
    cmd = [os.path.join(ROOT, "deploy/run-local-cluster.sh"), "--build-dir", build, "--out", out, "--topology", topology,
           "--iterations", str(iterations), "--tolerance", "0", "--dimension", str(dimension)]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    report = run(cmd).stdout
    if "bit-identical to simulator: yes" not in report:
        raise SystemExit(f"cluster run not bit-identical:\n{report}")
    return results(out), report


def sim_seconds_per_step(build, topology, steps):
    t0 = time.perf_counter()
    run([os.path.join(build, "tools/dadmm-sim"), "--topology", topology, "--problem", "consensus",
         "--algorithm", "d-admm", "--rho", "1", "--tol", "0", "--max_steps", str(steps)])
    return (time.perf_counter() - t0) / steps


def mpi_per_iteration_us(build, topology, data_dir, iterations, ranks):
    out = run(["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(ranks), "--mca", "btl", "tcp,self",
               os.path.join(build, "bench/mpi-dadmm"), topology, data_dir, str(iterations)]).stdout.split()
    error = float(out[out.index("relative_error") + 1])
    if not error < 1e-6:
        raise SystemExit(f"mpi-dadmm did not reach the average (relative error {error})")
    return float(out[out.index("per_iteration_us") + 1])


def colours(rs):
    return max(r["colour"] for r in rs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default="")
    ap.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    args = ap.parse_args()
    build = args.build_dir
    work = tempfile.mkdtemp(prefix="dadmm-bench.")
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    say("# Agent benchmarks")
    say()
    say(f"Machine: {os.cpu_count()} cores; `{' '.join(sys.argv)}`; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.")
    say()
    ping = run([os.path.join(build, "bench/tcp-pingpong"), "20000", "64"]).stdout.split()
    one_way_us = float(ping[ping.index("one_way_us") + 1])
    say(f"Loopback TCP one-way latency (64-byte ping-pong, median of 20000 round trips): {one_way_us:.1f} us")
    say()

    say("## Iterations per second (consensus, n = 1, D-ADMM, all agents on this machine)")
    say()
    say("CPU per message: the agents' CPU time (getrusage, user + system, the whole run) over the estimates "
        "they sent.")
    say()
    say("| network | agents | colours C | iterations | iterations/s | per iteration | ideal C x latency + compute | ratio "
        "| CPU per message |")
    say("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    fig1 = os.path.join(ROOT, "deploy/examples/fig1/topology.yaml")
    net50 = os.path.join(work, "ws50.yaml")
    run([os.path.join(build, "tools/dadmm-topogen"), "--table2=3", "--nodes=50", "--seed=1", "--base_port=51000",
         f"--out={net50}"])
    for name, topology, iterations in [("Fig. 1", fig1, 500 if args.quick else 5000),
                                       ("Table II net 3 (WS)", net50, 200 if args.quick else 2000)]:
        rs, _ = cluster(build, os.path.join(work, name.split()[0]), topology, iterations)
        seconds = max(r["algorithmSeconds"] for r in rs)
        per_iteration_us = seconds / iterations * 1e6
        compute_us = sim_seconds_per_step(build, topology, iterations) * 1e6
        c = colours(rs)
        ideal_us = c * one_way_us + compute_us
        cpu_us = sum(r.get("cpuSeconds", 0.0) for r in rs) / sum(int(r["messagesSent"]) for r in rs) * 1e6
        say(f"| {name} | {len(rs)} | {c} | {iterations} | {iterations / seconds:.0f} | {per_iteration_us:.0f} us | "
            f"{c} x {one_way_us:.1f} + {compute_us:.0f} = {ideal_us:.0f} us | {per_iteration_us / ideal_us:.1f} "
            f"| {cpu_us:.0f} us |")
    say()

    mpi = os.path.join(build, "bench/mpi-dadmm")
    if not (os.path.exists(mpi) and subprocess.run(["which", "mpirun"], capture_output=True).returncode == 0):
        say("Against MPI: skipped (needs mpirun and build/bench/mpi-dadmm: apt-get install openmpi-bin "
            "libopenmpi-dev, then rebuild).")
    else:
        say("## Against a hand-written MPI D-ADMM (consensus, the same networks and data)")
        say()
        say("`bench/mpi_dadmm.cc`: one OpenMPI rank per node over TCP (`--mca btl tcp,self`), the same colour "
            "order and 2E messages per iteration, no handshake, no counters, no fault tolerance. MPI ranks "
            "busy-poll; the agents block. CPU per message: the agents' getrusage over their estimates.")
        say()
        say("| network | n | iterations | MPI per iteration | agents per iteration | agents / MPI | agents' CPU per message |")
        say("| --- | --- | --- | --- | --- | --- | --- |")
        for name, topology, n, iterations in [("Fig. 1", fig1, 1, 500 if args.quick else 5000),
                                              ("Fig. 1", fig1, 10000, 50 if args.quick else 500),
                                              ("Table II net 3 (WS)", net50, 1, 200 if args.quick else 2000)]:
            out = os.path.join(work, f"mpi-{name.split()[0]}-{n}")
            rs, _ = cluster(build, out, topology, iterations, dimension=n)
            agents_us = max(r["algorithmSeconds"] for r in rs) / iterations * 1e6
            cpu_us = sum(r.get("cpuSeconds", 0.0) for r in rs) / sum(int(r["messagesSent"]) for r in rs) * 1e6
            mpi_us = mpi_per_iteration_us(build, topology, os.path.join(out, "data"), iterations, len(rs))
            say(f"| {name} | {n} | {iterations} | {mpi_us:.0f} us | {agents_us:.0f} us | {agents_us / mpi_us:.1f} | "
                f"{cpu_us:.0f} us |")
    say()

    netns = "dadmm-bench"
    if os.geteuid() != 0:
        say("Bytes per message: skipped (needs root for a network namespace).")
    else:
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        run(["ip", "netns", "add", netns])
        run(["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"])
        try:
            say("## Bytes per message and memory (Fig. 1, consensus with theta_p in R^n)")
            say()
            say("Wire bytes: what the kernel counted on the loopback interface of a network namespace holding only "
                "this run (IP level), divided by the estimates sent; they include the bootstrap and acknowledgements.")
            say()
            say("| n | iterations | payload 8n | serialized / message | wire / message | wire / 8n | peak RSS per agent |")
            say("| --- | --- | --- | --- | --- | --- | --- |")
            for n, iterations in [(1, 2000), (100, 2000), (10000, 300)]:
                if args.quick:
                    iterations //= 10
                def lo_bytes():
                    return int(run(["ip", "netns", "exec", netns, "cat", "/sys/class/net/lo/statistics/tx_bytes"]).stdout)
                before = lo_bytes()
                rs, _ = cluster(build, os.path.join(work, f"n{n}"), fig1, iterations, dimension=n, netns=netns)
                wire = lo_bytes() - before
                messages = sum(r["messagesSent"] and int(r["messagesSent"]) for r in rs)
                serialized = sum(int(r["messageBytesSent"]) - sum(int(nb.get("bootstrapMessageBytesSent", 0))
                                                                   for nb in r["neighbours"]) for r in rs)
                rss = max(int(r["peakRssKib"]) for r in rs)
                say(f"| {n} | {iterations} | {8 * n} | {serialized / messages:.1f} | {wire / messages:.1f} | "
                    f"{wire / messages / (8 * n):.3f} | {rss / 1024:.1f} MiB |")
        finally:
            subprocess.run(["ip", "netns", "del", netns], capture_output=True)
    say()

    say("## One local step: built in, external C++, external Python")
    say()
    say("`build/bench/local-solver-bench` (`bench/local_solver_bench.cc`): consensus's closed form as the built-in "
        "kind (a function call), as a C++ LocalSolver service and as `python/examples/consensus.py`, both over a "
        "unix socket; microseconds per local step.")
    say()
    say("```")
    bench = run([os.path.join(build, "bench/local-solver-bench"), "--calls", "200" if args.quick else "2000"])
    say(bench.stdout.rstrip())
    say("```")
    say()
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
