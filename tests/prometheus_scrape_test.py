#!/usr/bin/python3
"""A real Prometheus server (Debian's prometheus package) scrapes the seven agents of Figure 1 while
they run and for a few seconds after (--hold_seconds), and what it stored, read back through its HTTP
query API, must equal what every agent wrote in its result file: the messages, bytes, bootstrap
messages, rejections and energy per node, the iterations, and the final state. And every query of the
Grafana dashboard (deploy/grafana/dadmm-network.json) must be valid PromQL that finds series.

usage: prometheus_scrape_test.py ROOT BUILD_DIR WORK_DIR
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def free_ports(count):
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def free_run(nodes):
    """A base port b with b+1 .. b+nodes free on 127.0.0.1."""
    for base in range(39000, 60000, 100):
        socks = []
        try:
            for i in range(1, nodes + 1):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise SystemExit("no run of free ports for the metrics")


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print("ok:", what)


def query_raw(web, expression, at=None):
    params = {"query": expression}
    if at is not None:
        params["time"] = f"{at:.3f}"
    try:
        with urllib.request.urlopen(f"http://{web}/api/v1/query?" + urllib.parse.urlencode(params), timeout=10) as r:
            answer = json.load(r)
    except urllib.error.HTTPError as e:
        raise AssertionError(f"{expression}: {e.code} {e.read().decode(errors='replace')}")
    if answer.get("status") != "success":
        raise AssertionError(f"{expression}: {answer}")
    return answer["data"]["result"]


def query(web, expression):
    return {int(s["metric"]["node"]): float(s["value"][1]) for s in query_raw(web, expression)}


def main():
    root, build, work = sys.argv[1:4]
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        print("prometheus is not installed (deploy/install-deps.sh installs it)", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    nodes = 7
    base = free_run(nodes)
    (web_port,) = free_ports(1)
    web = f"127.0.0.1:{web_port}"
    config = os.path.join(work, "prometheus.yml")
    with open(config, "w") as f:
        targets = ", ".join(f'"127.0.0.1:{base + i}"' for i in range(1, nodes + 1))
        f.write("global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\n"
                f"scrape_configs:\n  - job_name: dadmm\n    static_configs:\n      - targets: [{targets}]\n")
    server = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={work}/tsdb",
                               f"--web.listen-address={web}"],
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "prometheus.log"), "w"))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://{web}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print(open(os.path.join(work, "prometheus.log")).read()[-3000:], file=sys.stderr)
                raise AssertionError("Prometheus did not become ready")
            time.sleep(0.2)
        # Prometheus hands its targets to the scrapers a few seconds after it is ready (its discovery
        # updates are batched): start the agents only once every target has been tried, so that the run
        # is scraped from its beginning and not only its last seconds.
        while True:
            with urllib.request.urlopen(f"http://{web}/api/v1/targets", timeout=10) as r:
                active = json.load(r)["data"]["activeTargets"]
            tried = [t for t in active if not t.get("lastScrape", "").startswith("0001-")]
            if len(tried) == nodes:
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"Prometheus tried {len(tried)} of its {nodes} targets within 60 s")
            time.sleep(0.2)
        print(f"Prometheus ready on {web}, scraping 127.0.0.1:{base + 1}..{base + nodes} every 0.5 s")

        out = os.path.join(work, "run")
        run = subprocess.run([os.path.join(root, "deploy/run-local-cluster.sh"), "--build-dir", build, "--out", out,
                              "--problem", "svm-iris", "--metrics-port", str(base), "--", "--hold_seconds=4"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(run.returncode == 0 and "bit-identical to simulator: yes" in run.stdout,
              "the seven agents ran with metrics on, bit-identical to the simulator")
        results = {}
        written = []
        for i in range(1, nodes + 1):
            path = os.path.join(out, "results", f"node-{i}.json")
            with open(path) as f:
                results[i] = json.load(f)
            written.append(os.stat(path).st_mtime)
        # Each agent serves for 4 s after writing its result: a second after the last one wrote, every
        # agent still answers (they finish within a step of each other) and has its final counts.
        check(max(written) - min(written) < 2.5, "the agents finished within 2.5 s of each other")
        during_hold = max(written) + 1.0

        # The agents are gone: the series' last samples are the agents' final counts.
        def last(metric, selector=""):
            return query(web, f"sum by (node) (last_over_time({metric}{selector}[10m]))")

        up = query(web, 'sum by (node) (last_over_time(dadmm_info{job="dadmm"}[10m]))')
        check(sorted(up) == list(range(1, nodes + 1)), f"Prometheus scraped all {nodes} agents")
        done = last("dadmm_state", '{state="done"}')
        check(all(done.get(i) == 1.0 for i in results), "each agent's last scraped state is done")
        exact = [("dadmm_iteration", "iterations"),
                 ("dadmm_messages_sent_total", "messagesSent"),
                 ("dadmm_messages_received_total", "messagesReceived"),
                 ("dadmm_payload_bytes_sent_total", "payloadBytesSent"),
                 ("dadmm_payload_bytes_received_total", "payloadBytesReceived"),
                 ("dadmm_message_bytes_sent_total", "messageBytesSent"),
                 ("dadmm_message_bytes_received_total", "messageBytesReceived"),
                 ("dadmm_bootstrap_messages_sent_total", "bootstrapMessagesSent"),
                 ("dadmm_bootstrap_messages_received_total", "bootstrapMessagesReceived"),
                 ("dadmm_rejected_messages_total", "rejectedMessages"),
                 ("dadmm_local_solver_iterations_total", "computationIterations"),
                 ("dadmm_local_solves_total", "localSolves"),
                 ("dadmm_resent_messages_total", "resentMessages"),
                 ("dadmm_colour", "colour")]
        for metric, field in exact:
            scraped = last(metric)
            wanted = {i: float(r.get(field, 0)) for i, r in results.items()}
            check(scraped == wanted, f"{metric} per node = the results' {field}: {[int(wanted[i]) for i in sorted(wanted)]}")
        # Energy in joules: the per-link values summed by Prometheus in its own order; the result's total
        # is the same terms summed in node order, so they agree to rounding (a few ulps), not bit for bit.
        for metric, field in [("dadmm_energy_sent_joules_total", "sent"),
                              ("dadmm_energy_received_joules_total", "received"),
                              ("dadmm_bootstrap_energy_joules_total", "bootstrap")]:
            scraped = last(metric)
            wanted = {i: r["energy"][field] for i, r in results.items()}
            check(all(abs(scraped[i] - wanted[i]) <= 1e-12 * abs(wanted[i]) for i in wanted),
                  f"{metric} per node = the results' energy.{field} (to 1e-12 relative)")

        # The dashboard's queries, with its variables set, while the agents were up.
        with open(os.path.join(root, "deploy/grafana/dadmm-network.json")) as f:
            dashboard = json.load(f)
        expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        for expression in expressions:
            concrete = expression.replace("$network", "fig1").replace("$__rate_interval", "5s")
            found = query_raw(web, concrete, at=during_hold)
            check(len(found) > 0, f"dashboard query finds series: {concrete}")
        check(len(expressions) >= 10, f"the dashboard has {len(expressions)} queries")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
