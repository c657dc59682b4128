"""The STS family: cosine similarity of each pair, correlated with gold per subset / split,
and (for regressor protocols) SentEval's regressor on the supervised splits.

A task result keeps, for every part, pair count, Pearson and Spearman; for the scored parts
also the per-pair similarities and gold scores, so any protocol (and a bootstrap) can be
computed later from the report alone (``bench.scoring``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench.correlation import correlation
from bench.data.sts import StsTask
from bench.embed import EmbeddingTable
from bench.results import PartResult, TaskResult


def cosine(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise cosine as SentEval: NaNs in inputs and result become 0 (zero vectors give 0)."""
    u = np.nan_to_num(np.asarray(u, dtype=np.float64))
    v = np.nan_to_num(np.asarray(v, dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = (u * v).sum(1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
    return np.nan_to_num(sim)


def score_part(sim: np.ndarray, gold: np.ndarray, keep_pairs: bool) -> PartResult:
    gold = np.asarray(gold, dtype=np.float64)
    return PartResult(int(len(gold)), 100 * correlation(sim, gold, "pearson"),
                      100 * correlation(sim, gold, "spearman"),
                      sim if keep_pairs else None, gold if keep_pairs else None)


def evaluate_sts_task(task: StsTask, table: EmbeddingTable, *, regressor: dict[str, Any] | None
                      = None) -> TaskResult:
    """Per-part scores; with ``regressor`` (options of ``evaluate_regressor``) and a supervised
    task, also the regressor trained on its train split and selected on dev."""
    t0 = time.perf_counter()
    meta = task.meta
    result = TaskResult(task.name, "sts", meta.version, tuple(meta.eval_parts), meta.supervised)
    for name, pairs in task.parts.items():
        sim = cosine(table.lookup(pairs.sent1), table.lookup(pairs.sent2, side=1))
        result.parts[name] = score_part(sim, pairs.gold, keep_pairs=name in meta.eval_parts)
    if regressor is not None and meta.supervised:
        from bench.tasks.regressor import evaluate_regressor

        result.regression = evaluate_regressor(task, table, **regressor)
    result.eval_s = round(time.perf_counter() - t0, 4)
    return result
