"""Singular spectrum of the STS-B embedding matrix, largest value scaled to 1 (SimCSE Figure F.1).

A flatter spectrum means a more isotropic embedding space (SimCSE section 5).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from bench.analysis import metrics
from bench.analysis.kinds import Entry, Rows
from bench.analysis.plots import save_png
from bench.analysis.sets import StsbSets, describe_where
from bench.embed import EmbeddingTable

NAME = "spectrum"
HELP = "normalised singular values of the STS-B embedding matrix (Figure F.1)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--normalize", choices=metrics.NORMALIZE_CHOICES, default="l2",
                   help="row normalisation before the SVD (default l2)")
    p.add_argument("--center", action="store_true",
                   help="subtract the column mean (after normalisation); default off")


def options(args: argparse.Namespace) -> dict[str, Any]:
    return {"normalize": args.normalize, "center": args.center,
            "order": "normalise rows, then centre columns", "scale": "largest = 1"}


def compute(table: EmbeddingTable, sets: StsbSets, options: dict[str, Any],
            args: argparse.Namespace, model: Entry) -> dict[str, Any]:
    x = table.lookup(sets.sentences)
    s = metrics.singular_spectrum(x, options["normalize"], options["center"])
    return {"sentences": int(x.shape[0]), "dim": int(x.shape[1]),
            "singular_values": [float(v) for v in s],
            # One-number summaries: how fast the normalised spectrum decays.
            "sum": float(s.sum()), "above_0.1": int((s > 0.1).sum())}


def rows(entries: Sequence[Entry], options: dict[str, Any]) -> Rows:
    cells = []
    for e in entries:
        sv = e["singular_values"]
        pick = [f"{sv[i]:.3f}" if len(sv) > i else "-" for i in (1, 9)]
        cells.append([str(e["dim"]), str(e["sentences"]), *pick, f"{e['sum']:.2f}",
                      str(e["above_0.1"])])
    return Rows(["dim", "sentences", "s_2", "s_10", "sum s_i", "# > 0.1"], cells)


def title(options: dict[str, Any], sets: StsbSets) -> str:
    return (f"singular spectrum of {describe_where(sets)} sentence embeddings\n"
            f"(normalize={options['normalize']}, center={options['center']}; largest = 1)")


def plot(models: Sequence[Entry], sets: StsbSets, options: dict[str, Any], path: Path,
         title: str) -> Path:
    """One curve per model: normalised singular value against its index."""
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
    return save_png(fig, path)
