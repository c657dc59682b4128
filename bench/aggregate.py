"""Combine per-subset STS results: all / mean / wmean (protocols.md section 2).

Kept separate from scoring so that ``bench compare`` can re-aggregate a stored report
without re-running anything.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats


def correlation(x: np.ndarray, y: np.ndarray, metric: str) -> float:
    """SciPy's Pearson or Spearman (ties get their average rank), as SentEval.

    Constant input (e.g. every vector zero) gives NaN, as in SentEval; SciPy's warning is
    silenced because the run's footer and report say so (bench.render.footer_lines)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        if metric == "pearson":
            return float(stats.pearsonr(x, y)[0])
        if metric == "spearman":
            return float(stats.spearmanr(x, y)[0])
    raise ValueError(f"unknown metric {metric!r}")


def weighted(values: Sequence[float], counts: Sequence[int]) -> float:
    return float(np.average(np.asarray(values, dtype=np.float64), weights=np.asarray(counts)))


def aggregate_subsets(subsets: Mapping[str, Mapping], metric: str, how: str) -> float:
    """Aggregate per-subset results ``{name: {pearson, spearman, n, [sim, gold]}}``.

    ``all`` needs the per-pair ``sim``/``gold`` arrays; ``mean``/``wmean`` only the
    per-subset correlations and counts.
    """
    if how == "mean":
        return float(np.mean([s[metric] for s in subsets.values()]))
    if how == "wmean":
        return weighted([s[metric] for s in subsets.values()], [s["n"] for s in subsets.values()])
    if how == "all":
        sim = np.concatenate([np.asarray(s["sim"], dtype=np.float64) for s in subsets.values()])
        gold = np.concatenate([np.asarray(s["gold"], dtype=np.float64) for s in subsets.values()])
        return correlation(sim, gold, metric)
    raise ValueError(f"unknown aggregation {how!r}")
