#!/usr/bin/env python3
"""Validates a dadmm compose file against the network's topology, without a Docker engine.

  deploy/docker/check-compose.py [docker-compose.yml]

Checks, for a file written by make-compose.py or by hand:
  - the file is a compose file (known top-level keys; docker-compose's own schema check too, when
    docker-compose is installed);
  - one service node-<id> per node of the topology the services mount, each with an image (or a
    build), on a declared bridge network shared by all of them, and nothing else but the monitor;
  - every bind-mount source exists; named volumes are declared;
  - each agent mounts the topology, its own config and its own data only (no other node's file),
    read-only; its config names its node, the mounted topology and data, a listen port equal to the
    port of its address, and an output inside a writable volume;
  - every node's address is its service name (how containers find each other) and its config's port;
  - the monitor runs dadmm-ctl watch on the mounted topology, on the same network;
  - a prometheus service, if any, scrapes exactly every agent's metrics_address (its mounted config;
    promtool check config too, when promtool is installed); a grafana service, if any, mounts a
    dashboard that parses and a datasource that is the prometheus service.
Exit 0 and a summary line, or exit 1 and one line per problem.
"""
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys

import yaml

TOP_LEVEL = {"version", "name", "services", "networks", "volumes", "configs", "secrets"}
problems = []


def problem(message):
    problems.append(message)


def load_yaml(path, what):
    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except OSError as e:
        problem(f"{path}: cannot open {what} ({e.strerror})")
    except yaml.YAMLError as e:
        problem(f"{path}: {what} is not valid YAML ({str(e).splitlines()[0]})")
    return None


def parse_volume(entry):
    """(source, target, read_only) of a short-form volume, or of the long form's mapping."""
    if isinstance(entry, dict):
        return entry.get("source"), entry.get("target"), bool(entry.get("read_only"))
    parts = str(entry).split(":")
    if len(parts) == 1:
        return None, parts[0], False
    return parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")


def is_bind(source):
    return source is not None and (source.startswith(".") or source.startswith("/") or source.startswith("~"))


def command_words(service):
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else [str(w) for w in command]


def main():
    compose_path = sys.argv[1] if len(sys.argv) > 1 else "docker-compose.yml"
    compose = load_yaml(compose_path, "compose file")
    if compose is None:
        return report(compose_path)
    base = os.path.dirname(os.path.abspath(compose_path))
    if not isinstance(compose, dict) or not isinstance(compose.get("services"), dict):
        problem(f"{compose_path}: no services")
        return report(compose_path)
    for key in compose:
        if key not in TOP_LEVEL and not str(key).startswith("x-"):
            problem(f"{compose_path}: unknown top-level key '{key}'")
    networks = compose.get("networks") or {}
    named_volumes = compose.get("volumes") or {}
    services = compose["services"]

    # The topology: what the agents mount as topology.yaml.
    topology_sources = set()
    for name, service in services.items():
        for entry in service.get("volumes", []) or []:
            source, target, _ = parse_volume(entry)
            if target and target.endswith("topology.yaml") and is_bind(source):
                topology_sources.add(os.path.normpath(os.path.join(base, source)))
    if len(topology_sources) != 1:
        problem(f"{compose_path}: the services should mount one topology file, found {sorted(topology_sources) or 'none'}")
        return report(compose_path)
    topology_path = topology_sources.pop()
    topology = load_yaml(topology_path, "topology")
    if not isinstance(topology, dict) or not isinstance(topology.get("nodes"), list):
        problem(f"{topology_path}: no list of nodes")
        return report(compose_path)
    nodes = {n["id"]: n for n in topology["nodes"] if isinstance(n, dict) and "id" in n}
    for edge in topology.get("edges", []) or []:
        if not (isinstance(edge, list) and len(edge) == 2 and all(e in nodes for e in edge)):
            problem(f"{topology_path}: edge {edge} names a node that is not in the topology")

    expected = {f"node-{i}" for i in nodes}
    agents = {n for n in services if n.startswith("node-")}
    for missing in sorted(expected - agents):
        problem(f"{compose_path}: no service {missing} for node {missing[5:]} of {topology_path}")
    for extra in sorted(agents - expected):
        problem(f"{compose_path}: service {extra} has no node in {topology_path}")
    for other in sorted(set(services) - agents - {"monitor", "prometheus", "grafana"}):
        problem(f"{compose_path}: service {other} is neither an agent (node-<id>), the monitor, prometheus nor grafana")

    all_data = {}  # data file -> service
    service_networks = {}
    service_mounts = {}
    agent_configs = {}
    for name, service in services.items():
        where = f"{compose_path}: service {name}"
        if "image" not in service and "build" not in service:
            problem(f"{where}: no image and no build")
        nets = service.get("networks", [])
        nets = list(nets) if isinstance(nets, (list, dict)) else []
        if not nets:
            problem(f"{where}: on no network (the agents need one shared bridge network)")
        for net in nets:
            if net not in networks:
                problem(f"{where}: network '{net}' is not declared")
            elif (networks[net] or {}).get("driver", "bridge") != "bridge":
                problem(f"{where}: network '{net}' is not a bridge network")
        service_networks[name] = set(nets)
        mounts = {}
        for entry in service.get("volumes", []) or []:
            source, target, ro = parse_volume(entry)
            if is_bind(source):
                host = os.path.normpath(os.path.join(base, source))
                if not os.path.exists(host):
                    problem(f"{where}: volume source {source} does not exist")
                mounts[target] = (host, ro)
            elif source is not None:
                if source not in named_volumes:
                    problem(f"{where}: named volume '{source}' is not declared under volumes")
                mounts[target] = (None, ro)
        service_mounts[name] = mounts
        if name not in agents:
            continue

        node_id = int(name[5:]) if name[5:].isdigit() else None
        node = nodes.get(node_id)
        words = command_words(service)
        configs = [w.split("=", 1)[1] for w in words if w.startswith("--config=")]
        if not words or words[0] != "dadmm-agent" or len(configs) != 1:
            problem(f"{where}: command should be dadmm-agent --config=FILE, is {words}")
            continue
        config_target = configs[0]
        if config_target not in mounts or mounts[config_target][0] is None:
            problem(f"{where}: its config {config_target} is not a mounted file")
            continue
        for target, (host, ro) in mounts.items():
            if host is not None and not ro:
                problem(f"{where}: {target} is mounted writable (config, topology and data should be read-only)")
        config = load_yaml(mounts[config_target][0], "config") or {}
        agent_configs[name] = config
        config_dir = posixpath.dirname(config_target)

        def inside(path):
            return path if path.startswith("/") else posixpath.normpath(posixpath.join(config_dir, path))

        if config.get("node_id") != node_id:
            problem(f"{where}: its config has node_id {config.get('node_id')}, not {node_id}")
        if inside(str(config.get("topology", ""))) not in mounts:
            problem(f"{where}: its config's topology {config.get('topology')} is not mounted")
        elif mounts[inside(str(config["topology"]))][0] != topology_path:
            problem(f"{where}: mounts a different topology file from the other services")
        data = config.get("data")
        if data is not None:
            target = inside(str(data))
            if target not in mounts or mounts[target][0] is None:
                problem(f"{where}: its data {data} is not a mounted file")
            else:
                host = mounts[target][0]
                if os.path.basename(host) != f"node-{node_id}.csv":
                    problem(f"{where}: mounts {host} as its data, not a node-{node_id}.csv")
                if host in all_data:
                    problem(f"{where}: mounts the same data file as {all_data[host]}")
                all_data[host] = name
        for target, (host, _) in mounts.items():
            m = re.fullmatch(r"node-(\d+)\.(csv|yaml|json)", os.path.basename(host or ""))
            if m and int(m.group(1)) != node_id:
                problem(f"{where}: mounts {host}, which belongs to node {m.group(1)}")
        output = config.get("output")
        if output is None:
            problem(f"{where}: its config has no output")
        else:
            out_dir = posixpath.dirname(inside(str(output)))
            if not any(host is None and (out_dir == t or out_dir.startswith(t + "/")) for t, (host, _) in mounts.items()):
                problem(f"{where}: its output {output} is not in a mounted named volume (it would be lost)")
        listen = str(config.get("listen", ""))
        if node is not None:
            address = str(node.get("address", ""))
            host, _, port = address.rpartition(":")
            if host != name:
                problem(f"{topology_path}: node {node_id}'s address {address} should be {name}:PORT (its service)")
            if listen.rpartition(":")[2] != port:
                problem(f"{where}: listens on '{listen}', but its address {address} has port {port}")
            if listen.rpartition(":")[0] not in ("0.0.0.0", "[::]", name):
                problem(f"{where}: listens on '{listen}'; 0.0.0.0:{port} reaches it from the other containers and the healthcheck")

    shared = set.intersection(*service_networks.values()) if service_networks else set()
    if services and not shared:
        problem(f"{compose_path}: no network shared by every service")
    monitor = services.get("monitor")
    if monitor is None:
        problem(f"{compose_path}: no monitor service (dadmm-ctl watch)")
    else:
        words = command_words(monitor)
        if words[:2] != ["dadmm-ctl", "watch"] or len(words) < 3:
            problem(f"{compose_path}: the monitor should run dadmm-ctl watch TOPOLOGY, runs {words}")
        else:
            mounted = {parse_volume(v)[1]: parse_volume(v)[0] for v in monitor.get("volumes", []) or []}
            if words[2] not in mounted:
                problem(f"{compose_path}: the monitor watches {words[2]}, which it does not mount")

    if "prometheus" in services:
        check_prometheus(compose_path, service_mounts["prometheus"], agent_configs)
    if "grafana" in services:
        check_grafana(compose_path, service_mounts["grafana"], services)

    if shutil.which("docker-compose"):
        result = subprocess.run(["docker-compose", "-f", compose_path, "config", "-q"], capture_output=True, text=True)
        if result.returncode != 0:
            first = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
            problem(f"{compose_path}: docker-compose config: {first}")
    return report(compose_path, len(agents), len(topology.get("edges", []) or []))


def check_prometheus(compose_path, mounts, agent_configs):
    where = f"{compose_path}: service prometheus"
    config_path = (mounts.get("/etc/prometheus/prometheus.yml") or (None, False))[0]
    if config_path is None:
        problem(f"{where}: mounts no /etc/prometheus/prometheus.yml")
        return
    config = load_yaml(config_path, "Prometheus config") or {}
    targets = set()
    for job in config.get("scrape_configs", []) or []:
        for static in job.get("static_configs", []) or []:
            targets.update(static.get("targets", []) or [])
    wanted = set()
    for name, agent in sorted(agent_configs.items()):
        address = str(agent.get("metrics_address", ""))
        if not address:
            problem(f"{where}: scrapes the agents, but {name} serves no metrics (no metrics_address in its config)")
            continue
        wanted.add(f"{name}:{address.rpartition(':')[2]}")
    for missing in sorted(wanted - targets):
        problem(f"{config_path}: does not scrape {missing}")
    for extra in sorted(targets - wanted):
        problem(f"{config_path}: scrapes {extra}, which is no agent's metrics address")
    if shutil.which("promtool"):
        result = subprocess.run(["promtool", "check", "config", config_path], capture_output=True, text=True)
        if result.returncode != 0:
            first = ((result.stderr or result.stdout).strip().splitlines() or ["(no message)"])[-1]
            problem(f"{config_path}: promtool check config: {first}")


def check_grafana(compose_path, mounts, services):
    where = f"{compose_path}: service grafana"
    dashboards = [host for target, (host, _) in mounts.items() if host and target.endswith(".json")]
    if not dashboards:
        problem(f"{where}: mounts no dashboard (.json)")
    for path in dashboards:
        try:
            with open(path) as f:
                dashboard = json.load(f)
            if not dashboard.get("panels"):
                problem(f"{path}: a dashboard without panels")
        except (OSError, ValueError) as e:
            problem(f"{path}: not a dashboard ({e})")
    sources = [host for target, (host, _) in mounts.items()
               if host and target.startswith("/etc/grafana/provisioning/datasources/")]
    urls = [d.get("url", "") for path in sources for d in (load_yaml(path, "datasources") or {}).get("datasources", [])]
    if not any(u.startswith("http://prometheus:") for u in urls) or "prometheus" not in services:
        problem(f"{where}: no datasource http://prometheus:PORT (the prometheus service), found {urls}")


def report(compose_path, agents=0, edges=0):
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    schema = "docker-compose's schema and " if shutil.which("docker-compose") else ""
    print(f"{compose_path}: OK ({schema}{agents} agents, {edges} links, each with only its own data, and a monitor)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
