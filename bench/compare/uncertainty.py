"""Bootstrap intervals and paired tests for STS numbers, from a run's per-pair data.

Resampling follows the protocol: pairs are drawn with replacement within each scored part (the
subsets of an STS year, or the test split of STS-B / SICK-R), and the task's number is
recomputed from the resampled parts by the one scorer (``bench.scoring.aggregate``, row-wise).
The generator of each (task, part) is seeded from ``(seed, task, part)`` alone, so two models
evaluated on the same pairs get the same resamples: that is what makes the paired bootstrap
paired.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from bench.aggregation import pools
from bench.compare.stats import (
    BLOCK_ELEMENTS,
    block_rows,
    normal_bootstrap_p,
    percentile_interval,
    steiger_z,
    williams_t2,
)
from bench.correlation import LEGACY_TIES, correlation
from bench.protocols import Protocol
from bench.results import PartResult, TaskResult
from bench.scoring import aggregate, task_value

RESAMPLES, BOOT_SEED, LEVEL = 1000, 1111, 0.95  # the seed-and-test-set interval's settings


def scored_parts(task: TaskResult) -> dict[str, PartResult]:
    """The parts a protocol scores: every subset of a year, or the test split."""
    return {name: task.parts[name] for name in task.eval_parts}


def _rng(seed: int, task: str, part: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(f"{task}/{part}".encode())])


def task_replicates(task: TaskResult, protocol: Protocol, resamples: int, seed: int,
                    budget: int = BLOCK_ELEMENTS) -> np.ndarray:
    """Bootstrap replicates (points) of one task's number under a no-regressor protocol.

    Computed in blocks of replicates of at most ``budget`` drawn pairs (all parts together),
    so memory stays bounded for any task size. Each part's generator is drawn row after row
    as one ``(resamples, n)`` draw would be, and every replicate depends only on its own row,
    so the replicates equal the unblocked computation bit for bit.

    The replicates depend only on the task's per-pair data and these arguments, so they are
    computed once per task result and reused (read-only) by the intervals, the paired tests
    and the rank intervals of one compare or page."""
    key = (protocol.metric, protocol.aggregation, resamples, seed, budget)
    memo = task.__dict__.setdefault("_replicates", {})
    if key not in memo:
        memo[key] = _task_replicates(task, protocol, resamples, seed, budget)
        memo[key].flags.writeable = False
    return memo[key]


def _task_replicates(task: TaskResult, protocol: Protocol, resamples: int, seed: int,
                     budget: int) -> np.ndarray:
    parts = scored_parts(task)
    sims = [np.asarray(p.sim, dtype=np.float64) for p in parts.values()]
    golds = [np.asarray(p.gold, dtype=np.float64) for p in parts.values()]
    rngs = [_rng(seed, task.name, name) for name in parts]
    total = sum(p.n for p in parts.values())
    out = []
    for rows in block_rows(total, resamples, budget):
        idx = [rng.integers(0, p.n, size=(rows, p.n), dtype=np.int64)
               for rng, p in zip(rngs, parts.values())]
        out.append(aggregate([s[i] for s, i in zip(sims, idx)], [g[i] for g, i in zip(golds, idx)],
                             protocol.metric, protocol.aggregation, rowwise=True,
                             ties=task.ties))
    return 100 * (np.concatenate(out) if out else np.empty(0))


def row_replicates(tasks: dict[str, TaskResult], names: list[str], protocol: Protocol,
                   resamples: int, seed: int) -> dict[str, np.ndarray]:
    """Replicates in points for every task and for their unweighted average ("avg")."""
    reps = {t: task_replicates(tasks[t], protocol, resamples, seed) for t in names}
    reps["avg"] = np.mean(np.stack([reps[t] for t in names]), axis=0)
    return reps


def intervals(tasks: dict[str, TaskResult], names: list[str], protocol: Protocol,
              resamples: int = 1000, seed: int = 1111, level: float = 0.95
              ) -> dict[str, tuple[float, float]]:
    """95% percentile interval of every task's number and of Avg., in points."""
    reps = row_replicates(tasks, names, protocol, resamples, seed)
    return {t: percentile_interval(r, level) for t, r in reps.items()}


def pooled_intervals(runs: list[dict[str, TaskResult]], names: list[str], protocol: Protocol,
                     resamples: int = RESAMPLES, seed: int = BOOT_SEED, level: float = LEVEL
                     ) -> dict[str, tuple[float, float]] | None:
    """Seed-and-test-set interval of every task and of Avg. (``bench.seeds``' module doc); None when a
    seed lacks per-pair data or the protocol needs a regressor (not recomputable)."""
    if protocol.regressor != "none":
        return None
    for tasks in runs:
        if any(tasks[n].parts[p].sim is None for n in names for p in tasks[n].eval_parts):
            return None
    reps = [row_replicates(tasks, names, protocol, resamples, seed) for tasks in runs]
    return {k: percentile_interval(np.concatenate([r[k] for r in reps]), level)
            for k in [*names, "avg"]}


def row_intervals(row, names: list[str], protocol: Protocol, resamples: int = 1000,
                  seed: int = 1111) -> dict[str, tuple[float, float]]:
    """Intervals of a compare row (``bench.compare.rows.Row``): the seed-and-test-set
    interval of a multi-seed row (``pooled_intervals``), else the test-set one."""
    if row.seed_pairs:
        return pooled_intervals([r.tasks for r in row.report.seeds.runs], names, protocol,
                                resamples, seed) or {}
    return intervals(row.report.tasks, names, protocol, resamples, seed)




def same_pairs(a: dict[str, TaskResult], b: dict[str, TaskResult], names: list[str]
               ) -> str | None:
    """None when both runs scored the same pairs (same parts, counts, gold); else why not."""
    for task in names:
        pa, pb = scored_parts(a[task]), scored_parts(b[task])
        if list(pa) != list(pb):
            return f"{task}: different subsets"
        for name in pa:
            if not np.array_equal(np.asarray(pa[name].gold), np.asarray(pb[name].gold)):
                return f"{task}/{name}: different pairs or gold scores"
    return None


@dataclass
class PairedResult:
    task: str
    delta: float  # points, model minus reference
    delta_ci: tuple[float, float]
    p_bootstrap: float  # normal-approximation paired bootstrap (bench.compare.stats)
    p_williams: float  # NaN where the number is an average of subset correlations
    p_steiger: float
    n: int
    p_adjusted: float = float("nan")  # p_bootstrap corrected over the tested family
    p_floor: float = 0.0  # the smallest p the test can give (none: it is not resample-bound)


def _pooled(task: TaskResult, what: str) -> np.ndarray:
    return np.concatenate([np.asarray(getattr(p, what), dtype=np.float64)
                           for p in scored_parts(task).values()])


def paired_tests(ref: dict[str, TaskResult], other: dict[str, TaskResult], names: list[str],
                 protocol: Protocol, resamples: int = 1000, seed: int = 1111
                 ) -> list[PairedResult]:
    """Model ``other`` against ``ref`` on the same pairs, for every task and the average."""
    metric = protocol.metric
    rep_ref = row_replicates(ref, names, protocol, resamples, seed)
    rep_oth = row_replicates(other, names, protocol, resamples, seed)
    deltas = {t: task_value(other[t], protocol) - task_value(ref[t], protocol) for t in names}
    out = []
    for task in [*names, "avg"]:
        diff = rep_oth[task] - rep_ref[task]
        p_w = p_s = float("nan")
        n = 0
        if task != "avg":
            gold = _pooled(ref[task], "gold")
            n = len(gold)
            # Williams/Steiger apply to one correlation: a split, or a year pooled with "all".
            if len(ref[task].eval_parts) == 1 or pools(protocol.aggregation):
                sim_r, sim_o = _pooled(ref[task], "sim"), _pooled(other[task], "sim")
                t_o, t_r = other[task].ties, ref[task].ties
                r_o = correlation(gold, sim_o, metric, t_o)
                r_r = correlation(gold, sim_r, metric, t_r)
                r_ab = correlation(sim_o, sim_r, metric, t_o if t_o == t_r else LEGACY_TIES)
                p_w = williams_t2(r_o, r_r, r_ab, n)[1]
                p_s = steiger_z(r_o, r_r, r_ab, n)[1]
            delta = deltas[task]
        else:
            delta = float(np.mean(list(deltas.values())))
        out.append(PairedResult(task, delta, percentile_interval(diff),
                                float(normal_bootstrap_p(delta, diff)), p_w, p_s, n))
    return out
