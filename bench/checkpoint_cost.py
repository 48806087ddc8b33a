#!/usr/bin/env python3
"""What checkpointing costs: Figure 1's seven agents on consensus, a fixed number of iterations, without
--state_dir, with it on tmpfs (/dev/shm) and with it on a disk (/var/tmp here), for n = 1 and n = 10 000.
Prints the agents' own time per iteration (algorithm_seconds / iterations, the mean over the agents),
the checkpoint's size and the overhead. A measurement, not a test: it never fails on a figure.

  bench/checkpoint_cost.py [--build-dir build] [--iterations 1000] [--disk /var/tmp]

Every checkpoint is written before the estimate that depends on it is sent (temporary file, fsync,
rename, fsync of the directory), once per iteration per agent: the figures are that cost."""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

from cluster_results import mean_seconds_per_iteration

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(build, iterations, dimension, state_dir, every=1):
    out = tempfile.mkdtemp(prefix="dadmm-ckpt-bench-")
    flags = ["--", f"--state_dir={state_dir}", f"--checkpoint_every={every}"] if state_dir else []
    if state_dir:
        shutil.rmtree(state_dir, ignore_errors=True)
    cmd = [os.path.join(ROOT, "deploy/run-local-cluster.sh"), "--build-dir", build, "--problem", "consensus",
           "--dimension", str(dimension), "--iterations", str(iterations), "--tolerance", "0", "--out", out] + flags
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"checkpoint_cost: the run failed:\n{r.stdout[-2000:]}")
    seconds_per_iteration = mean_seconds_per_iteration(out)
    shutil.rmtree(out, ignore_errors=True)
    return seconds_per_iteration


def checkpoint_size(build, dimension, state_dir):
    """The size of one agent's checkpoint mid-run: a run stopped by SIGKILL keeps its last one."""
    shutil.rmtree(state_dir, ignore_errors=True)
    out = tempfile.mkdtemp(prefix="dadmm-ckpt-size-")
    cmd = [os.path.join(ROOT, "deploy/run-local-cluster.sh"), "--build-dir", build, "--problem", "consensus",
           "--dimension", str(dimension), "--iterations", "1000000000", "--tolerance", "0", "--out", out,
           "--", f"--state_dir={state_dir}"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    size = 0
    for _ in range(60):  # the bootstrap's checkpoints come first; the running program's are larger
        subprocess.run(["sleep", "0.1"])
        for f in glob.glob(os.path.join(state_dir, "node-*.checkpoint")):
            try:
                size = max(size, os.path.getsize(f))
            except OSError:
                pass  # replaced meanwhile
    os.killpg(p.pid, 9)
    p.wait()
    subprocess.run(["pkill", "-9", "-f", "--", f"--state_dir={state_dir}"])
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(state_dir, ignore_errors=True)
    return size


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--disk", default="/var/tmp", help="a directory on a disk (not tmpfs)")
    args = parser.parse_args()
    print("| n | without | tmpfs (/dev/shm) | disk | disk, K = 10 | checkpoint | overhead tmpfs | overhead disk "
          "| overhead disk, K = 10 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    disk_dir = os.path.join(args.disk, "dadmm-ckpt-bench")
    for dimension in (1, 10000):
        none = run(args.build_dir, args.iterations, dimension, None)
        tmpfs = run(args.build_dir, args.iterations, dimension, "/dev/shm/dadmm-ckpt-bench")
        disk = run(args.build_dir, args.iterations, dimension, disk_dir)
        disk10 = run(args.build_dir, args.iterations, dimension, disk_dir, every=10)
        size = checkpoint_size(args.build_dir, dimension, "/dev/shm/dadmm-ckpt-size")
        print(f"| {dimension} | {none * 1e6:.0f} us | {tmpfs * 1e6:.0f} us | {disk * 1e6:.0f} us "
              f"| {disk10 * 1e6:.0f} us | {size} bytes | +{(tmpfs - none) * 1e6:.0f} us "
              f"| +{(disk - none) * 1e6:.0f} us | +{(disk10 - none) * 1e6:.0f} us |", flush=True)


if __name__ == "__main__":
    main()
