#!/usr/bin/env python3
"""Writes a docker-compose file that runs a network of dadmm agents, one service per node of a topology.

  deploy/docker/make-compose.py --topology deploy/examples/fig1/topology.yaml \\
      --data-dir deploy/examples/fig1/data/consensus --out-dir deploy/compose/fig1 --compose docker-compose.yml

Writes into OUT_DIR the network's topology with every node addressed by its service name
(node-<id>:PORT) and one agent config per node (node-<id>.yaml); then the compose file: a service
per node on one bridge network, each mounting the topology, its own config and its own data file
only, read-only, and a named volume for its result; and a monitor service running dadmm-ctl watch.
With --metrics PORT every agent serves Prometheus metrics on PORT in its container and a prometheus
service scrapes them (OUT_DIR/prometheus.yml); with --grafana, a grafana service shows them with
deploy/grafana/dadmm-network.json provisioned (http://127.0.0.1:3000, anonymous viewers).
DATA_DIR holds node-<id>.csv and problem.flags, as dadmm-split and dadmm-sim --write_data write them.
deploy/docker/check-compose.py validates the result against the topology.
"""
import argparse
import os
import re
import subprocess
import sys

import yaml

CONTAINER_CONFIG_DIR = "/etc/dadmm"
CONTAINER_DATA = "/var/lib/dadmm/data.csv"
CONTAINER_RESULTS = "/var/lib/dadmm/results"
CONTAINER_TLS = "/etc/dadmm/tls"  # ca.pem, and the node's own cert.pem and key.pem
CONTAINER_UID = 10001  # the Dockerfile's user dadmm
CONTAINER_STATE = "/var/lib/dadmm/state"  # the checkpoint (--state_dir), on its own named volume
# The monitoring services' images (Prometheus as in Debian 12; Grafana's open-source image).
PROMETHEUS_IMAGE = "prom/prometheus:v2.42.0"
GRAFANA_IMAGE = "grafana/grafana-oss:9.5.3"
REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def fail(message):
    print(f"make-compose.py: {message}", file=sys.stderr)
    sys.exit(2)


def load_topology(path):
    try:
        with open(path) as f:
            topology = yaml.safe_load(f)
    except OSError as e:
        fail(f"{path}: cannot open topology file ({e.strerror})")
    except yaml.YAMLError as e:
        fail(f"{path}: not valid YAML ({str(e).splitlines()[0]})")
    if not isinstance(topology, dict) or not isinstance(topology.get("nodes"), list) or not topology["nodes"]:
        fail(f"{path}: expected a mapping with a list of nodes")
    ids = []
    for i, node in enumerate(topology["nodes"]):
        if not isinstance(node, dict) or not isinstance(node.get("id"), int) or node["id"] < 0:
            fail(f"{path}: node {i + 1}: expected an id (a non-negative integer)")
        ids.append(node["id"])
    if len(set(ids)) != len(ids):
        fail(f"{path}: node ids repeat")
    return topology


def read_problem_flags(path):
    try:
        with open(path) as f:
            words = f.read().split()
    except OSError as e:
        fail(f"{path}: cannot open ({e.strerror}); dadmm-split or dadmm-sim --write_data writes it")
    settings = {}
    for word in words:
        m = re.fullmatch(r"--([a-z_]+)=(\S+)", word)
        if not m:
            fail(f"{path}: '{word}' is not --name=value")
        settings[m.group(1)] = m.group(2)
    if "problem" not in settings:
        fail(f"{path}: no --problem")
    return settings


def yaml_value(text):
    """A flag's value as YAML: numbers as numbers, the rest as strings."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topology", required=True, help="the network's topology file")
    parser.add_argument("--data-dir", required=True, help="node-<id>.csv and problem.flags")
    parser.add_argument("--out-dir", required=True, help="where the compose topology and node configs go")
    parser.add_argument("--compose", required=True, help="the compose file to write")
    parser.add_argument("--image", default="dadmm:latest", help="the agents' image (built from the Dockerfile)")
    parser.add_argument("--port", type=int, default=50051, help="every agent's port inside its container")
    parser.add_argument("--network", default="dadmm", help="the bridge network's name")
    parser.add_argument("--algorithm", default="d-admm")
    parser.add_argument("--rho", type=float, default=1.0)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--tolerance", type=float, default=1e-6)
    parser.add_argument("--insecure", action="store_true",
                        help="agents without TLS (default: mutual TLS with certificates made by deploy/make-certs.sh "
                             "into OUT_DIR/tls, each node mounting its own key only)")
    parser.add_argument("--ctl-bin", default=None, help="dadmm-ctl for deploy/make-certs.sh (default: build/ or PATH)")
    parser.add_argument("--hold-seconds", type=float, default=10.0,
                        help="each agent answers Status this long after finishing (for the monitor)")
    parser.add_argument("--metrics", type=int, default=None, metavar="PORT",
                        help="agents serve Prometheus metrics on PORT; adds a prometheus service")
    parser.add_argument("--grafana", action="store_true", help="adds Grafana with the dadmm dashboard (needs --metrics)")
    args = parser.parse_args()
    if args.metrics is not None and not (1 <= args.metrics <= 65535 and args.metrics != args.port):
        fail(f"--metrics must be a port in 1..65535 other than --port, got {args.metrics}")
    if args.grafana and args.metrics is None:
        fail("--grafana needs --metrics PORT (Grafana shows what Prometheus scrapes)")
    if not 1 <= args.port <= 65535:
        fail(f"--port must be in 1..65535, got {args.port}")
    if not args.rho > 0:
        fail(f"--rho must be > 0, got {args.rho}")

    topology = load_topology(args.topology)
    problem = read_problem_flags(os.path.join(args.data_dir, "problem.flags"))
    compose_dir = os.path.dirname(os.path.abspath(args.compose))
    os.makedirs(args.out_dir, exist_ok=True)

    def from_compose(path):  # compose resolves relative host paths from the compose file's folder
        rel = os.path.relpath(os.path.abspath(path), compose_dir)
        return rel if rel.startswith("..") or rel == "." else "./" + rel

    nodes = [dict(node) for node in topology["nodes"]]
    for node in nodes:
        node["address"] = f"node-{node['id']}:{args.port}"
    compose_topology = {"name": topology.get("name", "network"), "nodes": nodes, "edges": topology.get("edges", [])}
    topology_path = os.path.join(args.out_dir, "topology.yaml")
    with open(topology_path, "w") as f:
        f.write(f"# {args.topology} with each node addressed by its compose service (written by make-compose.py)\n")
        yaml.safe_dump(compose_topology, f, sort_keys=False, default_flow_style=None)

    tls_dir = os.path.join(args.out_dir, "tls")
    if not args.insecure:
        make_certs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "make-certs.sh")
        command = [make_certs, topology_path, tls_dir] + (["--ctl-bin", args.ctl_bin] if args.ctl_bin else [])
        made = subprocess.run(command, capture_output=True, text=True)
        if made.returncode != 0:
            fail(f"making certificates failed: {made.stderr.strip()}")
        # The agents run as the image's user dadmm (uid 10001): their keys must be theirs to read.
        for node in nodes + [{"id": "ctl"}]:
            key = os.path.join(tls_dir, "ctl" if node["id"] == "ctl" else f"node-{node['id']}", "key.pem")
            try:
                os.chown(key, CONTAINER_UID, CONTAINER_UID)
            except PermissionError:
                print(f"make-compose.py: warning: cannot give {key} to uid {CONTAINER_UID} (not root); "
                      f"the container's agent may not read it", file=sys.stderr)
    tls_config = {} if args.insecure else {"tls_ca": f"{CONTAINER_TLS}/ca.pem", "tls_cert": f"{CONTAINER_TLS}/cert.pem",
                                           "tls_key": f"{CONTAINER_TLS}/key.pem"}
    ctl_tls = "" if args.insecure else (f"--tls_ca={CONTAINER_TLS}/ca.pem --tls_cert={CONTAINER_TLS}/cert.pem "
                                        f"--tls_key={CONTAINER_TLS}/key.pem")

    def tls_mounts(who):
        if args.insecure:
            return []
        own = os.path.join(tls_dir, who)
        return [f"{from_compose(os.path.join(tls_dir, 'ca.pem'))}:{CONTAINER_TLS}/ca.pem:ro",
                f"{from_compose(os.path.join(own, 'cert.pem'))}:{CONTAINER_TLS}/cert.pem:ro",
                f"{from_compose(os.path.join(own, 'key.pem'))}:{CONTAINER_TLS}/key.pem:ro"]

    services = {}
    for node in nodes:
        nid = node["id"]
        data = os.path.join(args.data_dir, f"node-{nid}.csv")
        if not os.path.isfile(data):
            fail(f"{data}: missing (node {nid}'s data)")
        config = {"node_id": nid, "topology": "topology.yaml", "listen": f"0.0.0.0:{args.port}"}
        config.update({k: yaml_value(v) for k, v in problem.items()})
        config.update({"data": CONTAINER_DATA, "algorithm": args.algorithm, "rho": args.rho,
                       "iterations": args.iterations, "tolerance": args.tolerance,
                       "output": f"{CONTAINER_RESULTS}/node-{nid}.json",
                       # a crashed agent restarted by compose resumes from its checkpoint
                       "state_dir": CONTAINER_STATE,
                       # a run can be shorter than the monitor's and the health check's polling
                       "hold_seconds": args.hold_seconds})
        config.update(tls_config if tls_config else {"insecure": True})
        if args.metrics is not None:
            config["metrics_address"] = f"0.0.0.0:{args.metrics}"
        config_path = os.path.join(args.out_dir, f"node-{nid}.yaml")
        with open(config_path, "w") as f:
            f.write(f"# Agent {nid} in its container (written by make-compose.py)\n")
            yaml.safe_dump(config, f, sort_keys=False)
        services[f"node-{nid}"] = {
            "image": args.image,
            "hostname": f"node-{nid}",
            "command": ["dadmm-agent", f"--config={CONTAINER_CONFIG_DIR}/node.yaml"],
            "volumes": [
                f"{from_compose(topology_path)}:{CONTAINER_CONFIG_DIR}/topology.yaml:ro",
                f"{from_compose(config_path)}:{CONTAINER_CONFIG_DIR}/node.yaml:ro",
                f"{from_compose(data)}:{CONTAINER_DATA}:ro",
                f"node-{nid}-results:{CONTAINER_RESULTS}",
                f"node-{nid}-state:{CONTAINER_STATE}",
            ] + tls_mounts(f"node-{nid}"),
            # The image's health check (dadmm-ctl status) presents the node's own certificate.
            "environment": {"DADMM_CTL_TLS": ctl_tls},
            # A crash (exit 1, a signal) is restarted and resumes from the checkpoint on the state
            # volume; a finished run (exit 0) stays stopped.
            "restart": "on-failure",
            "networks": [args.network],
            "stop_signal": "SIGTERM",
        }
    services["monitor"] = {
        "image": args.image,
        "command": ["dadmm-ctl", "watch", f"{CONTAINER_CONFIG_DIR}/topology.yaml", "--plain"] + ctl_tls.split(),
        "volumes": [f"{from_compose(topology_path)}:{CONTAINER_CONFIG_DIR}/topology.yaml:ro"] + tls_mounts("ctl"),
        "networks": [args.network],
        "depends_on": [f"node-{node['id']}" for node in nodes],
        "healthcheck": {"disable": True},
    }
    volumes = {**{f"node-{node['id']}-results": {} for node in nodes},
               **{f"node-{node['id']}-state": {} for node in nodes}}
    if args.metrics is not None:
        prometheus_config = os.path.join(args.out_dir, "prometheus.yml")
        with open(prometheus_config, "w") as f:
            f.write("# Scrapes every agent of the compose network (written by make-compose.py)\n")
            yaml.safe_dump({"global": {"scrape_interval": "5s"},
                            "scrape_configs": [{"job_name": "dadmm", "static_configs": [
                                {"targets": [f"node-{node['id']}:{args.metrics}" for node in nodes]}]}]},
                           f, sort_keys=False)
        services["prometheus"] = {
            "image": PROMETHEUS_IMAGE,
            "command": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"],
            "volumes": [f"{from_compose(prometheus_config)}:/etc/prometheus/prometheus.yml:ro", "prometheus-data:/prometheus"],
            "ports": ["127.0.0.1:9090:9090"],
            "networks": [args.network],
        }
        volumes["prometheus-data"] = {}
    if args.grafana:
        grafana_dir = os.path.join(args.out_dir, "grafana")
        os.makedirs(grafana_dir, exist_ok=True)
        with open(os.path.join(grafana_dir, "datasources.yml"), "w") as f:
            yaml.safe_dump({"apiVersion": 1, "datasources": [
                {"name": "Prometheus", "type": "prometheus", "access": "proxy", "url": "http://prometheus:9090",
                 "isDefault": True}]}, f, sort_keys=False)
        with open(os.path.join(grafana_dir, "dashboards.yml"), "w") as f:
            yaml.safe_dump({"apiVersion": 1, "providers": [
                {"name": "dadmm", "type": "file", "options": {"path": "/var/lib/grafana/dashboards"}}]}, f, sort_keys=False)
        services["grafana"] = {
            "image": GRAFANA_IMAGE,
            "environment": {"GF_AUTH_ANONYMOUS_ENABLED": "true", "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer"},
            "volumes": [
                f"{from_compose(os.path.join(grafana_dir, 'datasources.yml'))}:/etc/grafana/provisioning/datasources/dadmm.yml:ro",
                f"{from_compose(os.path.join(grafana_dir, 'dashboards.yml'))}:/etc/grafana/provisioning/dashboards/dadmm.yml:ro",
                f"{from_compose(os.path.join(REPO, 'deploy/grafana/dadmm-network.json'))}:/var/lib/grafana/dashboards/dadmm-network.json:ro",
            ],
            "ports": ["127.0.0.1:3000:3000"],
            "networks": [args.network],
            "depends_on": ["prometheus"],
        }
    # The first service builds the image; the others use it.
    first = services[f"node-{nodes[0]['id']}"]
    services[f"node-{nodes[0]['id']}"] = {"build": {"context": from_compose(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")),
                                                    "dockerfile": "Dockerfile"}, **first}
    compose = {
        "services": services,
        "networks": {args.network: {"driver": "bridge"}},
        "volumes": volumes,
    }
    with open(args.compose, "w") as f:
        f.write(f"# {len(nodes)} dadmm agents of {args.topology} ({problem['problem']}, {args.algorithm}), and a monitor.\n"
                f"# Written by deploy/docker/make-compose.py; checked by deploy/docker/check-compose.py. Run: docker compose up\n"
                + ("" if args.insecure else
                   f"# Mutual TLS: the certificates are in {tls_dir} (not in git; remake them, or renew them in place,\n"
                   f"# with deploy/make-certs.sh {topology_path} {tls_dir}); each node mounts its own key only.\n"))
        yaml.safe_dump(compose, f, sort_keys=False, default_flow_style=False)
    extras = "".join(f", {name}" for name in ("prometheus", "grafana") if name in services)
    print(f"wrote {args.compose}: {len(nodes)} agents and a monitor{extras} on network '{args.network}'; "
          f"configs and topology in {args.out_dir}")


if __name__ == "__main__":
    main()
