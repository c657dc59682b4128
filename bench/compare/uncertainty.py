"""Bootstrap intervals and paired tests for STS numbers, from a run's per-pair data.

Resampling follows the protocol: pairs are drawn with replacement within each subset of
an STS year (or within the test split of STS-B / SICK-R), and the year's aggregate (all,
mean or wmean) is recomputed from the resampled subsets. The generator of each (task,
subset) is seeded from ``(seed, task, subset)`` alone, so two models evaluated on the same
pairs get the same resamples: that is what makes the paired bootstrap paired.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.aggregate import aggregate_subsets, correlation
from bench.compare.rows import ProtocolTag
from bench.compare.stats import (
    bootstrap_indices,
    paired_bootstrap_p,
    percentile_interval,
    rowwise_correlation,
    steiger_z,
    williams_t2,
)


def used_parts(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The parts a protocol scores: every subset of a year, or the test split."""
    if result.get("kind") == "splits":
        return {"test": result["parts"]["test"]}
    return result["parts"]


def _rng(seed: int, task: str, part: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(f"{task}/{part}".encode())])


def task_replicates(task: str, result: dict[str, Any], tag: ProtocolTag, resamples: int,
                    seed: int) -> np.ndarray:
    """Bootstrap replicates (fractions) of one task's number under a no-regressor protocol."""
    parts = used_parts(result)
    sims, golds, per_part = [], [], []
    for name, part in parts.items():
        sim = np.asarray(part["sim"], dtype=np.float64)
        gold = np.asarray(part["gold"], dtype=np.float64)
        idx = bootstrap_indices(len(gold), resamples, _rng(seed, task, name))
        if result.get("kind") != "splits" and tag.aggregation == "all":
            sims.append(sim[idx])
            golds.append(gold[idx])
        else:
            per_part.append(rowwise_correlation(sim[idx], gold[idx], tag.metric))
    if sims:
        return rowwise_correlation(np.concatenate(sims, 1), np.concatenate(golds, 1), tag.metric)
    if len(per_part) == 1:
        return per_part[0]
    stacked = np.stack(per_part)
    if tag.aggregation == "mean":
        return stacked.mean(0)
    counts = np.array([len(p["gold"]) for p in parts.values()], dtype=np.float64)
    return (stacked * counts[:, None]).sum(0) / counts.sum()


def row_replicates(sts: dict[str, Any], tasks: list[str], key: str, resamples: int,
                   seed: int) -> dict[str, np.ndarray]:
    """Replicates in points for every task and for their unweighted average ("avg")."""
    tag = ProtocolTag.from_key(key)
    reps = {t: 100 * task_replicates(t, sts[t], tag, resamples, seed) for t in tasks}
    reps["avg"] = np.mean(np.stack([reps[t] for t in tasks]), axis=0)
    return reps


def intervals(sts: dict[str, Any], tasks: list[str], key: str, resamples: int = 1000,
              seed: int = 1111, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """95% percentile interval of every task's number and of Avg., in points."""
    reps = row_replicates(sts, tasks, key, resamples, seed)
    return {t: percentile_interval(r, level) for t, r in reps.items()}


def same_pairs(a: dict[str, Any], b: dict[str, Any], tasks: list[str]) -> str | None:
    """None when both runs scored the same pairs (same parts, counts, gold); else why not."""
    for task in tasks:
        pa, pb = used_parts(a[task]), used_parts(b[task])
        if list(pa) != list(pb):
            return f"{task}: different subsets"
        for name in pa:
            if not np.array_equal(np.asarray(pa[name]["gold"]), np.asarray(pb[name]["gold"])):
                return f"{task}/{name}: different pairs or gold scores"
    return None


@dataclass
class PairedResult:
    task: str
    delta: float  # points, model minus reference
    delta_ci: tuple[float, float]
    p_bootstrap: float
    p_williams: float  # NaN where the number is an average of subset correlations
    p_steiger: float
    n: int


def _single_correlation(task: str, result: dict[str, Any], key: str) -> bool:
    """Williams/Steiger apply to one correlation: a split, or a year pooled with ``all``."""
    return result.get("kind") == "splits" or ProtocolTag.from_key(key).aggregation == "all"


def _pooled(result: dict[str, Any], field: str) -> np.ndarray:
    return np.concatenate([np.asarray(p[field], dtype=np.float64)
                           for p in used_parts(result).values()])


def paired_tests(ref: dict[str, Any], other: dict[str, Any], tasks: list[str], key: str,
                 resamples: int = 1000, seed: int = 1111) -> list[PairedResult]:
    """Model ``other`` against ``ref`` on the same pairs, for every task and the average."""
    metric = ProtocolTag.from_key(key).metric
    rep_ref = row_replicates(ref, tasks, key, resamples, seed)
    rep_oth = row_replicates(other, tasks, key, resamples, seed)
    out = []
    for task in [*tasks, "avg"]:
        diff = rep_oth[task] - rep_ref[task]
        p_w = p_s = float("nan")
        n = 0
        if task != "avg":
            gold = _pooled(ref[task], "gold")
            n = len(gold)
            if _single_correlation(task, ref[task], key):
                sim_r, sim_o = _pooled(ref[task], "sim"), _pooled(other[task], "sim")
                r_o, r_r = correlation(gold, sim_o, metric), correlation(gold, sim_r, metric)
                r_ab = correlation(sim_o, sim_r, metric)
                p_w = williams_t2(r_o, r_r, r_ab, n)[1]
                p_s = steiger_z(r_o, r_r, r_ab, n)[1]
            delta = point(other[task], key) - point(ref[task], key)
        else:
            delta = float(np.mean([point(other[t], key) - point(ref[t], key) for t in tasks]))
        out.append(PairedResult(task, delta, percentile_interval(diff), paired_bootstrap_p(diff),
                                p_w, p_s, n))
    return out


def point(result: dict[str, Any], key: str) -> float:
    """A task's number in points under a no-regressor protocol (from its parts)."""
    tag = ProtocolTag.from_key(key)
    if result.get("kind") == "splits":
        return 100 * float(result["parts"]["test"][tag.metric])
    return 100 * aggregate_subsets(result["parts"], tag.metric, tag.aggregation)
