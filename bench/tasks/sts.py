"""Score STS pair sets by cosine similarity, per subset / split, with every aggregation.

The result of one task keeps, for every subset or split: pair count, Pearson, Spearman and
the per-pair similarities and gold scores, so any protocol (and a bootstrap) can be
computed later from the report alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.aggregate import aggregate_subsets, correlation
from bench.data.sts import StsTask
from bench.embed import EmbeddingTable
from bench.protocols import AGGREGATIONS, METRICS, Protocol


def cosine(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise cosine as SentEval: NaNs in inputs and result become 0 (zero vectors give 0)."""
    u = np.nan_to_num(np.asarray(u, dtype=np.float64))
    v = np.nan_to_num(np.asarray(v, dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = (u * v).sum(1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
    return np.nan_to_num(sim)


def score_part(sim: np.ndarray, gold: np.ndarray) -> dict[str, Any]:
    return {"n": int(len(gold)), "pearson": correlation(sim, gold, "pearson"),
            "spearman": correlation(sim, gold, "spearman"),
            "sim": [float(x) for x in sim], "gold": [float(x) for x in gold]}


def evaluate_sts_task(task: StsTask, table: EmbeddingTable) -> dict[str, Any]:
    """Per-part scores; for STS12-16 also every (metric, aggregation)."""
    parts = {}
    for name, pairs in task.parts.items():
        sim = cosine(table.lookup(pairs.sent1), table.lookup(pairs.sent2))
        parts[name] = score_part(sim, pairs.gold)
    result: dict[str, Any] = {"kind": "splits" if task.has_splits else "subsets", "parts": parts}
    if not task.has_splits:
        result["aggregates"] = {m: {a: aggregate_subsets(parts, m, a) for a in AGGREGATIONS}
                                for m in METRICS}
    return result


def protocol_value(task_name: str, task_result: dict[str, Any], protocol: Protocol) -> float:
    """The one number a protocol reports for a task (no-regressor protocols)."""
    if task_result["kind"] == "splits":
        return task_result["parts"]["test"][protocol.metric]
    return aggregate_subsets(task_result["parts"], protocol.metric, protocol.aggregation)
