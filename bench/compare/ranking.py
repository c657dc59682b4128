"""Rankings of many models with their uncertainty: rank intervals and significance tiers.

Replicates: two bootstrap levels. Within each task the pairs are resampled exactly as for
the intervals and the paired test (``bench.compare.uncertainty``: every (task, part)
generator is seeded from the seed alone, so all models see the same resamples, paired);
then the tasks themselves are drawn with replacement, once per replicate and the same draw
for every model, and a model's replicate score is the mean of its replicate task numbers
over the drawn tasks. The observed score is the row's Avg. (the mean over the tasks).

- Rank interval: each replicate ranks the models (1 = best; equal scores share the best
  rank of their group); a model's interval is the central ``level`` share of its ranks
  (lower and upper quantile of the ranks as an inverted CDF), widened to hold its observed
  rank. The many-model analogue of a percentile interval (Hall & Miller 2009, "Using the
  bootstrap to quantify the authority of an empirical ranking", Ann. Statist. 37(6B)).
- Tiers: every pair of models is tested with the paired test of compare (normal
  approximation, ``bench.compare.stats.normal_bootstrap_p``) on the difference of their
  scores over these replicates, Holm-corrected over all pairs. Tier 1 is the best model and
  every model not separable from it; each next tier starts at the best model left and takes
  every model left not separable from that one.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from bench.compare.guard import Placement
from bench.compare.plan import testable_rows
from bench.compare.stats import adjust_p, normal_bootstrap_p
from bench.compare.uncertainty import row_replicates, same_pairs
from bench.protocols import Protocol
from bench.results import TaskResult
from bench.scoring import task_value
from bench.tablemodel import Cell, Table

LEVEL, ALPHA = 0.95, 0.05


@dataclass(frozen=True)
class RankInterval:
    """A model's rank (1-based, 1 = best), its interval ``low..high`` and its tier (1 = not
    separable from the best)."""

    model: str
    rank: int
    low: int
    high: int
    tier: int


def ranks(scores: np.ndarray) -> np.ndarray:
    """Competition ranks along the last axis, 1 = highest; equal scores share the best."""
    s = np.asarray(scores, dtype=np.float64)
    return (s[..., None, :] > s[..., :, None]).sum(axis=-1) + 1


def quantile_rank(values: np.ndarray, q: float) -> int:
    """The smallest rank whose empirical CDF reaches ``q`` (inverted-CDF quantile)."""
    return int(np.quantile(np.asarray(values), q, method="inverted_cdf"))


def tiers(observed: np.ndarray, replicates: np.ndarray, alpha: float = ALPHA,
          correction: str = "holm") -> list[int]:
    """Each model's tier (module doc) from its observed score (M,) and replicates (B, M)."""
    m = len(observed)
    pairs = [(i, j) for i in range(m) for j in range(i + 1, m)]
    raw = [float(normal_bootstrap_p(observed[i] - observed[j],
                                    replicates[:, i] - replicates[:, j])) for i, j in pairs]
    adjusted = dict(zip(pairs, adjust_p(raw, correction)))

    def separable(i: int, j: int) -> bool:
        p = adjusted[(min(i, j), max(i, j))]
        return bool(np.isfinite(p) and p < alpha)

    order = sorted(range(m), key=lambda i: -observed[i])
    out = [0] * m
    tier = 0
    for lead in order:
        if out[lead]:
            continue
        tier += 1
        for i in order:
            if not out[i] and (i == lead or not separable(lead, i)):
                out[i] = tier
    return out


def rank_intervals(models: list[str], observed: np.ndarray, replicates: np.ndarray,
                   level: float = LEVEL, alpha: float = ALPHA, correction: str = "holm"
                   ) -> list[RankInterval]:
    """Rank intervals and tiers (module doc) from observed scores (M,) and paired replicates
    (B, M), best first."""
    observed = np.asarray(observed, dtype=np.float64)
    replicates = np.asarray(replicates, dtype=np.float64)
    rank = ranks(observed)
    boot = ranks(replicates)
    tail = (1 - level) / 2
    tier = tiers(observed, replicates, alpha, correction)
    out = [RankInterval(name, int(rank[i]),
                        min(int(rank[i]), quantile_rank(boot[:, i], tail)),
                        max(int(rank[i]), quantile_rank(boot[:, i], 1 - tail)), tier[i])
           for i, name in enumerate(models)]
    return sorted(out, key=lambda r: (r.rank, models.index(r.model)))


def task_draws(tasks: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, tasks) task indices drawn with replacement, the same for every model."""
    rng = np.random.default_rng([seed, zlib.crc32(b"rank/tasks")])
    return rng.integers(0, tasks, size=(resamples, tasks))


def score_replicates(runs: list[dict[str, TaskResult]], names: list[str], protocol: Protocol,
                     resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Observed Avg. (M,) and two-level replicates (B, M) of runs scored on the same pairs."""
    per_task = np.stack([np.stack([reps[t] for t in names]) for reps in
                         (row_replicates(tasks, names, protocol, resamples, seed)
                          for tasks in runs)])  # (M, T, B)
    draws = task_draws(len(names), resamples, seed)  # (B, T)
    reps = per_task[:, draws, np.arange(resamples)[:, None]].mean(axis=-1)  # (M, B)
    observed = np.array([np.mean([task_value(tasks[t], protocol) for t in names])
                         for tasks in runs])
    return observed, reps.T


def rank_models(labels: list[str], runs: list[dict[str, TaskResult]], names: list[str],
                protocol: Protocol, resamples: int, seed: int, correction: str = "holm"
                ) -> list[RankInterval]:
    """Rank intervals and tiers of runs with per-pair data on the same pairs (``rankable``
    picks them)."""
    observed, reps = score_replicates(runs, names, protocol, resamples, seed)
    return rank_intervals(labels, observed, reps, correction=correction)


def rankable(labels: list[str], runs: list[dict[str, TaskResult]], names: list[str]
             ) -> tuple[list[str], list[dict[str, TaskResult]], list[str]]:
    """The runs scored on the first one's pairs, and one note per run left out."""
    keep_l, keep_r, left = [labels[0]], [runs[0]], []
    for label, tasks in zip(labels[1:], runs[1:]):
        why = same_pairs(runs[0], tasks, names)
        if why:
            left.append(f"{label}: not on the same pairs ({why}), not ranked")
        else:
            keep_l.append(label)
            keep_r.append(tasks)
    return keep_l, keep_r, left


def rank_table(intervals: list[RankInterval], key: str, resamples: int, seed: int,
               notes: list[str] = (), level: float = LEVEL) -> Table:
    """The rank table of compare (terminal, md, json, csv) and the page."""
    rows = [[Cell(r.model), Cell(str(r.rank)), Cell(f"{r.low}-{r.high}"), Cell(str(r.tier))]
            for r in intervals]
    text = [f"rank by Avg. under {key}; {level:.0%} rank interval from {resamples} two-level "
            f"bootstrap replicates (pairs within each task, then the tasks; seed {seed}); "
            "tier 1: not separable from the best (paired test on the scores over these "
            f"replicates, Holm over every pair of models, p < {ALPHA}); each next tier starts "
            "at the best model left", *notes]
    return Table("Rank intervals", ["Model", "Rank", f"{level:.0%} interval", "Tier"], rows,
                 text, label_columns=4,
                 data={"ranks": [{"model": r.model, "rank": r.rank, "low": r.low,
                                  "high": r.high, "tier": r.tier} for r in intervals]})


def placement_ranks(placement: Placement, resamples: int, seed: int, correction: str = "holm"
                    ) -> tuple[list[RankInterval], list[str]]:
    """Rank intervals and tiers of a placement's single-seed rows with per-pair data under
    its protocol (what compare and the page show), and one note per row left out."""
    can = testable_rows(placement)
    placed = placement.placed
    single = [i for i in can if (placed[i].row.seed_count or 1) <= 1]
    notes = [f"{placed[i].row.label}: multi-seed, not ranked (its score is a mean over seeds)"
             for i in can if i not in single]
    if len(single) < 2:
        return [], notes
    names = list(placed[single[0]].values)
    labels, runs = [], []
    for i in single:
        if list(placed[i].values) != names:
            notes.append(f"{placed[i].row.label}: other tasks than {placed[single[0]].row.label}"
                         ", not ranked")
            continue
        labels.append(placed[i].row.label)
        runs.append(placed[i].row.report.tasks)
    labels, runs, left = rankable(labels, runs, names)
    notes += left
    if len(runs) < 2:
        return [], notes
    return rank_models(labels, runs, names, placement.target, resamples, seed, correction), notes
