"""Protocol sensitivity: how much the protocol alone moves numbers and rankings.

One model: every protocol it can show, side by side (STS12 ... Avg.). Several models: each
model's number under each protocol with its rank there, and the pairs of models whose order
flips between protocols (what the SimCSE paper's Table B.2 shows for BERT-whitening NLI vs
target under "all" and "wmean"). Averages over different task sets are never ranked together.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

from bench.compare.rows import Row
from bench.compare.tables import label, same_task_set
from bench.errors import ProtocolError
from bench.protocols import every_combination
from bench.results import ProtocolScores
from bench.tablemodel import Cell, Table
from bench.tasks.registry import ordered

Entry = dict[str, tuple[ProtocolScores, str]]  # protocol key -> (scores, how)


def by_model(rows: list[Row]) -> dict[str, Entry]:
    """label -> protocol key -> (scores, how); literature rows of one model merge."""
    models: dict[str, Entry] = {}
    for row in rows:
        if not row.has_sts:
            continue
        entry = models.setdefault(row.label, {})
        for proto in row.obtainable():
            got = row.scores_under(proto)
            if got is not None and proto.key not in entry:
                entry[proto.key] = got
    return models


def key_order(keys: set[str]) -> list[str]:
    """Protocol keys in the canonical order (bench.protocols.every_combination), then any
    others sorted: the order of sensitivity tables and of the page's protocol switcher."""
    known = [p.key for p in every_combination()]
    return [k for k in known if k in keys] + sorted(keys - set(known))


def one_model(name: str, entry: Entry) -> Table:
    tasks = ordered(sorted({t for s, _ in entry.values() for t in s.values}))
    columns = ["Protocol", "How"] + [label(t) for t in tasks] + ["Avg."]
    rows = []
    for k in key_order(set(entry)):
        scores, how = entry[k]
        avg = scores.average.value if scores.average else None
        rows.append([Cell(k), Cell(how)] + [Cell(scores.values.get(t)) for t in tasks]
                    + [Cell(avg)])
    return Table(f"{name}: every protocol it can show", columns, rows,
                 ["the same embeddings and pairs; only the protocol differs"], label_columns=2)


def rank_flips(values: dict[str, dict[str, float]]) -> list[tuple[str, str, str, str]]:
    """(model a, model b, key where a leads, key where b leads) for every reversed order."""
    flips = []
    for a, b in itertools.combinations(values, 2):
        shared = [k for k in values[a] if k in values[b]]
        ahead = [k for k in shared if values[a][k] > values[b][k]]
        behind = [k for k in shared if values[a][k] < values[b][k]]
        if ahead and behind:
            flips.append((a, b, ahead[0], behind[0]))
    return flips


def _column_value(scores: ProtocolScores, column: str) -> tuple[float | None, tuple | None]:
    if column == "avg":
        avg = scores.average
        return (avg.value, tuple(sorted(avg.tasks))) if avg else (None, None)
    return scores.values.get(column), None


def column_values(models: dict[str, Entry], column: str = "avg"
                  ) -> tuple[list[str], dict[str, dict[str, float]], list[str]]:
    """(protocol keys, model -> key -> number in ``column``, models left unranked because
    their Avg. covers other tasks)."""
    keys = key_order({k for e in models.values() for k in e})
    values: dict[str, dict[str, float]] = {}
    sets: dict[str, tuple | None] = {}
    for m, e in models.items():
        values[m] = {}
        for k in keys:
            if k in e:
                v, task_set = _column_value(e[k][0], column)
                if v is not None:
                    values[m][k] = v
                    sets.setdefault(m, task_set)
    excluded: list[str] = []
    if column == "avg":
        main = same_task_set(list(sets.values()))
        excluded = [m for m in values if sets.get(m) != main]
    return keys, values, excluded


def ranks_per_protocol(keys: list[str], ranked: dict[str, dict[str, float]]
                       ) -> dict[str, dict[str, int]]:
    ranks: dict[str, dict[str, int]] = {}
    for k in keys:
        order = sorted((m for m in ranked if k in ranked[m]), key=lambda m: -ranked[m][k])
        ranks[k] = {m: i + 1 for i, m in enumerate(order)}
    return ranks


def many_models(models: dict[str, Entry], column: str = "avg") -> Table:
    keys, values, excluded = column_values(models, column)
    ranked = {m: v for m, v in values.items() if m not in excluded}
    ranks = ranks_per_protocol(keys, ranked)
    flips = rank_flips(ranked)
    flipped = {m for f in flips for m in f[:2]}
    rows = []
    for m, own in values.items():
        cells = [Cell(m)]
        for k in keys:
            v = own.get(k)
            rank = ranks[k].get(m)
            text = None if v is None else (f"{v:.2f} (#{rank})" if rank else f"{v:.2f} (-)")
            cells.append(Cell(text))
        cells.append(Cell("yes" if m in flipped else ""))
        rows.append(cells)
    name = "Avg." if column == "avg" else label(column)
    notes = [(f"{name} under each protocol, with the rank among the models that have it; "
              "each column is ranked on its own, never across protocols")]
    if excluded:
        notes.append("not ranked, their Avg. covers other tasks: " + ", ".join(excluded))
    notes += [f"rank flip: {a} ahead of {b} under {ka}, behind under {kb}"
              for a, b, ka, kb in flips[:12]]
    if len(flips) > 12:
        notes.append(f"... and {len(flips) - 12} more flips")
    if not flips:
        notes.append("no rank flips between these protocols")
    return Table(f"Protocol sensitivity of {name} (rank per protocol)",
                 ["Model"] + keys + ["Rank flip"], rows, notes, label_columns=1)


# -------------------------------------------------------------- protocol-robust summary

@dataclass
class PairRecord:
    """Model a against model b over the protocols both can show."""

    a: str
    b: str
    protocols: int
    a_wins: int
    b_wins: int
    ties: int  # equal to 2 decimals, as printed
    stable: bool  # the same model ahead (or level) under every shared protocol


@dataclass
class RankRange:
    model: str
    best: int
    worst: int
    protocols: int


def robust_summary(models: dict[str, Entry], column: str = "avg"
                   ) -> tuple[list[PairRecord], list[RankRange], list[str]]:
    """Pairwise wins over protocols and each model's rank range (see ``robust_table``)."""
    keys, values, excluded = column_values(models, column)
    ranked = {m: v for m, v in values.items() if m not in excluded}
    pairs = []
    for a, b in itertools.combinations(ranked, 2):
        shared = [k for k in keys if k in ranked[a] and k in ranked[b]]
        diff = [round(ranked[a][k], 2) - round(ranked[b][k], 2) for k in shared]
        a_wins = sum(d > 0 for d in diff)
        b_wins = sum(d < 0 for d in diff)
        pairs.append(PairRecord(a, b, len(shared), a_wins, b_wins, len(shared) - a_wins - b_wins,
                                bool(shared) and not (a_wins and b_wins)))
    ranks = ranks_per_protocol(keys, ranked)
    ranges = []
    for m in ranked:
        own = [ranks[k][m] for k in keys if m in ranks[k]]
        if own:
            ranges.append(RankRange(m, min(own), max(own), len(own)))
    return pairs, ranges, excluded


def robust_table(models: dict[str, Entry], column: str = "avg") -> Table:
    """"A beats B under 11 of 12 protocols": one line per pair of models, then the rank range
    of each model; the same numbers go to the JSON output (``Table.data``)."""
    pairs, ranges, excluded = robust_summary(models, column)
    rows = []
    for p in pairs:
        lead = p.a if p.a_wins >= p.b_wins else p.b
        verdict = ("stable" if p.stable else "FLIPS") + (f", {lead} ahead" if p.a_wins
                                                        or p.b_wins else ", level")
        rows.append([Cell(p.a), Cell(p.b), Cell(f"{p.a_wins} of {p.protocols}"),
                     Cell(f"{p.b_wins} of {p.protocols}"), Cell(str(p.ties)), Cell(verdict)])
    name = "Avg." if column == "avg" else label(column)
    notes = [f"wins: protocols under which the model's {name} is higher (to 2 decimals, as "
             "printed); stable: the same model ahead or level under every protocol both show"]
    notes += [f"rank range of {r.model}: #{r.best}" + (f" to #{r.worst}" if r.worst != r.best
                                                          else " under every protocol")
              + f" ({r.protocols} protocols)" for r in ranges]
    if excluded:
        notes.append("not ranked, their Avg. covers other tasks: " + ", ".join(excluded))
    table = Table(f"Protocol-robust summary of {name}",
                  ["Model A", "Model B", "A wins", "B wins", "ties", "ranking"], rows, notes,
                  label_columns=2)
    table.data = {"robust_summary": {"column": column,
                                     "pairs": [asdict(p) for p in pairs],
                                     "rank_ranges": [asdict(r) for r in ranges],
                                     "not_ranked": excluded}}
    return table


def sensitivity(rows: list[Row], column: str = "avg") -> list[Table]:
    """One model: its protocols side by side; several: ranks per protocol and the
    protocol-robust summary."""
    models = by_model(rows)
    if not models:
        raise ProtocolError("none of the reports has STS scores")
    if len(models) == 1:
        name, entry = next(iter(models.items()))
        return [one_model(name, entry)]
    return [many_models(models, column), robust_table(models, column)]
