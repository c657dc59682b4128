"""The protocol guard: put every row under one protocol, or refuse to rank them together.

A row can show a protocol if it stored that protocol's scores, or if it keeps the per-pair
data of every STS task and the protocol needs no regressor: then the numbers are
re-aggregated here with ``bench.aggregate.aggregate_subsets`` (protocols.md section 2).
A regressor protocol cannot be recomputed (it needs the regressor trained), and a
literature row has only the aggregate its paper printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from bench.aggregate import aggregate_subsets
from bench.compare.rows import NO_REGRESSOR_KEYS, ProtocolTag, Row
from bench.errors import ProtocolError
from bench.protocols import load_presets

STORED, REAGGREGATED, MIXED = "stored", "re-aggregated", "mixed"


@dataclass
class Placed:
    """A row's numbers under the protocol it is shown with, and how they were obtained."""

    row: Row
    protocol: str
    values: dict[str, float]  # task -> points, plus "avg"
    how: str  # STORED | REAGGREGATED | MIXED


@dataclass
class Placement:
    target: str
    placed: list[Placed]
    notes: list[str] = field(default_factory=list)

    @property
    def mixed(self) -> bool:
        return any(p.how == MIXED for p in self.placed)


def parse_target(text: str) -> str:
    """``--protocol``: a spelled key (``wmean-spearman``, ``mean-pearson-reg``) or a preset
    that names exactly one protocol."""
    key = text.strip().lower()
    if re.match(r"^(all|mean|wmean)-(spearman|pearson)(-reg)?$", key):
        return key
    presets = load_presets()
    if text in presets:
        protos = presets[text].protocols
        if len(protos) != 1:
            raise ProtocolError(f"preset {text!r} names {len(protos)} protocols "
                                f"({', '.join(p.key for p in protos)}); give one")
        return protos[0].key
    raise ProtocolError(f"unknown protocol {text!r}; valid: "
                        f"{', '.join(sorted(presets) + list(NO_REGRESSOR_KEYS))}, or a key + '-reg'")


def reaggregate(row: Row, key: str) -> dict[str, float]:
    """Scores in points under a no-regressor protocol, from the row's per-pair data."""
    tag = ProtocolTag.from_key(key)
    assert row.sts is not None and tag.regressor == "none"
    values = {}
    for task in row.sts_tasks:
        res = row.sts[task]
        if res.get("kind") == "splits":
            values[task] = 100 * float(res["parts"]["test"][tag.metric])
        else:
            values[task] = 100 * aggregate_subsets(res["parts"], tag.metric, tag.aggregation)
    values["avg"] = float(np.mean(list(values.values())))
    return values


def values_under(row: Row, key: str) -> tuple[dict[str, float], str] | None:
    """The row's numbers under ``key`` and how they were obtained, or None if impossible."""
    if key in row.scores:
        return dict(row.scores[key]), STORED
    if key in NO_REGRESSOR_KEYS and row.has_parts:
        return reaggregate(row, key), REAGGREGATED
    return None


def _why_not(row: Row, key: str) -> str:
    own = ", ".join(row.scores) or "none"
    if key not in NO_REGRESSOR_KEYS:
        return (f"{row.label!r} ({row.path.name}) has no stored {key} scores and a regressor "
                f"protocol cannot be recomputed from stored pairs (it has: {own})")
    if row.kind == "literature":
        return (f"{row.label!r} ({row.source or row.path.name}) is a published aggregate under "
                f"{own}; without per-pair data it cannot be re-aggregated to {key}")
    return (f"{row.label!r} ({row.path.name}) keeps no per-pair data and has only {own}")


def _default_target(rows: list[Row]) -> str | None:
    """The first protocol every row can show, preferring what the reports themselves stored."""
    common = set(rows[0].obtainable())
    for row in rows[1:]:
        common &= set(row.obtainable())
    if not common:
        return None
    literature = [r for r in rows if r.kind == "literature"]
    order = [p.key for r in literature + rows for p in r.protocols] + list(NO_REGRESSOR_KEYS)
    return next(k for k in order if k in common)


def place(rows: list[Row], target: str | None = None, allow_mixed: bool = False) -> Placement:
    """Resolve one protocol for all STS rows (see module doc); ProtocolError if impossible."""
    rows = [r for r in rows if r.scores or r.sts]
    if not rows:
        raise ProtocolError("none of the reports has STS scores")
    how_chosen = "as asked" if target is not None else "common to every report"
    if target is None:
        target = _default_target(rows)
    if target is None:
        how_chosen = "the first report's; no protocol is common to every report"
        if not allow_mixed:
            by_file: dict[str, list[str]] = {}
            for r in rows:
                keys = by_file.setdefault(r.path.name, [])
                keys += [k for k in (r.scores or ["none"]) if k not in keys]
            held = "; ".join(f"{name}: {', '.join(keys)}" for name, keys in by_file.items())
            raise ProtocolError(
                "these reports share no protocol, so their numbers are not comparable "
                f"(stored protocols: {held}); pass --protocol KEY to re-aggregate runs that "
                "keep per-pair data, --sensitivity to see ranks per protocol, or --allow-mixed "
                "to list them side by side, marked and not ranked together")
        target = rows[0].obtainable()[0] if rows[0].obtainable() else None
        if target is None:
            raise ProtocolError(f"{rows[0].path}: no STS protocol can be shown for "
                                f"{rows[0].label!r}")
    placed: list[Placed] = []
    refused: list[str] = []
    for row in rows:
        got = values_under(row, target)
        if got is not None:
            placed.append(Placed(row, target, got[0], got[1]))
            continue
        if not allow_mixed:
            refused.append(_why_not(row, target))
            continue
        own = row.obtainable()
        if not own:
            raise ProtocolError(f"{row.path}: no STS protocol can be shown for {row.label!r}")
        values, _ = values_under(row, own[0])  # type: ignore[misc]
        placed.append(Placed(row, own[0], values, MIXED))
    if refused:
        first = refused[0] + (f" (and {len(refused) - 1} more rows)" if len(refused) > 1 else "")
        raise ProtocolError(f"cannot put every report under {target}: {first}; "
                            "pass --allow-mixed to show them anyway, marked and not ranked")
    notes = []
    reagg = sorted({p.row.label for p in placed if p.how == REAGGREGATED})
    if reagg:
        notes.append(f"re-aggregated from stored per-subset values to {target}: "
                     + ", ".join(reagg))
    if any(p.how == MIXED for p in placed):
        notes.append(f"MIXED rows are under another protocol than {target}: not comparable, "
                     "never bolded or ranked with the others")
    notes.insert(0, f"protocol {target} ({how_chosen}; choose with --protocol)")
    return Placement(target, placed, notes)
