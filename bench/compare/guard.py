"""The protocol guard: put every row under one protocol, or refuse to rank them together.

A row can show a protocol if it stored that protocol's scores, or if it keeps the per-pair
data of every STS task and the protocol needs no regressor: then the numbers are
re-aggregated by the one scorer (``bench.scoring``). A regressor protocol cannot be
recomputed (it needs the regressor trained), and a literature row has only the aggregate
its paper printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.compare.rows import REAGGREGATED, Row
from bench.errors import ProtocolError
from bench.protocols import Protocol
from bench.results import ProtocolScores
from bench.tasks.registry import find
from bench.transfer_protocol import TransferProtocol

MIXED = "mixed"


@dataclass
class Placed:
    """A row's numbers under the protocol it is shown with, and how they were obtained."""

    row: Row
    protocol: Protocol
    scores: ProtocolScores
    how: str  # STORED | REAGGREGATED | MIXED

    @property
    def values(self) -> dict[str, float]:
        return self.scores.values


@dataclass
class Placement:
    target: Protocol
    placed: list[Placed]
    notes: list[str] = field(default_factory=list)


def _why_not(row: Row, target: Protocol) -> str:
    own = ", ".join(p.key for p in row.protocols) or "none"
    if target.regressor != "none":
        return (f"{row.label!r} ({row.path.name}) has no stored {target.key} scores and a "
                f"regressor protocol cannot be recomputed from stored pairs (it has: {own})")
    if row.kind == "literature":
        return (f"{row.label!r} ({row.source or row.path.name}) is a published aggregate under "
                f"{own}; without per-pair data it cannot be re-aggregated to {target.key}")
    return f"{row.label!r} ({row.path.name}) keeps no per-pair data and has only {own}"


def _default_target(rows: list[Row]) -> Protocol | None:
    """The first protocol every row can show, preferring what the reports themselves stored."""
    common = {p.key for p in rows[0].obtainable()}
    for row in rows[1:]:
        common &= {p.key for p in row.obtainable()}
    if not common:
        return None
    literature = [r for r in rows if r.kind == "literature"]
    candidates = [p for r in literature + rows for p in r.obtainable()]
    return next(p for p in candidates if p.key in common)


def task_conflicts(placed: list[Placed]) -> list[str]:
    """Rows holding different tasks over one corpus (the registry's ``corpus``: SentEval's
    SICK-R on 4,927 test pairs, MTEB's on all 9,927), one line per clash: under one protocol
    key they still measure different things, so they are not put side by side as alike."""

    held = [(p.row.label, set(p.values)) for p in placed]
    by_corpus: dict[str, set[str]] = {}
    for _, names in held:
        for name in names:
            meta = find(name)
            if meta is not None and meta.corpus:
                by_corpus.setdefault(meta.corpus, set()).add(name)
    out = []
    for corpus, names in sorted(by_corpus.items()):
        for a in sorted(names):
            for b in sorted(names):
                only_a = [lbl for lbl, ns in held if a in ns and b not in ns]
                only_b = [lbl for lbl, ns in held if b in ns and a not in ns]
                if a < b and only_a and only_b:
                    ma, mb = find(a), find(b)
                    out.append(f"{ma.label} ({', '.join(only_a)}: {ma.description}) and "
                               f"{mb.label} ({', '.join(only_b)}: {mb.description}) are "
                               f"different tasks over the {corpus} corpus")
    return out


def dimension_clash(placed: list[Placed]) -> str | None:
    """When a row is a truncated (Matryoshka) variant, every row must have its width: the
    rows and widths that differ, else None. Models of their own different widths rank."""
    width = {}
    for p in placed:
        model = p.row.report.model if p.row.report is not None else None
        if model is not None:
            width[p.row.label] = (model.embedding_dim, bool(model.extra.get("variant", {})
                                                           .get("dim")))
    if not any(cut for _, cut in width.values()) or len({d for d, _ in width.values()}) < 2:
        return None
    return ", ".join(f"{label} {d}d" for label, (d, _) in width.items())


def place(rows: list[Row], target: Protocol | None = None, allow_mixed: bool = False
          ) -> Placement:
    """Resolve one protocol for all STS rows (see module doc); ProtocolError if impossible."""
    rows = [r for r in rows if r.has_sts]
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
                keys += [p.key for p in r.protocols if p.key not in keys] or ["none"]
            held = "; ".join(f"{name}: {', '.join(keys)}" for name, keys in by_file.items())
            raise ProtocolError(
                "these reports share no protocol, so their numbers are not comparable "
                f"(stored protocols: {held}); pass --protocol KEY to re-aggregate runs that "
                "keep per-pair data, --sensitivity to see ranks per protocol, or --allow-mixed "
                "to list them side by side, marked and not ranked together")
        own = rows[0].obtainable()
        if not own:
            raise ProtocolError(f"{rows[0].path}: no STS protocol can be shown for "
                                f"{rows[0].label!r}")
        target = own[0]
    placed: list[Placed] = []
    refused: list[str] = []
    for row in rows:
        got = row.scores_under(target)
        if got is not None:
            placed.append(Placed(row, target, got[0], got[1]))
            continue
        if not allow_mixed:
            refused.append(_why_not(row, target))
            continue
        own = row.obtainable()
        if not own:
            raise ProtocolError(f"{row.path}: no STS protocol can be shown for {row.label!r}")
        scores, _ = row.scores_under(own[0])  # type: ignore[misc]
        placed.append(Placed(row, own[0], scores, MIXED))
    if refused:
        first = refused[0] + (f" (and {len(refused) - 1} more rows)" if len(refused) > 1 else "")
        raise ProtocolError(f"cannot put every report under {target.key}: {first}; "
                            "pass --allow-mixed to show them anyway, marked and not ranked")
    clashes = task_conflicts(placed)
    if clashes and not allow_mixed:
        raise ProtocolError(f"cannot compare: {clashes[0]}; measure both on one task (bench run "
                            "--protocol mteb scores MTEB's tasks), or pass --allow-mixed to "
                            "show both columns, marked")
    widths = dimension_clash(placed)  # Matryoshka variants (bench.variants) of other widths
    if widths and not allow_mixed:
        raise ProtocolError(f"cannot rank rows of different dimensions together: {widths}; "
                            "compare variants of one dimension, or pass --allow-mixed")
    notes = [f"protocol {target.key} ({how_chosen}; choose with --protocol)"]
    notes += [f"DIFFERENT TASKS, not comparable across their columns: {c}" for c in clashes]
    notes += [f"DIFFERENT DIMENSIONS: {widths}"] if widths else []
    reagg = sorted({p.row.label for p in placed if p.how == REAGGREGATED})
    if reagg:
        notes.append(f"re-aggregated from stored per-subset values to {target.key}: "
                     + ", ".join(reagg))
    if any(p.how == MIXED for p in placed):
        notes.append(f"MIXED rows are under another protocol than {target.key}: not "
                     "comparable, never bolded or ranked with the others")
    return Placement(target, placed, notes)


# ------------------------------------------------------------------------ transfer rows

UNKNOWN = "unknown"


@dataclass
class TransferPlacement:
    """Transfer rows with the protocol each was measured under; only rows under ``target``
    are ranked together (the others are shown only with --allow-mixed, marked)."""

    target: TransferProtocol | None
    rows: list[Row]
    how: list[str]  # per row: "same" | MIXED (another or an unknown protocol)

    def comparable(self) -> list[int]:
        return [i for i, h in enumerate(self.how) if h != MIXED]


def _transfer_key(row: Row) -> str:
    return row.transfer_protocol.key if row.transfer_protocol else UNKNOWN


def _setting(row: Row) -> str:
    where = row.source if row.kind == "literature" and row.source else row.path.name
    what = row.transfer_protocol.describe() if row.transfer_protocol else \
        "unknown (the table names no classifier setting)"
    return f"{row.label!r} ({where}): {what}"


def place_transfer(rows: list[Row], allow_mixed: bool = False) -> TransferPlacement | None:
    """One transfer protocol for every row with transfer results, or a one-line ProtocolError
    naming two rows' settings; with ``allow_mixed`` the others are kept, marked MIXED.

    The target is the published table's protocol when a literature row names one (the
    reference being reproduced), else the first run's. A row of unknown protocol is never
    comparable."""
    rows = [r for r in rows if r.transfer]
    if not rows:
        return None
    known = [r for r in rows if r.transfer_protocol is not None]
    first = next((r for r in known if r.kind == "literature"), known[0] if known else None)
    target = first.transfer_protocol if first else None
    how = ["same" if target is not None and _transfer_key(r) == target.key else MIXED
           for r in rows]
    odd = [r for r, h in zip(rows, how) if h == MIXED]
    if odd and not allow_mixed:
        other = odd[0]
        ref = first or next(r for r in rows if r is not other)
        more = f" (and {len(odd) - 1} more rows)" if len(odd) > 1 else ""
        raise ProtocolError(
            f"transfer results under different protocols are not comparable: {_setting(ref)}; "
            f"{_setting(other)}{more}; pass --allow-mixed to show them anyway, marked and not "
            "ranked")
    return TransferPlacement(target, rows, how)
