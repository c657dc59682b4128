"""The STS family: cosine similarity of each pair, correlated with gold per subset / split,
and (for regressor protocols) SentEval's regressor on the supervised splits.

A task result keeps, for every part, pair count and every registered metric (Pearson and
Spearman, plus any entry of ``bench.correlation.METRICS``) by name; for the scored parts
also the per-pair similarities and gold scores, so any protocol (and a bootstrap) can be
computed later from the report alone (``bench.scoring``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from bench.correlation import all_metrics, correlation
from bench.data.sts import StsTask
from bench.embed import EmbeddingTable
from bench.results import PartResult, TaskResult
from bench.tasks.regressor import evaluate_regressor


def cosine(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise cosine as SentEval: NaNs in inputs and result become 0 (zero vectors give 0)."""
    u = np.nan_to_num(np.asarray(u, dtype=np.float64))
    v = np.nan_to_num(np.asarray(v, dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = (u * v).sum(1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
    return np.nan_to_num(sim)


# Similarity functions MTEB's STS evaluator correlates with gold besides the model's own
# (mteb/_evaluators/any_sts_evaluator.py: 1 - cosine distance, negative Euclidean and negative
# Manhattan distance, via scikit-learn's paired distances).
SIMILARITIES = ("cosine", "euclidean", "manhattan")


def pair_similarity(u: np.ndarray, v: np.ndarray, kind: str) -> np.ndarray:
    """Row-wise similarity of two stacks of vectors: cosine, or a negated distance."""
    if kind == "cosine":
        return cosine(u, v)
    diff = np.asarray(u, dtype=np.float64) - np.asarray(v, dtype=np.float64)
    if kind == "euclidean":
        return -np.sqrt((diff * diff).sum(1))
    if kind == "manhattan":
        return -np.abs(diff).sum(1)
    raise ValueError(f"unknown similarity {kind!r}; valid: {', '.join(SIMILARITIES)}")


def pooled_similarities(task: StsTask, table: EmbeddingTable) -> dict[str, dict[str, float]]:
    """Pearson and Spearman (points) of each similarity in ``SIMILARITIES`` with gold over the
    scored parts pooled, as MTEB scores an STS task. Computed while the vectors are at hand,
    so an export to MTEB's format needs only the report (not the cache or the model)."""
    names = task.meta.eval_parts
    s1 = [s for n in names for s in task.parts[n].sent1]
    s2 = [s for n in names for s in task.parts[n].sent2]
    gold = np.concatenate([task.parts[n].gold for n in names])
    u, v = table.lookup(s1), table.lookup(s2, side=1)
    out = {}
    for kind in SIMILARITIES:
        sim = pair_similarity(u, v, kind)
        out[kind] = {m: 100 * correlation(sim, gold, m) for m in ("pearson", "spearman")}
    return out


def needed_parts(task: StsTask, regressor: bool) -> tuple[str, ...]:
    """The parts a run reads: the scored (eval) parts under every cosine protocol, plus the
    train and dev splits of a supervised task when a regressor protocol trains on them.
    Encoding the rest would be wasted: STS-B's train and dev hold 5 of its 6 sentences."""
    meta = task.meta
    keep = set(meta.eval_parts)
    if regressor and meta.supervised:
        keep |= {meta.train_split, meta.dev_split}
    return tuple(name for name in task.parts if name in keep)


def planned(task: StsTask, regressor: bool) -> StsTask:
    """The task restricted to ``needed_parts``: what is encoded, scored and reported (a
    report never claims a part it did not score)."""
    keep = needed_parts(task, regressor)
    if len(keep) == len(task.parts):
        return task
    return replace(task, parts={name: task.parts[name] for name in keep})


def score_part(sim: np.ndarray, gold: np.ndarray, keep_pairs: bool) -> PartResult:
    gold = np.asarray(gold, dtype=np.float64)
    return PartResult(int(len(gold)), sim=sim if keep_pairs else None,
                      gold=gold if keep_pairs else None, metrics=all_metrics(sim, gold))


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
    result.similarities = pooled_similarities(task, table)
    if regressor is not None and meta.supervised:

        result.regression = evaluate_regressor(task, table, **regressor)
    result.eval_s = round(time.perf_counter() - t0, 4)
    return result
