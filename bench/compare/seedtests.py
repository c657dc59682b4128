"""Differences between multi-seed models, tested over seeds; the family of a --significance run.

Test over seeds: an exact **permutation test** of the difference of the per-seed means
(``bench.compare.stats.seed_permutation_p``). Chosen over Almost Stochastic Order (Dror et
al. 2019; Ulmer et al. 2022, the deep-significance package) because it answers the question
the table asks (is the mean over seeds different?) with a p-value, which is what the family
correction (Holm) takes alongside the per-pair bootstrap p of single-seed comparisons; ASO
returns a violation ratio epsilon_min with its own threshold, and with a handful of seeds
its score distributions are only the seeds themselves. The permutation test is exact under
exchangeable seeds and assumes no distribution; its price is resolution: with 3 seeds
against 3 the smallest two-sided p is 0.1, so a difference can only be called significant
with at least 4 seeds a side.

A single-seed model compared with a multi-seed one is not tested: one run's number carries
the seed variance that the other side averages out, so neither test applies; the table
flags such a row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bench.compare.stats import adjust_p, seed_permutation_p
from bench.compare.tables import label
from bench.protocols import Protocol
from bench.results import RunReport
from bench.tablemodel import Cell, Table


@dataclass
class SeedTest:
    task: str  # a task name or "avg"
    delta: float  # points: mean over the model's seeds minus the reference's
    p: float
    seeds: tuple[int, int]  # seed counts, (model, reference)
    p_adjusted: float = float("nan")

    @property
    def p_floor(self) -> float:
        """The smallest p the exact permutation test can give: 2 / C(n_a + n_b, n_a)."""
        return min(1.0, 2 / math.comb(self.seeds[0] + self.seeds[1], self.seeds[0]))


def seed_values(report: RunReport, protocol: Protocol, names: list[str]
                ) -> dict[str, list[float]] | None:
    """Per-seed numbers of each task and of Avg. under ``protocol``; None if unobtainable."""
    per_seed = report.seed_scores(protocol)
    if per_seed is None:
        return None
    out = {t: [s.values[t] for s in per_seed] for t in names}
    out["avg"] = [float(np.mean([s.values[t] for t in names])) for s in per_seed]
    return out


def seed_tests(ref: dict[str, list[float]], other: dict[str, list[float]]) -> list[SeedTest]:
    return [SeedTest(t, float(np.mean(other[t]) - np.mean(ref[t])),
                     seed_permutation_p(other[t], ref[t]), (len(other[t]), len(ref[t])))
            for t in ref]


def raw_p(test: object) -> float:
    """The p a family correction adjusts: a paired test's bootstrap p, a seed test's p."""
    return float(getattr(test, "p_bootstrap", getattr(test, "p", float("nan"))))


def apply_correction(tests: list, method: str, keys: list | None = None) -> int:
    """Adjust the p of every test in ``tests`` (objects with ``p`` or ``p_bootstrap``) as one
    family, in place; returns the family size (distinct tests with a finite p).

    ``keys`` (one per test): tests with equal keys are one test, counted once in the family
    and given the same adjusted p (STS-B under all, mean and wmean is the same number on the
    same pairs: the same hypothesis, not three discoveries)."""
    keys = list(range(len(tests))) if keys is None else keys
    first: dict = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    distinct = list(first.values())
    adjusted = dict(zip(distinct, adjust_p([raw_p(tests[i]) for i in distinct], method)))
    for t, k in zip(tests, keys):
        t.p_adjusted = adjusted[first[k]]
    return int(np.isfinite(np.asarray([raw_p(tests[i]) for i in distinct],
                                      dtype=np.float64)).sum())


def unreachable(tests: list, size: int, method: str, alpha: float = 0.05) -> str | None:
    """One line when no test of the family can be significant after the correction: its
    smallest achievable p (``p_floor``: the permutation test's 2 / C(n_a + n_b, n_a); 0 for
    the paired bootstrap, which is not resample-bound) times the family size reaches
    ``alpha`` (Holm's and Bonferroni's first step); None when some test can be."""
    floors = [float(getattr(t, "p_floor", 0.0)) for t in tests if np.isfinite(raw_p(t))]
    if not floors or size == 0:
        return None
    factor = 1 if method == "none" else size
    best = min(floors)
    if best * factor < alpha:
        return None
    return (f"significance unreachable: the family has {size} tests and its smallest "
            f"achievable p is {best:.3g} ({best:.3g} x {factor} >= {alpha} after "
            f"--correction {method}); test fewer protocols or compare more seeds")


def family_note(size: int, comparisons: int, names: list[str], keys: list[str],
                method: str, scope: str = "primary") -> str:
    """The family a correction ran over: comparisons x cells (tasks, Avg.) [x protocols]."""
    cells = ", ".join(label(t) for t in names) + ", Avg."
    how = {"holm": "Holm's step-down correction", "bonferroni": "Bonferroni correction",
           "none": "no correction"}[method]
    if len(keys) == 1:
        note = (f"family: {size} tests = {comparisons} comparison(s) x {len(names) + 1} cells "
                f"({cells}) x 1 protocol(s) ({keys[0]}); p adj: {how} over the whole family "
                f"(--correction {method}); raw p beside it")
    elif scope == "all":
        note = (f"family: {size} tests over {comparisons} comparison(s) x {len(names) + 1} "
                f"cells ({cells}) x {len(keys)} protocol(s) ({', '.join(keys)}), a number "
                f"identical across protocols tested once; p adj: {how} over the whole family "
                f"(--correction {method}); raw p beside it")
    else:
        note = (f"family: {size} tests = {comparisons} comparison(s) x {len(names) + 1} cells "
                f"({cells}) under the primary protocol {keys[0]}; p adj: {how} over that "
                f"family (--correction {method}); raw p beside it; the other protocols "
                f"({', '.join(keys[1:])}) are a sensitivity view, each corrected over its "
                "own cells (--family all: one family over every protocol)")
    return note


def seed_table(reference: str, results: dict[str, list[SeedTest]], key: str,
               correction: str) -> Table:
    columns = ["Model", "vs", "Task", "Delta", "p (seed permutation)", f"p adj ({correction})",
               "seeds"]
    rows = [[Cell(model), Cell(reference), Cell("Avg." if r.task == "avg" else label(r.task)),
             Cell(r.delta), Cell(r.p), Cell(r.p_adjusted), Cell(f"{r.seeds[0]} vs {r.seeds[1]}")]
            for model, res in results.items() for r in res]
    notes = [f"Delta = mean over the model's seeds minus the reference's, points under {key}; "
             "p: exact permutation test over seeds of the difference of means (the smallest "
             "possible p is 2 / C(n_a + n_b, n_a), 0.1 for 3 seeds against 3)"]
    return Table("Significance over training seeds", columns, rows, notes, label_columns=3)
