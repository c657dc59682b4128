"""Pair cosines per gold-score group, as ridge densities or box plots (SimCSE Figure G.1).

The report keeps per-group summaries and a histogram (0.05 wide bins), so that the densities
can be redrawn from the JSON; the per-pair cosines themselves are only plotted.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import gaussian_kde

from bench.analysis import metrics
from bench.analysis.kinds import Entry, Rows
from bench.analysis.plots import save_png
from bench.analysis.sets import StsbSets, describe_where
from bench.embed import EmbeddingTable

NAME = "cosine-dist"
HELP = "pair cosines per gold-score group (Figure G.1)"
COSINE_BINS = np.linspace(-1.0, 1.0, 41)  # histogram stored per gold group (0.05 wide)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style", choices=("density", "box"), default="density",
                   help="density (ridge) or box plots (default density)")


def options(args: argparse.Namespace) -> dict[str, Any]:
    return {"style": args.style, "groups": metrics.group_labels(),
            "histogram_bins": [float(b) for b in COSINE_BINS]}


def compute(table: EmbeddingTable, sets: StsbSets, options: dict[str, Any],
            args: argparse.Namespace, model: Entry) -> dict[str, Any]:
    cos = metrics.pair_cosines(table.lookup(sets.sent1), table.lookup(sets.sent2))
    group = metrics.group_index(sets.gold)
    groups = {label: metrics.describe_values(cos[group == i], COSINE_BINS)
              for i, label in enumerate(metrics.group_labels())}
    return {"pairs": int(cos.size), "groups": groups, "_cosines": cos}


def rows(entries: Sequence[Entry], options: dict[str, Any]) -> Rows:
    first = entries[0]["groups"]  # every model sees the same pairs, so the same counts
    columns = [f"gold {label}\nn={first[label]['n']}" for label in metrics.group_labels()]
    cells = [[f"{g['mean']:.2f}±{g['std']:.2f}" if g["n"] else "-"
              for g in e["groups"].values()] for e in entries]
    return Rows(columns, cells, "cosine mean±std per gold-score group")


def title(options: dict[str, Any], sets: StsbSets) -> str:
    return f"cosine similarity of {describe_where(sets)} pairs by gold score"


def plot(models: Sequence[Entry], sets: StsbSets, options: dict[str, Any], path: Path,
         title: str) -> Path:
    """Per model, the pair cosines of each gold group on one shared x axis.

    Each entry carries ``_cosines`` (per pair, in the order of ``sets.gold``).
    """

    labels = metrics.group_labels()
    grp = metrics.group_index(sets.gold)
    style = options["style"]
    n = len(models)
    cols = min(n, 4)
    nrows = (n + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 3.4 * nrows), sharex=True,
                             sharey=True, squeeze=False)
    every = np.concatenate([np.asarray(m["_cosines"]) for m in models])
    lo, hi = float(every.min()), float(every.max())
    pad = 0.05 * max(hi - lo, 1e-3)
    grid = np.linspace(lo - pad, hi + pad, 300)
    colours = plt.get_cmap("viridis")(np.linspace(0.1, 0.9, len(labels)))
    for k, m in enumerate(models):
        ax = axes[k // cols][k % cols]
        cos = np.asarray(m["_cosines"])
        values = [cos[grp == g] for g in range(len(labels))]
        if style == "box":
            keep = [g for g, v in enumerate(values) if v.size]
            ax.boxplot([values[g] for g in keep], positions=keep, orientation="horizontal",
                       widths=0.6, showfliers=False)
        else:
            for g, v in enumerate(values):
                if v.size >= 2 and np.ptp(v) > 0:
                    dens = gaussian_kde(v)(grid)
                    dens = 0.9 * dens / dens.max()
                    ax.fill_between(grid, g, g + dens, color=colours[g], alpha=0.75, lw=0)
                    ax.plot(grid, g + dens, color="black", lw=0.6)
                elif v.size:
                    ax.plot(v, np.full(v.size, g + 0.1), "|", color=colours[g])
        ax.set_title(m["label"], fontsize=10)
        ax.set_yticks(range(len(labels)), labels)
        ax.grid(axis="x", alpha=0.3)
        if k % cols == 0:
            ax.set_ylabel("gold score group")
        if k // cols == nrows - 1:
            ax.set_xlabel("cosine similarity")
    for k in range(n, nrows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return save_png(fig, path)
