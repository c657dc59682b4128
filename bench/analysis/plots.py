"""What the analyses' figures share: matplotlib's Agg backend, the PNG writer, run grouping.

Each analysis module in ``bench.analysis.kinds`` draws its own figure (in the style of the
SimCSE paper's Figures 2, 3, F.1 and G.1) from the values stored in its report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.atomic import atomic_open

DPI = 120


def save_png(fig, path: Path) -> Path:
    """Write atomically and close the figure (a killed run leaves no truncated PNG)."""
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
