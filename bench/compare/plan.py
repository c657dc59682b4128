"""The one significance-test plan of ``bench compare --significance`` and the HTML page.

Under each protocol asked for, every testable row is tested against the first testable row:
a paired bootstrap (with Williams' and Steiger's tests) between single-seed runs scored on
the same pairs, a permutation test over seeds between multi-seed runs; a single-seed run
against a multi-seed one is not tested (``bench.compare.seedtests``). The p-values of every
protocol form one family, corrected together. compare asks for it ``strict`` (a row that
cannot be tested is an error, the user named these reports); the page asks leniently (such
a row is shown untested).

The family is what a user tests (``FAMILY_SCOPES``): by default the comparisons x tasks (and
Avg.) under the primary protocol, the first asked for; every other protocol is a
sensitivity view corrected over its own cells, since protocol variants of the same pairs are
not independent discoveries. ``all`` corrects every protocol as one family, where a number
identical across protocols (a one-part task under all, mean and wmean) is tested once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.compare.guard import MIXED, Placement
from bench.compare.rows import Row
from bench.compare.seedtests import apply_correction, raw_p, seed_tests, seed_values
from bench.compare.uncertainty import paired_tests, same_pairs
from bench.errors import BenchError
from bench.protocols import Protocol


def testable(row: Row, protocol: Protocol) -> bool:
    """Its numbers under ``protocol`` can be recomputed from per-pair data (so intervals and
    tests apply): a run with per-pair data (one seed or several), a no-regressor protocol."""
    return protocol.regressor == "none" and bool(row.has_pairs or row.seed_pairs)


def testable_rows(placement: Placement) -> list[int]:
    """Indices of the placed rows that are testable and under the placement's protocol."""
    return [i for i, p in enumerate(placement.placed)
            if p.how != MIXED and testable(p.row, placement.target)]


@dataclass
class Comparison:
    """One row against the reference row: its tests (``PairedResult`` or ``SeedTest``), one
    per task and Avg."""

    index: int  # the row's place in the placement
    label: str
    tests: list[Any]
    over_seeds: bool
    keys: list[tuple] = field(default_factory=list)  # per test: equal keys = the same test


@dataclass
class ProtocolTests:
    """Every comparison under one protocol."""

    key: str
    reference: str  # the reference row's label
    reference_index: int | None
    names: list[str]  # the tasks tested (then "avg")
    comparisons: list[Comparison] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)  # single-seed vs multi-seed, why

    def by_label(self, over_seeds: bool) -> dict[str, list[Any]]:
        """label -> tests, for the paired (False) or the seed (True) comparisons."""
        return {c.label: c.tests for c in self.comparisons if c.over_seeds == over_seeds}

    def tests(self) -> list[Any]:
        return [t for c in self.comparisons for t in c.tests]

    def keys(self) -> list[tuple]:
        return [k for c in self.comparisons for k in c.keys]


FAMILY_SCOPES = ("primary", "all")


def _keys(placement: Placement, ref: int, other: int, tests: list[Any]) -> list[tuple]:
    """What makes two tests the same one: the two rows, the cell, the metric, both numbers
    and the p (identical across protocols only when the same pairs give the same number)."""
    placed = placement.placed

    def value(i: int, task: str) -> float:
        if task == "avg":
            return placed[i].scores.average.value if placed[i].scores.average else float("nan")
        return placed[i].values.get(task, float("nan"))

    who = (str(placed[ref].row.path), placed[ref].row.label, str(placed[other].row.path),
           placed[other].row.label)
    return [(*who, t.task, placement.target.metric, value(ref, t.task),
             value(other, t.task), raw_p(t)) for t in tests]


def tests_under(placement: Placement, resamples: int, seed: int, strict: bool = True
                ) -> ProtocolTests:
    """Every testable row against the first under the placement's protocol. ``strict``:
    fewer than two testable rows, other tasks or other pairs than the reference raise a
    ``BenchError`` (compare); else those rows are skipped (the page)."""
    target, placed = placement.target, placement.placed
    can = testable_rows(placement)
    if len(can) < 2:
        if strict:
            raise BenchError("--significance needs two run reports with per-pair data under "
                             f"the same no-regressor protocol (found {len(can)} under "
                             f"{target.key})")
        first = placed[can[0]] if can else None
        return ProtocolTests(target.key, first.row.label if first else "",
                             can[0] if can else None, list(first.values) if first else [])
    ref = placed[can[0]].row
    names = list(placed[can[0]].values)
    plan = ProtocolTests(target.key, ref.label, can[0], names)
    for i in can[1:]:
        other = placed[i].row
        if list(placed[i].values) != names:
            if strict:
                raise BenchError(f"{other.path}: scores other tasks than {ref.path}")
            continue
        if (ref.seed_count > 1) != (other.seed_count > 1):
            plan.untested.append(f"{other.label} ({other.seed_count} seed(s)) vs {ref.label} "
                                 f"({ref.seed_count} seed(s))")
            continue
        if ref.seed_count > 1:
            found = seed_tests(seed_values(ref.report, target, names),
                               seed_values(other.report, target, names))
            plan.comparisons.append(Comparison(i, other.label, found, True,
                                               _keys(placement, can[0], i, found)))
            continue
        why = same_pairs(ref.report.tasks, other.report.tasks, names)
        if why:
            if strict:
                raise BenchError(f"{other.path} and {ref.path} were not scored on the same "
                                 f"pairs ({why}); a paired test needs the same pairs")
            continue
        found = paired_tests(ref.report.tasks, other.report.tasks, names, target, resamples,
                             seed)
        plan.comparisons.append(Comparison(i, other.label, found, False,
                                           _keys(placement, can[0], i, found)))
    return plan


def significance(placements: list[Placement], correction: str, resamples: int, seed: int,
                 strict: bool = True, scope: str = "primary") -> tuple[list[ProtocolTests], int]:
    """The tests under every protocol, their p corrected (``p_adjusted`` set in place) over
    the family ``scope`` names (module doc); returns them and the size of the family the
    claims rest on (the primary protocol's, or the whole one's; distinct tests, finite p)."""
    if scope not in FAMILY_SCOPES:
        raise ValueError(f"unknown family scope {scope!r}")
    plans = [tests_under(pl, resamples, seed, strict) for pl in placements]
    if scope == "all":
        size = apply_correction([t for plan in plans for t in plan.tests()], correction,
                                [k for plan in plans for k in plan.keys()])
        return plans, size
    sizes = [apply_correction(plan.tests(), correction, plan.keys()) for plan in plans]
    return plans, sizes[0] if sizes else 0
