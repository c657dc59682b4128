"""Figures in the style of the SimCSE paper (Figures 2, 3, F.1, G.1), drawn with matplotlib Agg.

Each function takes plain values (as stored in the JSON report) and writes one PNG atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from bench.atomic import atomic_open

DPI = 120


def _save(fig, path: Path) -> Path:
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def split_runs(models: Sequence[dict[str, Any]]
               ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Plain models, and checkpoints grouped by run in training (step) order."""
    singles = [m for m in models if not m.get("checkpoint")]
    runs: dict[str, list[dict[str, Any]]] = {}
    for m in models:
        if m.get("checkpoint"):
            runs.setdefault(m["checkpoint"]["run"], []).append(m)
    for points in runs.values():
        points.sort(key=lambda m: m["checkpoint"]["step"])
    return singles, runs


def align_uniform_plot(models: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """l_uniform (x) against l_align (y), both lower-is-better.

    Entries with a ``checkpoint`` ({run, step}) are checkpoints: each run is one path with
    arrows in training order (Figure 2). Other entries are points coloured by their average STS when known and
    annotated "name (avg)" (Figure 3); models without a run report are grey.
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
                label=f"{run} ({len(points)} checkpoints)")
        for j in range(len(points) - 1):
            ax.annotate("", xy=(xs[j + 1], ys[j + 1]), xytext=(xs[j], ys[j]),
                        arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.2})
        for m in (points[0], points[-1]) if len(points) > 1 else points[:1]:
            ax.annotate(f"step {m['checkpoint']['step']}", (m["uniform"], m["align"]),
                        textcoords="offset points", xytext=(5, -11), fontsize=8, color=colour)

    ax.set_xlabel(r"$\ell_{\rm uniform}$ (lower is better)")
    ax.set_ylabel(r"$\ell_{\rm align}$ (lower is better)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.margins(0.12)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def spectrum_plot(models: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """One curve per model: normalised singular value against its index (Figure F.1)."""
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for m in models:
        s = np.asarray(m["singular_values"])
        ax.plot(np.arange(1, s.size + 1), s, label=f"{m['label']} (d={s.size})", lw=1.6)
    ax.set_xlabel("index of singular value (largest first)")
    ax.set_ylabel("singular value / largest")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def cosine_dist_plot(models: Sequence[dict[str, Any]], labels: Sequence[str], path: Path,
                     title: str, style: str = "density") -> Path:
    """Per model, the pair cosines of each gold group: ridge densities or box plots (Figure G.1).

    Each entry carries ``_cosines`` and ``_groups`` (per-pair arrays); the x axis is shared so
    that models are compared on one scale.
    """
    from scipy.stats import gaussian_kde

    n = len(models)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.4 * rows), sharex=True,
                             sharey=True, squeeze=False)
    every = np.concatenate([np.asarray(m["_cosines"]) for m in models])
    lo, hi = float(every.min()), float(every.max())
    pad = 0.05 * max(hi - lo, 1e-3)
    grid = np.linspace(lo - pad, hi + pad, 300)
    colours = plt.get_cmap("viridis")(np.linspace(0.1, 0.9, len(labels)))
    for k, m in enumerate(models):
        ax = axes[k // cols][k % cols]
        cos, grp = np.asarray(m["_cosines"]), np.asarray(m["_groups"])
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
        if k // cols == rows - 1:
            ax.set_xlabel("cosine similarity")
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
