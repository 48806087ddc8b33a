#!/usr/bin/python3
"""Plots a finished network from its agents' results (dadmm-ctl plot runs this).

  dadmm-ctl plot RESULTS_DIR --out run.png
  /usr/bin/python3 deploy/plot-history.py RESULTS_DIR --out run.png

RESULTS_DIR holds the agents' node-<id>.json, written with --history=N (agent flag): each holds the
run step by step. Four panels over the iterations: each node's residuals (change and disagreement,
or r_p and s_p with the residual stop rule), the network's objective sum_p f_p(x_p) (where every node
recorded the same steps), and the estimates sent and the modelled radio energy per node. Needs
python3-matplotlib. Exit 2 with one line on bad input.
"""
import argparse
import glob
import json
import math
import os
import re
import sys


def fail(message):
    print(f"dadmm-ctl plot: {message}", file=sys.stderr)
    sys.exit(2)


def read_results(directory):
    if not os.path.isdir(directory):
        fail(f"{directory}: not a directory")
    paths = sorted(glob.glob(os.path.join(directory, "node-*.json")),
                   key=lambda p: int(re.sub(r"\D", "", os.path.basename(p)) or 0))
    if not paths:
        fail(f"{directory}: no node-<id>.json results")
    nodes = {}
    for path in paths:
        try:
            with open(path) as f:
                result = json.load(f)
        except (OSError, ValueError) as e:
            fail(f"{path}: not a result ({e})")
        if not isinstance(result, dict):
            fail(f"{path}: not a result (a JSON object expected)")
        history = result.get("history") or []
        if not history:
            fail(f"{path}: no history (run the agents with --history=N, e.g. --history=2000)")
        points = []
        for i, h in enumerate(history):
            try:
                points.append({
                    "iteration": int(h.get("iteration", 0)),
                    "change": float(h.get("change", 0.0)),
                    "disagreement": float(h.get("disagreement", 0.0)),
                    "primal": float(h.get("primalResidual", 0.0)),
                    "dual": float(h.get("dualResidual", 0.0)),
                    "objective": float(h.get("objective", "NaN")),
                    "messages": int(h.get("messagesSent", 0)),
                    "energy": float(h.get("energyJoules", 0.0)),
                })
            except (TypeError, ValueError, AttributeError):
                fail(f"{path}: history point {i + 1} is malformed")
        node = result.get("nodeId", os.path.basename(path))
        nodes[node] = {"points": points, "result": result}
    return nodes


def positive(values):
    """Zeros and non-finite values do not go on a log scale: None (a gap) instead."""
    return [v if (v > 0 and math.isfinite(v)) else None for v in values]


def main():
    parser = argparse.ArgumentParser(description="Plots a finished network from its agents' results (--history).")
    parser.add_argument("results", help="directory with the agents' node-<id>.json")
    parser.add_argument("--out", required=True, help="the image to write (.png, .svg or .pdf)")
    args = parser.parse_args()
    if os.path.splitext(args.out)[1].lower() not in (".png", ".svg", ".pdf"):
        fail(f"--out={args.out}: give a .png, .svg or .pdf file")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        fail(f"--out={args.out}: the directory {out_dir} does not exist")
    nodes = read_results(args.results)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail("needs python3-matplotlib (apt-get install python3-matplotlib)")

    first = next(iter(nodes.values()))["result"]
    residual_rule = any(p["primal"] > 0 or p["dual"] > 0 for n in nodes.values() for p in n["points"])
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    (res_ax, obj_ax), (msg_ax, energy_ax) = axes
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (node, n) in enumerate(nodes.items()):
        colour = colours[k % len(colours)]
        steps = [p["iteration"] for p in n["points"]]
        if residual_rule:
            res_ax.plot(steps, positive([p["primal"] for p in n["points"]]), color=colour, label=f"node {node}")
            res_ax.plot(steps, positive([p["dual"] for p in n["points"]]), color=colour, linestyle="--")
        else:
            res_ax.plot(steps, positive([p["change"] for p in n["points"]]), color=colour, label=f"node {node}")
            res_ax.plot(steps, positive([p["disagreement"] for p in n["points"]]), color=colour, linestyle="--")
        msg_ax.plot(steps, [p["messages"] for p in n["points"]], color=colour, label=f"node {node}")
        energy_ax.plot(steps, [1e3 * p["energy"] for p in n["points"]], color=colour, label=f"node {node}")
    res_ax.set_yscale("log")
    res_ax.set_title("residuals: r_p (solid), s_p (dashed)" if residual_rule
                     else "residuals: change (solid), disagreement (dashed)")

    # The network's objective at the steps every node recorded.
    common = set.intersection(*[{p["iteration"] for p in n["points"]} for n in nodes.values()])
    total = {}
    for n in nodes.values():
        for p in n["points"]:
            if p["iteration"] in common:
                total[p["iteration"]] = total.get(p["iteration"], 0.0) + p["objective"]
    steps = sorted(s for s in total if math.isfinite(total[s]))
    if steps:
        obj_ax.plot(steps, [total[s] for s in steps], color="black")
        obj_ax.set_title(f"objective sum_p f_p(x_p) ({len(nodes)} nodes)")
    else:
        obj_ax.set_title("objective: no step recorded by every node")
    msg_ax.set_title("estimates sent, per node")
    energy_ax.set_title("modelled radio energy (sent + received), mJ, per node")
    for ax in axes.flat:
        ax.set_xlabel("iteration")
        ax.grid(True, alpha=0.3)
    if len(nodes) <= 12:
        res_ax.legend(fontsize="small", ncol=2)
    fig.suptitle(f"{first.get('topologyName', '')}: {first.get('algorithm', '')} on {first.get('problem', '')}, "
                 f"rho {first.get('rho', '')}, {len(nodes)} nodes")
    fig.tight_layout()
    try:
        fig.savefig(args.out, dpi=100)
    except OSError as e:
        fail(f"--out={args.out}: cannot write ({e.strerror})")
    print(f"wrote {args.out}: {len(nodes)} nodes, {sum(len(n['points']) for n in nodes.values())} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
