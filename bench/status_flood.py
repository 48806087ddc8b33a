#!/usr/bin/env python3
"""What a flood of Status calls costs a run: Figure 1's seven agents on consensus (mutual TLS, a fixed
number of iterations), alone and while a client holding the network's monitor certificate calls
GetStatus on every agent as fast as it can, over kept channels and over a new TLS connection per call.
Prints the run's wall time and the agents' own time per iteration (algorithm_seconds / iterations, mean
over the agents) for each, the median over the repetitions, and the calls answered and refused.
A measurement, not a test: it never fails on a figure.

  bench/status_flood.py [--build-dir build] [--iterations 3000] [--repeat 3] [--threads 8]

The flooding client runs on the same two cores as the seven agents, so part of any slowdown is the
client's own CPU, not the agents' defence; the agents pace Status at 50 calls a second and refuse the
rest with RESOURCE_EXHAUSTED."""
import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import grpc

from cluster_results import mean_seconds_per_iteration

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORTS = range(50051, 50058)  # deploy/examples/fig1/topology.yaml


def load_pb(work):
    proto_dir = os.path.join(ROOT, "proto")
    subprocess.run(["protoc", f"-I{proto_dir}", f"--python_out={work}", os.path.join(proto_dir, "dadmm.proto")],
                   check=True)
    sys.path.insert(0, work)
    import dadmm_pb2  # noqa: E402 (generated above)
    return dadmm_pb2


def flood(pb, tls, stop, counts, lock, new_connection_every):
    """Calls GetStatus round-robin on the seven agents until `stop`; every `new_connection_every`-th call
    opens a new channel (a TLS handshake)."""
    def read(name):
        with open(os.path.join(tls, name), "rb") as f:
            return f.read()
    creds = grpc.ssl_channel_credentials(root_certificates=read("ca.pem"), private_key=read("ctl/key.pem"),
                                         certificate_chain=read("ctl/cert.pem"))
    options = [("grpc.ssl_target_name_override", "dadmm")]

    def stub(port):
        channel = grpc.secure_channel(f"127.0.0.1:{port}", creds, options=options)
        return channel, channel.unary_unary("/dadmm.v1.Status/GetStatus",
                                            request_serializer=pb.StatusRequest.SerializeToString,
                                            response_deserializer=pb.StatusReply.FromString)
    kept = {port: stub(port) for port in PORTS}
    for port in PORTS:  # the flood starts once every agent listens (a channel in backoff fails at once)
        try:
            kept[port][1](pb.StatusRequest(), timeout=30, wait_for_ready=True)
        except grpc.RpcError:
            pass
    n = 0
    local = {"answered": 0, "refused": 0, "failed": 0}
    while not stop.is_set():
        port = PORTS[n % len(PORTS)]
        n += 1
        fresh = new_connection_every and n % new_connection_every == 0
        channel, call = stub(port) if fresh else kept[port]
        try:
            call(pb.StatusRequest(), timeout=2)
            local["answered"] += 1
        except grpc.RpcError as e:
            local["refused" if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED else "failed"] += 1
        finally:
            if fresh:
                channel.close()
    for channel, _ in kept.values():
        channel.close()
    with lock:
        for k, v in local.items():
            counts[k] += v


def flood_worker(tls, threads, reconnect):
    """The flooding client, a process of its own: floods until SIGTERM, then prints its counts."""
    work = tempfile.mkdtemp(prefix="dadmm-flood-pb-")
    pb = load_pb(work)
    stop, lock = threading.Event(), threading.Lock()
    counts = {"answered": 0, "refused": 0, "failed": 0}
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    workers = []
    for i in range(threads):
        # Half the threads keep their channels; the others open a new connection every reconnect-th call.
        w = threading.Thread(target=flood, args=(pb, tls, stop, counts, lock, reconnect if i % 2 else 0))
        w.start()
        workers.append(w)
    for w in workers:
        w.join()
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(counts), flush=True)


def run(build, iterations, threads, nice, reconnect, pin):
    """One run; with `threads` > 0, flooded by a client at niceness `nice`. Returns the run's wall
    seconds, the agents' mean seconds per iteration, the CPU seconds the agents (and their launcher)
    used, and the client's counts and calls per second."""
    out = tempfile.mkdtemp(prefix="dadmm-flood-bench-")
    cmd = [os.path.join(ROOT, "deploy/run-local-cluster.sh"), "--build-dir", build, "--problem", "consensus",
           "--iterations", str(iterations), "--tolerance", "0", "--out", out]
    if pin:  # the agents on core 0, the client on core 1: a client on a machine of its own
        cmd = ["taskset", "-c", "0"] + cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    flooder = None
    if threads:
        tls = os.path.join(out, "tls")
        while not os.path.exists(os.path.join(tls, "ctl", "key.pem")) and p.poll() is None:
            time.sleep(0.01)
        scheduling = ["chrt", "--idle", "0"] if nice == "idle" else ["nice", "-n", str(nice)]
        if pin:
            scheduling = ["taskset", "-c", "1"] + scheduling
        flooder = subprocess.Popen(scheduling + [sys.executable, os.path.abspath(__file__),
                                    "--flood-worker", tls, str(threads), str(reconnect)], stdout=subprocess.PIPE, text=True)
        flood_started = time.monotonic()
    output, _ = p.communicate()
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the launcher and its agents, reaped just now
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    counts, rate = {"answered": 0, "refused": 0, "failed": 0}, 0.0
    if flooder:
        flooder.terminate()
        counts = json.loads(flooder.communicate()[0])
        rate = sum(counts.values()) / (time.monotonic() - flood_started)
    if p.returncode != 0:
        sys.exit(f"status_flood: the run failed:\n{output[-2000:]}")
    seconds_per_iteration = mean_seconds_per_iteration(out)
    shutil.rmtree(out, ignore_errors=True)
    return wall, seconds_per_iteration, cpu, counts, rate


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--flood-worker":
        flood_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8, help="flooding threads (one client process)")
    parser.add_argument("--nice", default="19",
                        help="the client's niceness, or 'idle' (SCHED_IDLE: it runs only when a core would "
                             "otherwise idle, and a waking agent preempts it at once): 19 or idle stand for a "
                             "client on another machine, 0 for one that competes for these cores")
    parser.add_argument("--reconnect", type=int, default=10,
                        help="half the threads open a new TLS connection every N-th call (0: never)")
    parser.add_argument("--pin", action="store_true",
                        help="run the agents on core 0 only (quiet and flooded alike) and the client on core 1, "
                             "so that the client has a CPU of its own, as on another machine")
    args = parser.parse_args()
    quiet, flooded = [], []
    print(f"consensus on Figure 1, {args.iterations} iterations; flooding client: {args.threads} threads at "
          f"nice {args.nice}" + ("; agents on core 0, client on core 1" if args.pin else ""))
    print("| run | wall | per iteration (agents) | agents' CPU | Status answered | refused (paced) "
          "| failed (not up yet, ...) | calls/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in range(args.repeat):  # alternate, so that drift in the machine's load hits both alike
        for threads, into in ((0, quiet), (args.threads, flooded)):
            wall, per_it, cpu, c, rate = run(args.build_dir, args.iterations, threads, args.nice, args.reconnect, args.pin)
            into.append((wall, per_it, cpu))
            label = f"{'flooded' if threads else 'quiet'} {r + 1}"
            print(f"| {label} | {wall:.2f} s | {per_it * 1e6:.0f} us | {cpu:.2f} s | {c['answered']} "
                  f"| {c['refused']} | {c['failed']} | {rate:.0f} |", flush=True)
    med = [[statistics.median(x[k] for x in runs) for k in range(3)] for runs in (quiet, flooded)]
    (qw, qi, qc), (fw, fi, fc) = med
    print(f"\nmedians: wall {qw:.2f} s quiet, {fw:.2f} s flooded ({100 * (fw / qw - 1):+.1f}%); per iteration "
          f"{qi * 1e6:.0f} us, {fi * 1e6:.0f} us ({100 * (fi / qi - 1):+.1f}%); agents' CPU {qc:.2f} s, "
          f"{fc:.2f} s ({100 * (fc / qc - 1):+.1f}%)")


if __name__ == "__main__":
    main()
