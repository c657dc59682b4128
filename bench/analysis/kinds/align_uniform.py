"""Alignment and uniformity (Wang & Isola 2020) as in SimCSE Figures 2 and 3.

l_align is taken over STS-B pairs with gold > threshold (SimCSE footnote 3), l_uniform over
the STS-B sentences. Points are coloured by the average STS of a ``bench run`` report of the
same encoder fingerprint, when one is found.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from bench.analysis import metrics
from bench.analysis.kinds import Entry, Rows
from bench.analysis.plots import save_png, split_runs
from bench.analysis.sets import DEFAULT_THRESHOLD, StsbSets, describe_where
from bench.analysis.targets import find_sts_average
from bench.embed import EmbeddingTable
from bench.errors import BenchError
from bench.progress import count
from bench.protocols import parse_protocols

NAME = "align-uniform"
HELP = ("l_align over STS-B pairs with gold > threshold, l_uniform over STS-B sentences "
        "(Figures 2 and 3)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="positive pairs have gold strictly above this (default 4)")
    p.add_argument("--alpha", type=float, default=2.0, help="alignment exponent (default 2)")
    p.add_argument("--t", type=float, default=2.0, help="uniformity temperature (default 2)")
    p.add_argument("--reports-dir", type=Path, default=Path("reports"),
                   help="where to look for 'bench run' reports of the same encoder fingerprint "
                   "to colour points by average STS (default reports)")
    p.add_argument("--protocol", default="simcse",
                   help="protocol whose average STS colours the points (default simcse)")


def options(args: argparse.Namespace) -> dict[str, Any]:
    return {"threshold": args.threshold, "threshold_rule": "gold > threshold",
            "alpha": args.alpha, "t": args.t, "normalized": "l2",
            "uniform_pairs": "distinct i<j", "protocol": parse_protocols(args.protocol)[0].key}


def check(sets: StsbSets, options: dict[str, Any]) -> None:
    if not sets.positives(options["threshold"])[0]:
        raise BenchError(f"no STS-B pair in splits {','.join(sets.splits)} has gold > "
                         f"{options['threshold']:g}; lower --threshold")


def compute(table: EmbeddingTable, sets: StsbSets, options: dict[str, Any],
            args: argparse.Namespace, model: Entry) -> dict[str, Any]:
    s1, s2 = sets.positives(options["threshold"])
    found = find_sts_average(model["fingerprint"], options["protocol"], args.reports_dir)
    return {"align": metrics.alignment(table.lookup(s1), table.lookup(s2), options["alpha"]),
            "uniform": metrics.uniformity(table.lookup(sets.sentences), options["t"]),
            "positive_pairs": len(s1), "sentences": len(sets.sentences),
            "avg_sts": found["avg"] if found else None,
            "avg_sts_report": found["report"] if found else None}


def rows(entries: Sequence[Entry], options: dict[str, Any]) -> Rows:
    cells = []
    for e in entries:
        avg = e.get("avg_sts")
        cells.append([f"{e['align']:.4f}", f"{e['uniform']:.4f}", str(e["positive_pairs"]),
                      str(e["sentences"]), "-" if avg is None else f"{avg:.2f}"])
    return Rows(["l_align", "l_uniform", "pos. pairs", "sentences", "avg STS"], cells)


def title(options: dict[str, Any], sets: StsbSets) -> str:
    return (f"alignment vs uniformity ({describe_where(sets)}; positives: gold > "
            f"{options['threshold']:g}, alpha={options['alpha']:g}, t={options['t']:g})")


def plot(models: Sequence[Entry], sets: StsbSets, options: dict[str, Any], path: Path,
         title: str) -> Path:
    """l_uniform (x) against l_align (y), both lower-is-better.

    Entries with a ``checkpoint`` ({run, step}) are checkpoints: each run is one path with
    arrows in training order (Figure 2), its step-0 checkpoint (the pre-trained start) a star. Other entries are points coloured by their average
    STS when known and annotated "name (avg)" (Figure 3); models without a run report are grey.
    """
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    singles, runs = split_runs(models)

    scored = [m for m in singles if m.get("avg_sts") is not None]
    if scored:
        avgs = [m["avg_sts"] for m in scored]
        lo, hi = min(avgs), max(avgs)
        if hi - lo < 1e-9:
            lo, hi = lo - 1, hi + 1
        sc = ax.scatter([m["uniform"] for m in scored], [m["align"] for m in scored], c=avgs,
                        cmap="viridis", vmin=lo, vmax=hi, s=90, edgecolors="black", zorder=3,
                        label="model (colour = avg. STS)")
        fig.colorbar(sc, ax=ax, label="average STS (Spearman x100)")
    unscored = [m for m in singles if m.get("avg_sts") is None]
    if unscored:
        ax.scatter([m["uniform"] for m in unscored], [m["align"] for m in unscored],
                   c="lightgrey", s=90, edgecolors="black", zorder=3,
                   label="model (no run report)")
    xs_all = [m["uniform"] for m in models]
    middle = (min(xs_all) + max(xs_all)) / 2 if xs_all else 0.0
    for m in singles:
        text = m["label"] + (f" ({m['avg_sts']:.2f})" if m.get("avg_sts") is not None else "")
        right = m["uniform"] > middle  # label towards the centre so it stays inside the axes
        ax.annotate(text, (m["uniform"], m["align"]), textcoords="offset points",
                    xytext=(-6 if right else 6, 6), ha="right" if right else "left",
                    fontsize=9)

    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (run, points) in enumerate(sorted(runs.items())):
        colour = colours[i % len(colours)]
        xs = [m["uniform"] for m in points]
        ys = [m["align"] for m in points]
        ax.plot(xs, ys, "o", color=colour, markersize=5, zorder=3,
                label=f"{run} ({count(len(points), 'checkpoint')})")
        for j in range(len(points) - 1):
            ax.annotate("", xy=(xs[j + 1], ys[j + 1]), xytext=(xs[j], ys[j]),
                        arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.2})
        for m in (points[0], points[-1]) if len(points) > 1 else points[:1]:
            if m["checkpoint"]["step"] == 0:
                continue  # the shared start is marked once below
            ax.annotate(f"step {m['checkpoint']['step']}", (m["uniform"], m["align"]),
                        textcoords="offset points", xytext=(5, -11), fontsize=8, color=colour)
    # Step 0 of a run saved with save_initial is the pre-trained model: Figure 2's start.
    starts = [p[0] for p in runs.values() if p[0]["checkpoint"]["step"] == 0]
    if starts:
        ax.scatter([m["uniform"] for m in starts], [m["align"] for m in starts], marker="*",
                   s=260, c="gold", edgecolors="black", zorder=4,
                   label="pre-trained start (step 0)")

    ax.set_xlabel(r"$\ell_{\rm uniform}$ (lower is better)")
    ax.set_ylabel(r"$\ell_{\rm align}$ (lower is better)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.margins(0.12)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    return save_png(fig, path)
