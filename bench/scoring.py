"""The one scorer: a task's number under a protocol, and a row's average.

``run`` (the numbers it prints and stores), ``compare`` (re-aggregation), the bootstrap (on
resampled pairs) and the sensitivity view all call these functions, so "what a protocol gives
a task" is defined once. Values are in points (correlation x 100).

- ``all``: one correlation over the concatenated pairs of the scored parts;
- ``mean``: the unweighted mean of per-part correlations (SentEval's "all" dict's mean);
- ``wmean``: the mean weighted by pair counts (BERT-flow / BERT-whitening);
- a task scored on a single part (STS-B, SICK-R test) gives that part's correlation under
  every aggregation;
- a regressor protocol takes a supervised task's number from its trained regressor's test
  predictions; tasks without training splits (STS12-16) keep their cosine number, as in
  SentEval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.aggregation import combine, pools
from bench.correlation import TIES, correlation, rowwise_correlation
from bench.family import family

if TYPE_CHECKING:
    from bench.protocols import Protocol

def aggregate(sims: Sequence[np.ndarray], golds: Sequence[np.ndarray], metric: str, how: str,
              rowwise: bool = False, ties: str = TIES) -> Any:
    """A correlation (fraction) over parts given per-pair similarities and gold scores, rank
    metrics under the tie rule ``ties`` (``bench.correlation``).

    With ``rowwise`` every array has a leading replicate axis (the bootstrap) and the result
    is one value per replicate.
    """
    corr = rowwise_correlation if rowwise else correlation
    if len(sims) == 1:
        return corr(sims[0], golds[0], metric, ties)
    if pools(how):
        return corr(np.concatenate(sims, axis=-1), np.concatenate(golds, axis=-1), metric, ties)
    values = [corr(s, g, metric, ties) for s, g in zip(sims, golds)]
    return combine(values, [np.shape(g)[-1] for g in golds], how)


def task_value(task: Any, protocol: Protocol) -> float | None:
    """A task result's number in points under ``protocol``; None when the result cannot give
    it (a regressor protocol without a trained regressor, ``all`` without per-pair data)."""
    if not family(task.family).by_protocol:
        return None
    if protocol.regressor != "none" and task.supervised:
        if task.regression is None:
            return None
        return task.regression.value(protocol.metric)
    parts = [task.parts[name] for name in task.eval_parts]
    if all(p.sim is not None and p.gold is not None for p in parts):
        return 100 * float(aggregate([p.sim for p in parts], [p.gold for p in parts],
                                     protocol.metric, protocol.aggregation,
                                     ties=getattr(task, "ties", TIES)))
    if any(p.value(protocol.metric) is None for p in parts):
        return None  # a metric the report did not store, and no per-pair data to compute it
    if len(parts) == 1:
        return parts[0].value(protocol.metric)
    if not pools(protocol.aggregation):
        return float(combine([p.value(protocol.metric) for p in parts],
                             [p.n for p in parts], protocol.aggregation))
    return None


@dataclass(frozen=True)
class Average:
    """The paper's Avg. column, with the tasks it covers: averages over different task sets
    are different quantities and are never ranked against each other."""

    value: float
    tasks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "tasks": list(self.tasks)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Average:
        value = data["value"]
        return cls(float("nan") if value is None else float(value), tuple(data["tasks"]))


def average(values: Mapping[str, float]) -> Average | None:
    """Unweighted mean of the task values, in their order; None for an empty row."""
    if not values:
        return None
    return Average(float(np.mean(list(values.values()))), tuple(values))


def row(tasks: Mapping[str, Any], protocol: Protocol) -> dict[str, float] | None:
    """Every STS task's number under ``protocol`` (None when one of them cannot be given)."""
    values: dict[str, float] = {}
    for name, task in tasks.items():
        if not family(task.family).by_protocol:
            continue
        value = task_value(task, protocol)
        if value is None:
            return None
        values[name] = value
    return values
