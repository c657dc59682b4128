"""The aggregation axis of a protocol: how the per-part values of a task (the subsets of an
STS year) become its number.

``AGGREGATIONS`` is the ``aggregation`` registry, used by every path (the scorer, compare's
recomputation from per-pair data, the bootstrap): ``all`` pools the pairs before correlating;
``mean`` and ``wmean`` combine per-part values. A new aggregation is one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.registry import Registry


@dataclass(frozen=True)
class Aggregation:
    """``pools``: one metric over the concatenated pairs of the parts; otherwise ``combine``
    maps per-part values (scalars, or arrays of replicates along the last axes) and the parts'
    pair counts to the task's value."""

    name: str
    pools: bool = False
    combine: Callable[[np.ndarray, np.ndarray], Any] | None = None


def _mean(values: np.ndarray, counts: np.ndarray) -> Any:
    return np.mean(values, axis=0)


def _wmean(values: np.ndarray, counts: np.ndarray) -> Any:
    return np.average(values, axis=0, weights=counts)


AGGREGATIONS: Registry[Aggregation] = Registry("aggregation")
AGGREGATIONS.register("all", Aggregation("all", pools=True))
AGGREGATIONS.register("mean", Aggregation("mean", combine=_mean))      # SentEval's "all" mean
AGGREGATIONS.register("wmean", Aggregation("wmean", combine=_wmean))   # BERT-flow / whitening


def combine(values: Sequence[Any], counts: Sequence[int], how: str) -> Any:
    """Per-part values combined by the aggregation ``how`` (one that does not pool)."""
    entry = AGGREGATIONS.get(how)
    if entry.combine is None:
        raise ValueError(f"cannot combine per-part values with aggregation {how!r}")
    return entry.combine(np.asarray(values, dtype=np.float64), np.asarray(counts))


def pools(how: str) -> bool:
    """Whether aggregation ``how`` takes one metric over the pooled pairs."""
    return AGGREGATIONS.get(how).pools
