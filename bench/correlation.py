"""Correlation metrics, each in two forms: one sample (SciPy, as SentEval calls it) and row-wise
over a stack of samples (the bootstrap's replicates).

This is the one place a metric is defined: a protocol's ``metric`` axis takes its values from
``METRICS``, so a new metric (say Kendall's tau) is one entry here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats


# Constant input (every vector zero, say) gives NaN, as in SentEval; SciPy's warning is
# silenced because the run's footer and report say so (bench.render.footer_lines).
def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return float(stats.pearsonr(x, y)[0])


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return float(stats.spearmanr(x, y)[0])


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(-1) / np.sqrt((xc * xc).sum(-1) * (yc * yc).sum(-1))
    return np.clip(r, -1.0, 1.0)


def _rowwise_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # Pearson on average ranks: ties share their mean rank, as scipy.stats.spearmanr.
    return _rowwise_pearson(stats.rankdata(x, axis=-1), stats.rankdata(y, axis=-1))


@dataclass(frozen=True)
class Metric:
    name: str
    one: Callable[[np.ndarray, np.ndarray], float]
    rowwise: Callable[[np.ndarray, np.ndarray], np.ndarray]


METRICS: dict[str, Metric] = {
    "spearman": Metric("spearman", _spearman, _rowwise_spearman),
    "pearson": Metric("pearson", _pearson, _rowwise_pearson),
}


def _metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; valid: {', '.join(METRICS)}") from None


def correlation(x: np.ndarray, y: np.ndarray, metric: str) -> float:
    """SciPy's Pearson or Spearman of one paired sample (ties get their average rank)."""
    return _metric(metric).one(x, y)


def rowwise_correlation(x: np.ndarray, y: np.ndarray, metric: str) -> np.ndarray:
    """Correlation of each row of ``x`` with the same row of ``y`` ((B, n) -> (B,)); a row
    without variance gives NaN."""
    return _metric(metric).rowwise(np.asarray(x, dtype=np.float64),
                                   np.asarray(y, dtype=np.float64))
