#!/usr/bin/env python3
"""Checks the Dockerfile and docker-compose.yml without a Docker engine, by doing what the engine does.

  deploy/docker/check-dockerfile.py [--work DIR] [--compose docker-compose.yml] [--fresh]

Build: every stage starts from a clean Debian 12 root made by debootstrap (minbase, what
debian:bookworm-slim is made of), cached in WORK/base; each instruction is performed in order:
RUN in a chroot (as the stage's USER, in its WORKDIR, with its ARG and ENV), COPY from the build
context (minus .dockerignore) or --from an earlier stage, WORKDIR, USER, ENV, ARG.

Run: the compose file's services on the final stage's root, each as a container would be: its own
network namespace on one bridge (service names resolve through its /etc/hosts), its own mount
namespace with exactly its volumes bound in (named volumes as directories), its command as the
image's USER in the image's WORKDIR. While the agents run, the image's HEALTHCHECK command is run in
each agent's container and must pass; then every service must exit 0 and each agent's result must be
in its volume. Needs root, debootstrap, iproute2, and the Debian mirror. Takes 5-15 minutes.
"""
import argparse
import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIRROR = "http://deb.debian.org/debian"


def log(message):
    print(f"[check-dockerfile] {message}", flush=True)


def fail(message):
    print(f"check-dockerfile: FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, **kwargs)


# ---------------------------------------------------------------- parsing

def parse_dockerfile(path):
    """[(instruction, flags, argument text, line number)]: continuations joined, comments dropped."""
    instructions, pending, start = [], "", 0
    with open(path) as f:
        for number, line in enumerate(f, 1):
            stripped = line.strip()
            if not pending and (not stripped or stripped.startswith("#")):
                continue
            if pending and stripped.startswith("#"):
                continue
            if not pending:
                start = number
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            text = pending + stripped
            pending = ""
            word, _, rest = text.partition(" ")
            flags = {}
            rest = rest.strip()
            while rest.startswith("--"):
                flag, _, rest = rest.partition(" ")
                name, _, value = flag[2:].partition("=")
                flags[name] = value
                rest = rest.strip()
            instructions.append((word.upper(), flags, rest, start))
    if pending:
        fail(f"{path}: ends inside a continued line")
    return instructions


def words(argument):
    """A JSON-array (exec form) or shell-form argument, as a list of words."""
    if argument.startswith("["):
        return json.loads(argument)
    return shlex.split(argument)


def ignored(relpath, patterns):
    parts = relpath.split("/")
    for pattern in patterns:
        p = pattern.rstrip("/")
        if pattern.startswith("**/"):
            if fnmatch.fnmatch(parts[-1], p[3:]):
                return True
        elif fnmatch.fnmatch(relpath, p) or any(fnmatch.fnmatch("/".join(parts[:i]), p) for i in range(1, len(parts))):
            return True
    return False


# ---------------------------------------------------------------- build

class Stage:
    def __init__(self, name, root):
        self.name, self.root = name, root
        self.env, self.args = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, {}
        self.workdir, self.user = "/", "root"
        self.healthcheck, self.cmd, self.expose = None, None, []

    def path(self, inside):
        return os.path.join(self.root, inside.lstrip("/"))


def base_root(work, fresh):
    base = os.path.join(work, "base")
    if fresh and os.path.isdir(base):
        shutil.rmtree(base)
    if not os.path.isdir(base):
        log(f"debootstrap --variant=minbase bookworm {base} (once; cached)")
        tmp = base + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        run(["debootstrap", "--variant=minbase", "bookworm", tmp, MIRROR], stdout=subprocess.DEVNULL)
        os.rename(tmp, base)
    return base


class Mounts:
    """/proc, /dev and /sys in a chroot for the duration of the build, unmounted on exit."""

    def __init__(self):
        self.mounted = []

    def add(self, root):
        for what, options in (("proc", ["-t", "proc", "proc"]), ("dev", ["--bind", "/dev"]),
                              ("sys", ["--bind", "/sys"])):
            target = os.path.join(root, what)
            os.makedirs(target, exist_ok=True)
            run(["mount", *options, target])
            self.mounted.append(target)
        shutil.copy("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))

    def close(self):
        for target in reversed(self.mounted):
            subprocess.run(["umount", "-l", target], check=False)
        self.mounted = []


def chroot_command(stage, command_words, user=None):
    env = {**stage.args, **stage.env}
    user = user or stage.user
    prefix = ["chroot"]
    if user != "root":
        prefix.append(f"--userspec={user}:{user}")
    script = f"cd {shlex.quote(stage.workdir)} && exec " + " ".join(shlex.quote(w) for w in command_words)
    return ["env", "-i", *[f"{k}={v}" for k, v in env.items()], *prefix, stage.root, "/bin/sh", "-c", script]


def build(dockerfile, work, fresh, mounts, perform=True):
    instructions = parse_dockerfile(dockerfile)
    context = os.path.dirname(os.path.abspath(dockerfile))
    ignore_file = os.path.join(context, ".dockerignore")
    patterns = []
    if os.path.exists(ignore_file):
        patterns = [l.strip() for l in open(ignore_file) if l.strip() and not l.startswith("#")]
    base = base_root(work, fresh)
    stages, stage = {}, None
    for word, flags, argument, line in instructions:
        where = f"{dockerfile}:{line}"
        if word == "FROM":
            image, _, name = argument.partition(" AS ")
            image = image.strip()
            if image not in ("debian:bookworm-slim", "debian:bookworm", "debian:12-slim", "debian:12"):
                fail(f"{where}: FROM {image}: only Debian 12 bases can be checked here")
            index = len(stages)
            name = name.strip() or str(index)
            root = os.path.join(work, f"stage-{index}-{name}")
            if perform:
                shutil.rmtree(root, ignore_errors=True)
                log(f"stage {name}: a clean root from {base}")
                run(["cp", "-a", base, root])
            elif not os.path.isdir(root):
                fail(f"--run-only: {root} was never built")
            mounts.add(root)
            stage = Stage(name, root)
            stages[name] = stages[str(index)] = stage
            continue
        if stage is None:
            fail(f"{where}: {word} before FROM")
        if word == "ARG":
            key, _, value = argument.partition("=")
            stage.args[key] = value
        elif word == "ENV":
            key, _, value = argument.partition("=")
            stage.env[key] = value
        elif word == "WORKDIR":
            stage.workdir = argument if argument.startswith("/") else os.path.join(stage.workdir, argument)
            os.makedirs(stage.path(stage.workdir), exist_ok=True)
        elif word == "USER":
            stage.user = argument
        elif not perform and word in ("RUN", "COPY"):
            continue
        elif word == "RUN":
            log(f"stage {stage.name}: RUN {argument[:100]}{'...' if len(argument) > 100 else ''}")
            started = time.time()
            result = subprocess.run(chroot_command(stage, ["/bin/sh", "-c", argument]), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            if result.returncode != 0:
                print(result.stdout[-4000:])
                fail(f"{where}: RUN exited {result.returncode}")
            log(f"  done in {time.time() - started:.0f} s")
        elif word == "COPY":
            sources, dest = words(argument)[:-1], words(argument)[-1]
            source_root = context if "from" not in flags else stages.get(flags["from"], None)
            if source_root is None:
                fail(f"{where}: COPY --from={flags['from']}: no such stage")
            if isinstance(source_root, Stage):
                source_root = source_root.root
            target = stage.path(dest if dest.startswith("/") else os.path.join(stage.workdir, dest))
            for source in sources:
                src = os.path.join(source_root, source.lstrip("/"))
                if not os.path.exists(src):
                    fail(f"{where}: COPY {source}: not found")
                rel = os.path.relpath(src, context)
                if "from" not in flags and ignored(rel, patterns):
                    fail(f"{where}: COPY {source}: excluded by .dockerignore")
                if os.path.isdir(src):
                    def skip(directory, names):
                        if "from" in flags:
                            return []
                        return [n for n in names if ignored(os.path.relpath(os.path.join(directory, n), context), patterns)]
                    shutil.copytree(src, target, ignore=skip, dirs_exist_ok=True, symlinks=True)
                else:
                    to = target if not (dest.endswith("/") or os.path.isdir(target)) else os.path.join(target, os.path.basename(src))
                    os.makedirs(os.path.dirname(to), exist_ok=True)
                    shutil.copy2(src, to)
            log(f"stage {stage.name}: COPY {argument}")
        elif word == "HEALTHCHECK":
            stage.healthcheck = (flags, argument)
        elif word == "CMD":
            stage.cmd = words(argument)
        elif word == "EXPOSE":
            stage.expose.extend(argument.split())
        else:
            fail(f"{where}: {word}: not an instruction this check performs")
    return stage


# ---------------------------------------------------------------- run

def check_image(image):
    if image.user == "root":
        fail("the runtime image runs as root (no USER)")
    passwd = open(image.path("/etc/passwd")).read()
    entry = [l for l in passwd.splitlines() if l.split(":")[0] == image.user]
    if not entry or entry[0].split(":")[2] == "0":
        fail(f"USER {image.user}: not a non-root user of the image")
    if image.healthcheck is None:
        fail("the runtime image has no HEALTHCHECK")
    if image.cmd is None:
        fail("the runtime image has no CMD")
    for program in ("dadmm-agent", "dadmm-ctl"):
        result = subprocess.run(chroot_command(image, [program, "--help"]), capture_output=True, text=True)
        if result.returncode not in (0, 1) or "dadmm" not in (result.stdout + result.stderr):
            fail(f"{program} --help does not run in the image: {result.stderr.strip()[:300]}")
    missing = subprocess.run(chroot_command(image, ["/bin/sh", "-c", "ldd /usr/local/bin/dadmm-agent /usr/local/bin/dadmm-ctl | grep 'not found' || true"]),
                             capture_output=True, text=True).stdout.strip()
    if missing:
        fail(f"shared libraries missing in the runtime image: {missing}")
    uid = entry[0].split(":")[2]
    log(f"runtime image: user {image.user} (uid {uid}), HEALTHCHECK, CMD {image.cmd}, programs run, no library missing")
    return int(uid)


def run_compose(image, compose_path, work, uid):
    compose = yaml.safe_load(open(compose_path))
    compose_dir = os.path.dirname(os.path.abspath(compose_path))
    services = compose["services"]
    tag = f"dck{os.getpid() % 10000}"
    net = f"10.252.{os.getpid() % 250}"
    names = list(services)
    hosts = "127.0.0.1 localhost\n" + "".join(f"{net}.{i + 2} {n}\n" for i, n in enumerate(names))
    volumes_dir = os.path.join(work, "volumes")
    shutil.rmtree(volumes_dir, ignore_errors=True)
    processes, namespaces = {}, [f"{tag}sw"]
    try:
        run(["ip", "netns", "add", f"{tag}sw"])
        run(["ip", "-n", f"{tag}sw", "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", f"{tag}sw", "link", "set", "br0", "up"])
        for i, name in enumerate(names):
            ns = f"{tag}{i}"
            namespaces.append(ns)
            run(["ip", "netns", "add", ns])
            run(["ip", "link", "add", f"v{i}", "netns", f"{tag}sw", "type", "veth", "peer", "name", "eth0", "netns", ns])
            run(["ip", "-n", f"{tag}sw", "link", "set", f"v{i}", "master", "br0", "up"])
            run(["ip", "-n", ns, "addr", "add", f"{net}.{i + 2}/24", "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        logs = os.path.join(work, "logs")
        shutil.rmtree(logs, ignore_errors=True)
        os.makedirs(logs)

        def start_service(name, volumes):
            i = names.index(name)
            service = services[name]
            binds = []
            hosts_file = os.path.join(work, f"hosts-{name}")
            open(hosts_file, "w").write(hosts)
            binds.append((hosts_file, "/etc/hosts", True))
            for volume in service.get("volumes", []):
                parts = volume.split(":")
                source, target, ro = parts[0], parts[1], len(parts) > 2 and parts[2] == "ro"
                if source.startswith(".") or source.startswith("/"):
                    source = os.path.normpath(os.path.join(compose_dir, source))
                    if not os.path.exists(source):
                        fail(f"service {name}: volume source {source} does not exist")
                else:  # a named volume: owned by the image's user, as the image's directory is
                    source = os.path.join(volumes, source)
                    os.makedirs(source, exist_ok=True)
                    os.chown(source, uid, uid)
                binds.append((source, target, ro))
            script = []
            for source, target, ro in binds:
                inside = image.path(target)
                if os.path.isdir(source):
                    script.append(f"mkdir -p {shlex.quote(inside)}")
                else:
                    script.append(f"mkdir -p {shlex.quote(os.path.dirname(inside))} && touch {shlex.quote(inside)}")
                script.append(f"mount --bind {shlex.quote(source)} {shlex.quote(inside)}")
                if ro:
                    script.append(f"mount -o remount,bind,ro {shlex.quote(inside)}")
            command = service.get("command", image.cmd)
            if isinstance(command, str):
                command = shlex.split(command)
            # exec: the agent itself gets the stop signal, as PID 1 of a container would.
            script.append("exec " + " ".join(shlex.quote(w) for w in chroot_command(image, command)))
            log(f"service {name}: {' '.join(command)} ({len(binds) - 1} volumes) in namespace {tag}{i}")
            return subprocess.Popen(
                ["ip", "netns", "exec", f"{tag}{i}", "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                 " && ".join(script)], stdout=open(os.path.join(logs, f"{name}.out"), "a"),
                stderr=open(os.path.join(logs, f"{name}.log"), "a"))

        flags, argument = image.healthcheck
        health = argument[len("CMD"):].strip()
        health_words = words(health) if health.startswith("[") else ["/bin/sh", "-c", health]

        def healthy(name, timeout):
            """Runs the image's HEALTHCHECK in the service's container until it passes."""
            deadline = time.time() + timeout
            while time.time() < deadline:
                probe = subprocess.run(["ip", "netns", "exec", f"{tag}{names.index(name)}",
                                        *chroot_command(image, health_words)], capture_output=True)
                if probe.returncode == 0:
                    return True
                if processes[name].poll() is not None:
                    return False
                time.sleep(0.2)
            return False

        # Every agent but the first, which the others then wait for: each must be healthy while it waits.
        agents = [n for n in names if n != "monitor"]
        for name in names:
            if name != agents[0]:
                processes[name] = start_service(name, volumes_dir)
        waiting = [n for n in agents[1:] if healthy(n, 30)]
        log(f"HEALTHCHECK passed in {len(waiting)} of {len(agents) - 1} agent containers waiting for {agents[0]}")
        if len(waiting) != len(agents) - 1:
            fail(f"HEALTHCHECK did not pass in {sorted(set(agents[1:]) - set(waiting))}")
        processes[agents[0]] = start_service(agents[0], volumes_dir)

        for name, p in processes.items():
            try:
                code = p.wait(timeout=300)
            except subprocess.TimeoutExpired:
                fail(f"service {name} did not finish in 300 s")
            if code != 0:
                print(open(os.path.join(logs, f"{name}.log")).read()[-2000:])
                fail(f"service {name} exited {code}")
        log(f"every service exited 0; the monitor's last lines:")
        for line in open(os.path.join(logs, "monitor.out")).read().splitlines()[-4:]:
            print("    " + line)
        results = os.path.join(work, "results")
        shutil.rmtree(results, ignore_errors=True)
        os.makedirs(results)
        for name in agents:
            found = [f for f in os.listdir(os.path.join(volumes_dir, f"{name}-results")) if f.endswith(".json")]
            if not found:
                fail(f"service {name}: no result in its volume")
            for f in found:
                shutil.copy(os.path.join(volumes_dir, f"{name}-results", f), results)

        # The first agent alone (its neighbours gone): healthy while it waits, and SIGTERM (docker stop)
        # ends it at once and cleanly.
        lone = agents[0]
        processes[lone] = start_service(lone, os.path.join(work, "volumes-lone"))
        if not healthy(lone, 30):
            fail(f"{lone} alone: HEALTHCHECK did not pass while it waited for its neighbours")
        processes[lone].send_signal(15)
        try:
            code = processes[lone].wait(timeout=15)
        except subprocess.TimeoutExpired:
            fail(f"{lone} did not stop within 15 s of SIGTERM")
        tail = open(os.path.join(logs, f"{lone}.log")).read().strip().splitlines()[-1:]
        log(f"{lone} alone: healthy while waiting; SIGTERM stopped it (exit {code}): {tail[0] if tail else ''}")
        if code != 143:
            fail(f"{lone}: exit {code} after SIGTERM, expected 143 (128 + SIGTERM)")
        return results
    finally:
        for p in processes.values():
            if p.poll() is None:
                p.kill()
        for ns in namespaces:
            subprocess.run(["ip", "netns", "del", ns], check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="/var/tmp/dadmm-docker-check", help="roots, volumes and logs go here")
    parser.add_argument("--dockerfile", default=os.path.join(ROOT, "Dockerfile"))
    parser.add_argument("--compose", default=os.path.join(ROOT, "docker-compose.yml"))
    parser.add_argument("--fresh", action="store_true", help="debootstrap the base root again")
    parser.add_argument("--run-only", action="store_true", help="reuse the roots of the last build; only run")
    args = parser.parse_args()
    if os.geteuid() != 0:
        fail("needs root (debootstrap, chroot, network namespaces)")
    for tool in ("debootstrap", "ip", "unshare", "chroot"):
        if shutil.which(tool) is None:
            fail(f"{tool} not found (apt-get install debootstrap iproute2)")
    os.makedirs(args.work, exist_ok=True)
    started = time.time()
    mounts = Mounts()
    try:
        image = build(args.dockerfile, args.work, args.fresh, mounts, perform=not args.run_only)
        log(f"built in {time.time() - started:.0f} s")
        uid = check_image(image)
        results = run_compose(image, args.compose, args.work, uid)
    finally:
        mounts.close()
    log(f"results of every agent in {results}")
    report = os.path.join(ROOT, "build", "agent", "dadmm-ctl")
    compose = yaml.safe_load(open(args.compose))
    topology = data_dir = None
    for volume in compose["services"]["node-1"]["volumes"]:
        source, target = volume.split(":")[:2]
        if target.endswith("topology.yaml"):
            topology = os.path.join(os.path.dirname(os.path.abspath(args.compose)), source)
        if target.endswith("data.csv"):
            data_dir = os.path.dirname(os.path.join(os.path.dirname(os.path.abspath(args.compose)), source))
    if os.path.exists(report) and topology and data_dir:
        code = subprocess.run([report, "report", topology, f"--results={results}", f"--data_dir={data_dir}"]).returncode
        if code != 0:
            fail("the containers' results differ from the simulator's")
    log(f"OK in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
