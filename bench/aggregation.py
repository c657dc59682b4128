"""The aggregation axis of a protocol: how the per-part values of a task (the subsets of an
STS year) become its number. ``all`` pools the pairs before correlating (``bench.scoring``
does that); ``mean`` and ``wmean`` combine per-part values here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

AGGREGATIONS = ("all", "mean", "wmean")


def combine(values: Sequence[Any], counts: Sequence[int], how: str) -> Any:
    """Mean or pair-count-weighted mean over parts (scalars, or arrays of replicates)."""
    if how == "mean":
        return np.mean(np.asarray(values, dtype=np.float64), axis=0)
    if how == "wmean":
        return np.average(np.asarray(values, dtype=np.float64), axis=0,
                          weights=np.asarray(counts))
    raise ValueError(f"cannot combine per-part values with aggregation {how!r}")
