"""The paper's layout as format-neutral tables: STS (STS12 ... SICK-R, Avg.), transfer
(MR ... MRPC, Avg.) and the paired-significance table. ``render`` turns them into text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bench.compare.guard import MIXED, REAGGREGATED, Placement
from bench.compare.rows import TRANSFER_DISPLAY, TRANSFER_TASKS, Row
from bench.compare.uncertainty import PairedResult
from bench.data.sts import DISPLAY_NAMES, STS_TASKS


@dataclass
class Cell:
    value: float | str | None
    ci: tuple[float, float] | None = None
    bold: bool = False
    mark: bool = False  # measured on other data than the reference row (``--allow-mixed``)


DATA_MARK_NOTE = ("a dagger marks a number measured on data whose sha256 differs from the "
                  "first report's for that task (--allow-mixed): not comparable, never bolded")


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)
    label_columns: int = 3  # leading text columns (model, protocol, source)

    def frame(self) -> pd.DataFrame:
        """Numbers as numbers (CSV); an interval becomes ``<col> lo`` / ``<col> hi`` columns."""
        records = []
        for cells in self.rows:
            rec: dict[str, Any] = {}
            for col, cell in zip(self.columns, cells):
                rec[col] = cell.value
                if any(r[self.columns.index(col)].ci for r in self.rows):
                    rec[f"{col} lo"], rec[f"{col} hi"] = cell.ci or (np.nan, np.nan)
            records.append(rec)
        return pd.DataFrame.from_records(records)


def protocol_label(how: str, key: str) -> str:
    if how == REAGGREGATED:
        return f"{key} (re-aggregated)"
    if how == MIXED:
        return f"{key} (MIXED)"
    return key


def sts_table(placement: Placement, cis: dict[int, dict[str, tuple[float, float]]] | None = None
              ) -> Table:
    """Rows in input order; the best number of each column among comparable rows is bold."""
    tasks = [t for t in STS_TASKS if any(t in p.values for p in placement.placed)]
    columns = ["Model", "Protocol", "Source"] + [DISPLAY_NAMES[t] for t in tasks] + ["Avg."]
    keys = tasks + ["avg"]
    placed = placement.placed
    comparable = [i for i, p in enumerate(placed) if p.how != MIXED]

    def task_set(i: int) -> frozenset[str]:
        return frozenset(k for k in placed[i].values if k != "avg")

    def peers(i: int, k: str) -> list[int]:
        """Rows whose number in column k may be ranked against row i's: same protocol, same
        data for the task, and for Avg. the same task set (a one-task average is not better
        than a seven-task one)."""
        if i not in comparable or _other_data(placed[i].row, k, tasks):
            return []
        return [j for j in comparable if not _other_data(placed[j].row, k, tasks)
                and (k != "avg" or task_set(j) == task_set(i))]

    rows = []
    for i, p in enumerate(placed):
        cells = [Cell(p.row.label), Cell(protocol_label(p.how, p.protocol)), Cell(p.row.source)]
        for k in keys:
            v = p.values.get(k)
            ci = (cis or {}).get(i, {}).get(k)
            group = [placed[j].values.get(k) for j in peers(i, k)]
            group = [g for g in group if g is not None and np.isfinite(g)]
            bold = (v is not None and np.isfinite(v) and len(group) > 1
                    and round(v, 2) == round(max(group), 2))
            cells.append(Cell(v, ci, bold, mark=_other_data(p.row, k, tasks)))
        rows.append(cells)
    metric = placement.target.split("-")[1].capitalize()
    title = (f"STS ({metric} x 100; protocol {placement.target}: aggregation "
             f"{placement.target.split('-')[0]}, "
             f"{'SentEval regressor' if placement.target.endswith('-reg') else 'no regressor'})")
    notes = list(placement.notes)
    notes.append("Avg. is the unweighted mean of the task columns; bold: best among rows "
                 "under the same protocol")
    if len({task_set(i) for i in comparable}) > 1:
        notes.append("the rows average different task sets: Avg. is bolded only among rows "
                     "with the same tasks")
    if any(c.mark for r in rows for c in r):
        notes.append(DATA_MARK_NOTE)
    for lit in sorted({p.row.path.name for p in placement.placed if p.row.kind == "literature"}):
        notes.append(f"{lit}: published numbers (no per-pair data, so no intervals)")
    return Table(title, columns, rows, notes)


def transfer_table(rows: list[Row]) -> Table | None:
    """Accuracy per transfer task; None when no report has a transfer section."""
    rows = [r for r in rows if r.transfer]
    if not rows:
        return None
    present = {t for r in rows for t in r.transfer}
    tasks = [t for t in TRANSFER_TASKS if t in present] + sorted(present - set(TRANSFER_TASKS))
    columns = ["Model", "Protocol", "Source"] + [TRANSFER_DISPLAY.get(t, t) for t in tasks]
    columns.append("Avg.")
    out = []
    notes = ["accuracy (%) of a classifier on frozen embeddings (SentEval default, test mode)"]
    for r in rows:
        avg = r.transfer_avg
        if avg is None and all(t in r.transfer for t in tasks):
            avg = float(np.mean([r.transfer[t] for t in tasks]))
        cells = [Cell(r.label), Cell("senteval-transfer"), Cell(r.source)]
        cells += [Cell(r.transfer.get(t), mark=_other_data(r, t, tasks)) for t in tasks]
        cells.append(Cell(avg, mark=_other_data(r, "avg", tasks)))
        out.append(cells)
        if avg is None:
            notes.append(f"{r.label}: Avg. left out, the row lacks some tasks")
    if any(c.mark for r in out for c in r):
        notes.append(DATA_MARK_NOTE)
    return Table("Transfer tasks (accuracy)", columns, out, notes)


def _other_data(row: Row, column: str, tasks: list[str]) -> bool:
    """Column ``column`` of ``row`` rests on data that differs from the reference row's
    (an average over ``tasks`` does as soon as one of them does)."""
    if column == "avg":
        return any(t in row.data_mismatch for t in tasks)
    return column in row.data_mismatch


def significance_table(reference: str, results: dict[str, list[PairedResult]], key: str,
                       resamples: int, seed: int) -> Table:
    """Long form: one line per (model, task): difference, its interval and the p-values."""
    columns = ["Model", "vs", "Task", "Delta", "p (paired bootstrap)", "p (Williams)",
               "p (Steiger)", "n pairs"]
    rows = []
    for label, res in results.items():
        for r in res:
            rows.append([Cell(label), Cell(reference),
                         Cell(DISPLAY_NAMES.get(r.task, "Avg." if r.task == "avg" else r.task)),
                         Cell(r.delta, r.delta_ci), Cell(r.p_bootstrap), Cell(r.p_williams),
                         Cell(r.p_steiger), Cell(r.n or None)])
    notes = [(f"Delta = model minus reference in points under {key}, with its 95% paired "
             f"bootstrap interval ({resamples} resamples, seed {seed}, pairs resampled within "
             "each subset); Williams' T2 and Steiger's Z test two dependent correlations that "
             "share the gold scores, r(sim_a, sim_b) from the stored per-pair similarities; "
             "they apply to one correlation (STS-B, SICK-R, or a year pooled with 'all'), '-' "
             "for averages of subset correlations; no correction for multiple comparisons")]
    return Table("Paired significance", columns, rows, notes, label_columns=3)
