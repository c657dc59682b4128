"""Correlation metrics, each in two forms: one sample (SciPy, as SentEval calls it) and row-wise
over a stack of samples (the bootstrap's replicates).

``METRICS`` is the ``metric`` registry: a protocol's ``metric`` axis, every task result's
stored values (per part, regressor predictions), the seeds' mean, compare's recomputation from
per-pair data and the bootstrap all look a metric up here by name, so a new metric (say
Kendall's tau) is one entry: ``METRICS.register("kendall", Metric("kendall", one, rowwise))``.

Ties (``TIE_RULES``): a rank metric ranks similarities that are equal within float tolerance
as ties. A pair of two identical sentences has cosine 1 up to 1e-16, and which of those
pairs ranks above another would otherwise be decided by float noise that changes with the
batch composition (STS12 of all-mpnet-base-v2 moved from 72.6338 to 72.6312 between a full
and an STS12-only run; MTEB publishes 72.6343). The rule ``round-1e-6`` rounds both inputs
to 6 decimals before ranking, which every rank metric here applies, in both forms, through
``tied``; Pearson is left exact. Reports record the rule they were scored under (a task's
``ties``); reports made before it existed were scored under ``exact`` and are recomputed
under it, so their stored numbers still agree with their own per-pair data.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from bench.registry import Registry

EXACT, ROUNDED = "exact", "round-1e-6"
TIE_RULES = {EXACT: None, ROUNDED: 6}  # rule -> decimals similarities are rounded to
TIES = ROUNDED  # the rule new runs are scored under
LEGACY_TIES = EXACT  # the rule of a report that names none


def tied(x: np.ndarray, ties: str = TIES) -> np.ndarray:
    """``x`` as a rank metric sees it under the tie rule ``ties`` (see the module doc)."""
    decimals = TIE_RULES[ties]
    return np.asarray(x) if decimals is None else np.round(np.asarray(x, dtype=np.float64),
                                                           decimals)


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
    """A paired-sample statistic (a fraction; reports store it x 100): ``one`` for a sample,
    ``rowwise`` for a (B, n) stack of bootstrap replicates (NaN for a row without variance)."""

    name: str
    one: Callable[[np.ndarray, np.ndarray], float]
    rowwise: Callable[[np.ndarray, np.ndarray], np.ndarray]
    ranks: bool = False  # a rank statistic: its inputs go through the tie rule first


METRICS: Registry[Metric] = Registry("metric")
METRICS.register("spearman", Metric("spearman", _spearman, _rowwise_spearman, ranks=True))
METRICS.register("pearson", Metric("pearson", _pearson, _rowwise_pearson))
# Every report stores these two for each part and regressor (schema 2); others are optional.
STORED_METRICS = ("pearson", "spearman")


def _metric(name: str) -> Metric:
    return METRICS.get(name)


def metric_names() -> list[str]:
    """Registered metrics, those every report stores first (the order a report writes)."""
    return [*STORED_METRICS, *(m for m in METRICS.names() if m not in STORED_METRICS)]


def all_metrics(x: np.ndarray, y: np.ndarray, ties: str = TIES) -> dict[str, float]:
    """Every registered metric of one paired sample, in points (x 100), by name."""
    return {m: 100 * correlation(x, y, m, ties) for m in metric_names()}


def correlation(x: np.ndarray, y: np.ndarray, metric: str, ties: str = TIES) -> float:
    """The registered ``metric`` of one paired sample (SciPy's Pearson or Spearman, ties at
    their average rank, under the tie rule ``ties``; or any registered entry)."""
    entry = _metric(metric)
    if entry.ranks:
        x, y = tied(x, ties), tied(y, ties)
    return entry.one(x, y)


def rowwise_correlation(x: np.ndarray, y: np.ndarray, metric: str, ties: str = TIES
                        ) -> np.ndarray:
    """Correlation of each row of ``x`` with the same row of ``y`` ((B, n) -> (B,)) under
    the tie rule ``ties``; a row without variance gives NaN."""
    entry = _metric(metric)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if entry.ranks:
        x, y = tied(x, ties), tied(y, ties)
    return entry.rowwise(x, y)
