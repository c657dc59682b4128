"""Protocol sensitivity: how much the protocol alone moves numbers and rankings.

One model: every protocol it can show, side by side (STS12 ... Avg.). Several models: each
model's number under each protocol with its rank there, and the pairs of models whose order
flips between protocols (what the SimCSE paper's Table B.2 shows for BERT-whitening NLI vs
target under "all" and "wmean").
"""

from __future__ import annotations

import itertools

from bench.compare.guard import values_under
from bench.compare.rows import NO_REGRESSOR_KEYS, Row
from bench.compare.tables import Cell, Table
from bench.data.sts import DISPLAY_NAMES, STS_TASKS
from bench.errors import ProtocolError


def by_model(rows: list[Row]) -> dict[str, dict[str, tuple[dict[str, float], str]]]:
    """label -> protocol key -> (values, how); literature rows of one model merge."""
    models: dict[str, dict[str, tuple[dict[str, float], str]]] = {}
    for row in rows:
        if not (row.scores or row.sts):
            continue
        entry = models.setdefault(row.label, {})
        keys = row.obtainable()
        for key in keys:
            got = values_under(row, key)
            if got is not None and key not in entry:
                entry[key] = got
    return models


def _key_order(keys: set[str]) -> list[str]:
    known = [*NO_REGRESSOR_KEYS, *(f"{k}-reg" for k in NO_REGRESSOR_KEYS)]
    return [k for k in known if k in keys] + sorted(keys - set(known))


def one_model(label: str, entry: dict[str, tuple[dict[str, float], str]]) -> Table:
    tasks = [t for t in STS_TASKS if any(t in v for v, _ in entry.values())]
    columns = ["Protocol", "How"] + [DISPLAY_NAMES[t] for t in tasks] + ["Avg."]
    rows = [[Cell(k), Cell(entry[k][1])] + [Cell(entry[k][0].get(t)) for t in tasks + ["avg"]]
            for k in _key_order(set(entry))]
    return Table(f"{label}: every protocol it can show", columns, rows,
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


def many_models(models: dict[str, dict[str, tuple[dict[str, float], str]]],
                column: str = "avg") -> Table:
    keys = _key_order({k for e in models.values() for k in e})
    values = {m: {k: e[k][0][column] for k in keys if k in e and column in e[k][0]}
              for m, e in models.items()}
    ranks: dict[str, dict[str, int]] = {k: {} for k in keys}
    for k in keys:
        ordered = sorted((m for m in values if k in values[m]), key=lambda m: -values[m][k])
        ranks[k] = {m: i + 1 for i, m in enumerate(ordered)}
    flips = rank_flips(values)
    flipped = {m for f in flips for m in f[:2]}
    rows = []
    for m, own in values.items():
        cells = [Cell(m)]
        for k in keys:
            v = own.get(k)
            cells.append(Cell(None if v is None else f"{v:.2f} (#{ranks[k][m]})"))
        cells.append(Cell("yes" if m in flipped else ""))
        rows.append(cells)
    name = DISPLAY_NAMES.get(column, "Avg." if column == "avg" else column)
    notes = [(f"{name} under each protocol, with the rank among the models that have it; "
              "each column is ranked on its own, never across protocols")]
    notes += [f"rank flip: {a} ahead of {b} under {ka}, behind under {kb}"
              for a, b, ka, kb in flips[:12]]
    if len(flips) > 12:
        notes.append(f"... and {len(flips) - 12} more flips")
    if not flips:
        notes.append("no rank flips between these protocols")
    return Table(f"Protocol sensitivity of {name} (rank per protocol)",
                 ["Model"] + keys + ["Rank flip"], rows, notes, label_columns=1)


def sensitivity(rows: list[Row], column: str = "avg") -> Table:
    models = by_model(rows)
    if not models:
        raise ProtocolError("none of the reports has STS scores")
    if len(models) == 1:
        label, entry = next(iter(models.items()))
        return one_model(label, entry)
    if column == "avg":
        task_sets = {m: frozenset(t for v, _ in e.values() for t in v if t != "avg")
                     for m, e in models.items()}
        a = next(iter(task_sets))
        b = next((m for m in task_sets if task_sets[m] != task_sets[a]), None)
        if b is not None:
            raise ProtocolError(
                f"cannot rank by Avg.: the reports average different task sets ({a}: "
                f"{len(task_sets[a])} tasks, {b}: {len(task_sets[b])}); rank by one task "
                "instead, e.g. --rank-by STS12")
    return many_models(models, column)
