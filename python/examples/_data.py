"""Reading a node's rows for the examples: node-<id>.csv in a directory, numbers separated by commas
or whitespace, '#' starting a comment (the format dadmm's own data files use)."""

import glob
import os
import re

import numpy as np


def read_rows(path):
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            try:
                rows.append([float(t) for t in re.split(r"[,\s]+", line) if t])
            except ValueError as e:
                raise SystemExit(f"{path}:{number}: {e}")
            if len(rows[-1]) != len(rows[0]):
                raise SystemExit(f"{path}:{number}: {len(rows[-1])} values, the first row has {len(rows[0])}")
    if not rows:
        raise SystemExit(f"{path}: no rows")
    return np.array(rows, dtype=np.float64)


def node_files(data_dir):
    """{node id: path} of the node-<id>.csv files in data_dir."""
    files = {}
    for path in sorted(glob.glob(os.path.join(data_dir, "node-*.csv"))):
        match = re.fullmatch(r"node-(\d+)\.csv", os.path.basename(path))
        if match:
            files[int(match.group(1))] = path
    if not files:
        raise SystemExit(f"no node-<id>.csv in {data_dir}")
    return files
