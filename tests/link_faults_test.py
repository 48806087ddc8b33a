#!/usr/bin/python3
"""Seven agents of Figure 1 with every link through a fault proxy (tests/fault_proxy.py): delay and
jitter, a partitioned link, connections reset at random, an agent stopped with SIGSTOP. Whatever the
links do, every estimate must reach the node programs exactly once, so each run must end with the
result the simulator computes, bit for bit (dadmm-ctl report checks it), and with 2E x steps first
transmissions; resends are counted apart and reported.

usage: link_faults_test.py BUILD_DIR WORK_DIR [SCENARIO...]
scenarios: delay partition resets sigstop (the default set, a few minutes), and the long ones
partition30 sigstop90 (not in the test command: deploy/soak-link-faults.sh).
"""
import asyncio
import functools
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_proxy import FaultProxy  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIG1 = os.path.join(ROOT, "deploy", "examples", "fig1", "topology.yaml")


def reserve_ports(count):
    """Distinct free ports below the kernel's ephemeral range (so that no outgoing connection, the
    proxy's included, can take one before its agent listens), each held by a bound socket until the
    caller closes it."""
    rng = random.Random(os.getpid())
    socks, ports = [], set()
    while len(socks) < count:
        port = rng.randrange(20000, 32700)
        if port in ports:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        ports.add(port)
        socks.append(s)
    return socks


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print("ok:", what, flush=True)


class Network:
    """The agents of one run, their proxy and their Status clients."""

    def __init__(self, build, work, iterations, seed=1, flags=()):
        self.build, self.work, self.iterations, self.flags = build, work, iterations, list(flags)
        os.makedirs(os.path.join(work, "results"), exist_ok=True)
        os.makedirs(os.path.join(work, "logs"), exist_ok=True)
        text = open(FIG1).read()
        self.ids = [int(m) for m in re.findall(r"\{id: (\d+),", text)]
        self.edges = [(int(a), int(b)) for a, b in re.findall(r"^  - \[(\d+), (\d+)\]", text, re.M)]
        self.reserved = reserve_ports(len(self.ids))
        self.addresses = {i: ("127.0.0.1", s.getsockname()[1]) for i, s in zip(self.ids, self.reserved)}
        self.topology = os.path.join(work, "topology.yaml")
        with open(self.topology, "w") as f:
            f.write("name: fig1\nnodes:\n")
            for i in self.ids:
                f.write(f'  - {{id: {i}, address: "127.0.0.1:{self.addresses[i][1]}"}}\n')
            f.write("edges:\n" + "".join(f"  - [{a}, {b}]\n" for a, b in self.edges))
        self.data = os.path.join(work, "data")
        subprocess.run([os.path.join(build, "tools", "dadmm-sim"), "--topology", self.topology, "--problem",
                        "consensus", "--seed", str(seed), "--write_data", self.data],
                       check=True, stdout=subprocess.DEVNULL)
        self.problem_flags = open(os.path.join(self.data, "problem.flags")).read().split()
        self.proxy = FaultProxy(self.addresses, self.edges, seed=seed)
        self.agents = {}
        self.status_stubs = {}

    async def start(self):
        await self.proxy.start()  # while the agents' ports are reserved
        for s in self.reserved:
            s.close()
        for i in self.ids:
            args = [os.path.join(self.build, "agent", "dadmm-agent"), f"--node_id={i}", "--insecure",
                    f"--topology={self.topology}", f"--data={os.path.join(self.data, f'node-{i}.csv')}",
                    *self.problem_flags, f"--iterations={self.iterations}", "--tolerance=0",
                    f"--dial={self.proxy.dial_flag(i)}", "--linger_seconds=60",
                    f"--output={os.path.join(self.work, 'results', f'node-{i}.json')}", *self.flags]
            self.agents[i] = await asyncio.create_subprocess_exec(
                *args, stdout=open(os.path.join(self.work, "logs", f"node-{i}.out"), "w"),
                stderr=open(os.path.join(self.work, "logs", f"node-{i}.log"), "w"))
        self.started = time.monotonic()

    def status(self, i, attempts=2):
        """Node i's StatusReply, or None if it does not answer within 2 s. UNAVAILABLE is retried once
        on a new channel (a monitor would retry it too; the proxy's resets share this process)."""
        import grpc
        import dadmm_pb2 as pb
        if i not in self.status_stubs:
            channel = grpc.insecure_channel(f"127.0.0.1:{self.addresses[i][1]}")
            self.status_stubs[i] = channel.unary_unary("/dadmm.v1.Status/GetStatus",
                                                       request_serializer=pb.StatusRequest.SerializeToString,
                                                       response_deserializer=pb.StatusReply.FromString)
        try:
            return self.status_stubs[i](pb.StatusRequest(), timeout=2)
        except grpc.RpcError as e:
            print(f"node {i}: Status: {e.code()} {e.details()}", flush=True)
            if e.code() == grpc.StatusCode.UNAVAILABLE and attempts > 1:
                del self.status_stubs[i]
                return self.status(i, attempts - 1)
            return None

    async def astatus(self, i):
        return await asyncio.get_running_loop().run_in_executor(None, self.status, i)

    async def wait_iteration(self, i, at_least, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = await self.astatus(i)
            if reply is not None and reply.iteration >= at_least:
                return reply
            await asyncio.sleep(0.05)
        raise AssertionError(f"node {i} did not reach iteration {at_least} within {timeout} s")

    async def start_running(self, node, iteration):
        """Starts the run with every link at 2 +- 1 ms and waits until `node` is at `iteration`."""
        self.proxy.delay(0.002, 0.001)
        await self.start()
        await self.wait_iteration(node, iteration, timeout=60)

    async def moves_on(self, node, after):
        """Waits until `node` is 5 iterations past `after`; returns the seconds that took and its reply."""
        since = time.monotonic()
        reply = await self.wait_iteration(node, after + 5, timeout=30)
        return time.monotonic() - since, reply

    async def finish(self, timeout):
        try:
            codes = {i: await asyncio.wait_for(a.wait(), timeout) for i, a in self.agents.items()}
        finally:
            for a in self.agents.values():
                if a.returncode is None:
                    a.kill()
                    await a.wait()
            await self.proxy.close()
        self.elapsed = time.monotonic() - self.started
        for i, code in codes.items():
            if code != 0:
                log = open(os.path.join(self.work, "logs", f"node-{i}.log")).read().splitlines()
                print("\n".join(log[-8:]))
            check(code == 0, f"agent {i} exits 0")

    def report(self):
        """dadmm-ctl report against the simulator; returns the totals of the delivery counters."""
        run = subprocess.run([os.path.join(self.build, "agent", "dadmm-ctl"), "report", self.topology,
                              f"--results={os.path.join(self.work, 'results')}", f"--data_dir={self.data}"],
                             capture_output=True, text=True)
        print(run.stdout + run.stderr, end="")
        check(run.returncode == 0, "dadmm-ctl report: the network computed what the simulator computes")
        check("bit-identical to simulator: yes, every node" in run.stdout, "bit-identical at every node")
        totals = {"resentMessages": 0, "duplicatesDropped": 0, "reconnects": 0}
        for i in self.ids:
            result = json.load(open(os.path.join(self.work, "results", f"node-{i}.json")))
            check(int(result["iterations"]) == self.iterations, f"node {i} ran {self.iterations} steps")
            for key in totals:
                totals[key] += int(result.get(key, 0))
        print(f"elapsed {self.elapsed:.1f} s; resent {totals['resentMessages']}, duplicates dropped "
              f"{totals['duplicatesDropped']}, reconnects {totals['reconnects']}", flush=True)
        return totals


async def scenario_delay(net):
    """Every link 50 +- 20 ms."""
    net.proxy.delay(0.050, 0.020)
    await net.start()
    await net.finish(timeout=240)
    net.report()


async def partition(net, seconds):
    """Edge 3-4 (both directions) partitioned for `seconds` mid-run; the run resumes soon after the heal."""
    await net.start_running(3, 100)
    net.proxy.partition(3, 4)
    print(f"partitioned 3-4 for {seconds} s", flush=True)
    await asyncio.sleep(seconds)
    stalled = await net.astatus(3)
    net.proxy.heal(3, 4)
    # Node 3 waits for node 4 within a step or two of the cut, so its iteration tells when the run moves.
    resumed, reply = await net.moves_on(3, stalled.iteration)
    print(f"healed at iteration {stalled.iteration} of node 3; it reached {reply.iteration} {resumed:.2f} s later",
          flush=True)
    check(resumed <= 3.0, f"the run resumes within 3 s of the heal ({resumed:.2f} s)")
    await net.finish(timeout=240)
    net.report()


async def scenario_resets(net, varying=False):
    """20 resets of a random live connection at random times during the run."""
    await net.start_running(1, 20)
    resets = 0
    while resets < 20:
        await asyncio.sleep(net.proxy.rng.uniform(0.05, 0.4))
        live = net.proxy.live_routes()
        if not live:
            continue
        route = net.proxy.rng.choice(live)
        if route.reset():
            resets += 1
            print(f"reset {route.name} at {time.monotonic() - net.started:.2f} s", flush=True)
    reply = await net.astatus(1)
    check(reply is not None, "node 1 answers Status after the resets")
    check(reply.iteration < net.iterations, f"the 20 resets fell within the run (node 1 at {reply.iteration})")
    if varying == "edge":
        check(all(n.rho > 0 for n in reply.neighbours),
              f"Status shows each edge's penalty: {[(n.node_id, n.rho) for n in reply.neighbours]}")
    await net.finish(timeout=240)
    totals = net.report()
    check(totals["reconnects"] >= 1, "the agents reconnected after the resets (counted)")
    if varying == "edge":
        # Per-edge penalties: no vote to agree on; each node reports its edges' (bit-identical x to
        # the simulator's, checked by finish, shows both ends of every edge changed alike).
        results = [json.load(open(os.path.join(net.work, "results", f"node-{i}.json"))) for i in net.ids]
        check(all(r.get("rhoChanges", 0) > 0 for r in results), "every node changed its edges' penalties")
        check(all(r["finalRhoMin"] <= r["finalRho"] <= r["finalRhoMax"] for r in results),
              "each node's penalty (geometric mean) lies between its edges' least and largest")
        check(any(r["finalRhoMin"] < r["finalRhoMax"] for r in results), "the edges ended with different penalties")
    elif varying:
        results = [json.load(open(os.path.join(net.work, "results", f"node-{i}.json"))) for i in net.ids]
        finals = {(r.get("finalRho"), r.get("rhoChanges")) for r in results}
        check(len(finals) == 1, f"every node ended with the same rho after the same changes: {finals}")
        final_rho, changes = finals.pop()
        check(changes and changes > 0 and final_rho != 0.001,
              f"the nodes changed rho from 0.001 to {final_rho} in {changes} votes")


async def stop(net, seconds):
    """Node 4 stopped (SIGSTOP) for `seconds`, then continued."""
    await net.start_running(4, 100)
    os.kill(net.agents[4].pid, signal.SIGSTOP)
    print(f"node 4 stopped for {seconds} s", flush=True)
    await asyncio.sleep(seconds)
    reply = await net.astatus(3)
    by_id = {n.node_id: n for n in reply.neighbours}
    check(not by_id[4].connected, f"node 3's Status shows node 4 not connected after {seconds} s stopped")
    check(by_id[4].seconds_since_connection_change < seconds,
          f"... since {by_id[4].seconds_since_connection_change:.1f} s (keepalive noticed it)")
    os.kill(net.agents[4].pid, signal.SIGCONT)
    moved, _ = await net.moves_on(3, reply.iteration)
    print(f"node 3 moved on {moved:.2f} s after node 4 continued", flush=True)
    await net.finish(timeout=240)
    net.report()


async def guarded(run, net):
    """Runs a scenario; whatever happens, no agent outlives it."""
    try:
        await run(net)
    finally:
        for a in net.agents.values():
            if a.returncode is None:
                try:
                    a.send_signal(signal.SIGCONT)
                    a.kill()
                except ProcessLookupError:
                    pass
                await a.wait()


SCENARIOS = {
    "delay": (scenario_delay, 100),
    "partition": (functools.partial(partition, seconds=5), 1500),
    "resets": (scenario_resets, 1500),
    # The same with rho varied by the nodes from a poor 0.001 (README "Choosing rho"): every change
    # agreed at the same step although streams break and messages are sent again.
    "resets-balance": (functools.partial(scenario_resets, varying=True), 1500,
                       ["--rho=0.001", "--vary_rho_every=auto", "--vary_rho_rule=balance"]),
    # Per-edge penalties (--vary_rho_rule=edge): both ends of an edge change its penalty at the same
    # step from the same estimates, however the streams break.
    "resets-edge": (functools.partial(scenario_resets, varying="edge"), 1500,
                    ["--rho=0.001", "--vary_rho_every=auto", "--vary_rho_rule=edge"]),
    "sigstop": (functools.partial(stop, seconds=15), 1500),
    "partition30": (functools.partial(partition, seconds=30), 1500),
    "sigstop90": (functools.partial(stop, seconds=90), 1500),
}
DEFAULT = ["delay", "partition", "resets", "resets-balance", "resets-edge", "sigstop"]


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, work = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or DEFAULT
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"link_faults_test.py: unknown scenario(s) {', '.join(unknown)} (known: {', '.join(SCENARIOS)})",
              file=sys.stderr)
        return 2
    os.makedirs(work, exist_ok=True)
    subprocess.run(["protoc", f"-I{os.path.join(ROOT, 'proto')}", f"--python_out={work}",
                    os.path.join(ROOT, "proto", "dadmm.proto")], check=True)
    sys.path.insert(0, work)
    for name in names:
        run, iterations, *flags = SCENARIOS[name]
        print(f"=== {name}", flush=True)
        net = Network(build, os.path.join(work, name), iterations, flags=flags[0] if flags else ())
        asyncio.run(guarded(run, net))
    return 0


if __name__ == "__main__":
    sys.exit(main())
