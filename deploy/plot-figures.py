#!/usr/bin/python3
"""Turns the CSV files of dadmm-sweep into PNG figures like Figs. 3-7 of Mota et al., D-ADMM.

  deploy/plot-figures.sh results/seed1        (installs python3-matplotlib if missing)
  /usr/bin/python3 deploy/plot-figures.py results/seed1

For every OUT/figN.csv present it writes OUT/figN.png: communication steps to the tolerance per
network (or per size, Fig. 4), one line per algorithm; runs that did not reach the tolerance are
drawn as hollow markers at the maximum. Fig. 3 also gets the error along the steps on network 3.
"""
import csv
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"d-admm": "D-ADMM (Alg. 2)", "algorithm3": "[16] (Alg. 3)", "subgradient": "subgradient (14)",
          "averaging": "[26] (17)"}
MARKERS = {"d-admm": "o", "algorithm3": "s", "subgradient": "^", "averaging": "D"}
COLOURS = {"d-admm": "tab:blue", "algorithm3": "tab:orange", "subgradient": "tab:green", "averaging": "tab:purple"}
MAX_STEPS = {"fig7": 10000}


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def steps_panel(ax, rows, x_key, max_steps, title, log_x=False):
    by_algorithm = defaultdict(list)
    for r in rows:
        by_algorithm[r["algorithm"]].append(r)
    for algorithm, rs in by_algorithm.items():
        rs.sort(key=lambda r: int(r[x_key]))
        xs = [int(r[x_key]) for r in rs]
        ys = [int(r["steps"]) if r["reached"] == "1" else max_steps for r in rs]
        line, = ax.plot(xs, ys, marker=MARKERS.get(algorithm, "x"), color=COLOURS.get(algorithm),
                        label=LABELS.get(algorithm, algorithm))
        missed = [(x, y) for x, y, r in zip(xs, ys, rs) if r["reached"] != "1"]
        if missed:
            ax.plot([m[0] for m in missed], [m[1] for m in missed], linestyle="none", marker=MARKERS.get(algorithm, "x"),
                    markersize=11, markerfacecolor="none", markeredgecolor=line.get_color())
    ax.set_yscale("log")
    if log_x:
        ax.set_xscale("log")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("network" if x_key == "network" else "nodes P")
    ax.set_ylabel("communication steps")
    ax.grid(True, which="both", alpha=0.3)


def plot_by_network(out_dir, name, rows):
    problems = sorted({r["problem"] for r in rows})
    fig, axes = plt.subplots(1, len(problems), figsize=(5.5 * len(problems), 4), squeeze=False)
    for ax, problem in zip(axes[0], problems):
        nodes = rows[0]["nodes"]
        steps_panel(ax, [r for r in rows if r["problem"] == problem], "network", MAX_STEPS.get(name, 1000),
                    f"{name}: {problem}, P = {nodes}")
        ax.set_xticks(range(1, 8))
    axes[0][0].legend(fontsize=8)
    return fig


def plot_fig3(out_dir, rows):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    steps_panel(axes[0], rows, "network", 1000, "fig3 (a): consensus, P = 50")
    axes[0].set_xticks(range(1, 8))
    axes[0].legend(fontsize=8)
    curves = os.path.join(out_dir, "fig3_errors_network3.csv")
    if os.path.exists(curves):
        data = read_rows(curves)
        for algorithm in [k for k in data[0].keys() if k != "step"]:
            pts = [(int(r["step"]), float(r[algorithm])) for r in data if r[algorithm]]
            axes[1].plot([p[0] for p in pts], [p[1] for p in pts], color=COLOURS.get(algorithm),
                         label=LABELS.get(algorithm, algorithm))
        axes[1].set_yscale("log")
        axes[1].set_xlabel("communication steps")
        axes[1].set_ylabel("relative error")
        axes[1].set_title("fig3 (b): error along the steps, network 3", fontsize=9)
        axes[1].grid(True, which="both", alpha=0.3)
        axes[1].legend(fontsize=8)
    return fig


def plot_fig4(rows):
    networks = sorted({int(r["network"]) for r in rows})
    fig, axes = plt.subplots(2, 4, figsize=(16, 7.5))
    for ax, number in zip(axes.flat, networks):
        rs = [r for r in rows if int(r["network"]) == number]
        steps_panel(ax, rs, "nodes", 1000, f"network {number} ({rs[0]['model']})", log_x=True)
    for ax in list(axes.flat)[len(networks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    return fig


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot-figures.py RESULTS_DIR")
    out_dir = sys.argv[1]
    made = 0
    for name in ["fig3", "fig4", "fig5", "fig6", "fig7"]:
        path = os.path.join(out_dir, name + ".csv")
        if not os.path.exists(path):
            continue
        rows = read_rows(path)
        if not rows:
            print(f"{path}: no rows, skipped")
            continue
        if name == "fig3":
            fig = plot_fig3(out_dir, rows)
        elif name == "fig4":
            fig = plot_fig4(rows)
        else:
            fig = plot_by_network(out_dir, name, rows)
        fig.tight_layout()
        png = os.path.join(out_dir, name + ".png")
        fig.savefig(png, dpi=110)
        plt.close(fig)
        print(f"wrote {png}")
        made += 1
    if made == 0:
        sys.exit(f"{out_dir}: no figN.csv found (run dadmm-sweep first)")


if __name__ == "__main__":
    main()
