"""The paper's layout as format-neutral tables: STS (STS12 ... SICK-R, Avg.), transfer
(MR ... MRPC, Avg.) and the paired-significance table. ``render`` turns them into text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.compare.guard import MIXED, UNKNOWN, Placement, TransferPlacement
from bench.compare.rows import REAGGREGATED, Row, family_values
from bench.compare.uncertainty import PairedResult
from bench.family import FAMILIES, Family
from bench.progress import count
from bench.results import RunReport
from bench.tablemodel import Cell, Table  # the one table model (also imported from here)
from bench.tasks.registry import find, ordered


def label(task: str) -> str:
    """A task's column heading (STS-B, SICK-R, SST), from its registry record."""
    meta = find(task)
    return meta.label if meta else task


DATA_MARK_NOTE = ("a dagger marks a number measured on data whose sha256 differs from the "
                  "first report's for that task (--allow-mixed): not comparable, never bolded")


def protocol_label(how: str, key: str) -> str:
    if how == REAGGREGATED:
        return f"{key} (re-aggregated)"
    if how == MIXED:
        return f"{key} (MIXED)"
    return key


def same_task_set(averages: list[tuple[str, ...] | None]) -> tuple[str, ...] | None:
    """The task set that most rows average over (the first such, on a tie)."""
    counts: dict[tuple[str, ...], int] = {}
    for tasks in averages:
        if tasks is not None:
            counts[tuple(sorted(tasks))] = counts.get(tuple(sorted(tasks)), 0) + 1
    return max(counts, key=counts.get) if counts else None


def sts_table(placement: Placement, cis: dict[int, dict[str, tuple[float, float]]] | None = None
              ) -> Table:
    """Rows in input order; the best number of each column among comparable rows is bold.

    Avg. is bold only among rows that average over the same task set: an average over
    other tasks is another quantity, shown with its task count and never ranked."""
    tasks = ordered(sorted({t for p in placement.placed for t in p.values}))
    columns = ["Model", "Protocol", "Source"] + [label(t) for t in tasks] + ["Avg."]
    placed = placement.placed
    comparable = [i for i, p in enumerate(placed) if p.how != MIXED]
    avg_sets = [tuple(sorted(p.scores.average.tasks)) if p.scores.average else None
                for p in placed]
    main_set = same_task_set([avg_sets[i] for i in comparable])
    avg_ok = [i for i in comparable if avg_sets[i] == main_set]
    # a column's best is taken among comparable rows measured on the same data for it
    peers = {k: [i for i in comparable if not _other_data(placed[i].row, k, tasks)]
             for k in [*tasks, "avg"]}
    best = {k: max((v for i in peers[k] if (v := placed[i].values.get(k)) is not None
                    and np.isfinite(v)), default=None) for k in tasks}
    avg_ok = [i for i in avg_ok if i in peers["avg"]]
    best_avg = max((placed[i].scores.average.value for i in avg_ok
                    if np.isfinite(placed[i].scores.average.value)), default=None)
    rows = []
    odd_avg = []
    seeds = [p.row.seed_count for p in placed]
    multi = any((n or 1) > 1 for n in seeds)
    for i, p in enumerate(placement.placed):
        name = p.row.label
        if multi and seeds[i] is not None:
            name += f" [{seeds[i]} seed{'s' if seeds[i] > 1 else ''}]"
        cells = [Cell(name), Cell(protocol_label(p.how, p.protocol.key)),
                 Cell(p.row.source)]
        ci_row = (cis or {}).get(i, {})
        for k in tasks:
            v = p.values.get(k)
            bold = (v is not None and np.isfinite(v) and i in peers[k] and len(peers[k]) > 1
                    and best[k] is not None and round(v, 2) == round(best[k], 2))
            cells.append(Cell(v, ci_row.get(k), bold, mark=_other_data(p.row, k, tasks)))
        avg = p.scores.average
        if avg is None:
            cells.append(Cell(None))
        elif i in comparable and avg_sets[i] != main_set:
            odd_avg.append(p.row.label)
            cells.append(Cell(f"{avg.value:.2f} ({count(len(avg.tasks), 'task')})"))
        else:
            bold = (i in avg_ok and len(avg_ok) > 1 and best_avg is not None
                    and round(avg.value, 2) == round(best_avg, 2))
            cells.append(Cell(avg.value, ci_row.get("avg"), bold,
                              mark=_other_data(p.row, "avg", tasks)))
        rows.append(cells)
    target = placement.target
    title = (f"STS ({target.metric.capitalize()} x 100; protocol {target.key}: aggregation "
             f"{target.aggregation}, "
             f"{'SentEval regressor' if target.regressor != 'none' else 'no regressor'})")
    notes = list(placement.notes)
    notes.append("Avg. is the unweighted mean of the row's task columns; bold: best among rows "
                 "under the same protocol (Avg.: and over the same tasks)")
    if odd_avg:
        notes.append("Avg. over other tasks than the other rows, not ranked: "
                     + ", ".join(odd_avg))
    if any(c.mark for r in rows for c in r):
        notes.append(DATA_MARK_NOTE)
    if multi:
        notes.append("[N seeds]: a multi-seed row shows the mean over N training seeds (its "
                     "interval, with --ci, covers seeds and test pairs)")
        single = [p.row.label for p, n in zip(placed, seeds) if n == 1]
        if single:
            notes.append("SINGLE-SEED vs MULTI-SEED: " + ", ".join(single) + " rest(s) on one "
                         "training seed, whose number carries the seed variance (about 2 points "
                         "of STS-B for SimCSE) that a multi-seed mean averages out; a "
                         "difference between them is not tested")
    for lit in sorted({p.row.path.name for p in placement.placed if p.row.kind == "literature"}):
        notes.append(f"{lit}: published numbers (no per-pair data, so no intervals)")
    return Table(title, columns, rows, notes)


def transfer_table(placement: TransferPlacement | None) -> Table | None:
    """Accuracy per transfer task, each row with its transfer protocol; None when no report
    has transfer results. Bold: the best of each column among rows under the target
    protocol; MIXED rows (another or an unknown protocol) are never ranked."""
    if placement is None:
        return None
    rows = placement.rows
    tasks = ordered(sorted({t for r in rows for t in r.transfer}))
    columns = ["Model", "Protocol", "Source"] + [label(t) for t in tasks] + ["Avg."]
    comparable = placement.comparable() if len(placement.comparable()) > 1 else []
    averages = [_transfer_avg(r, tasks) for r in rows]
    best = {t: max((rows[i].transfer.get(t, -np.inf) for i in comparable), default=None)
            for t in tasks}
    full = [i for i in comparable if averages[i] is not None
            and all(t in rows[i].transfer for t in tasks)]
    best_avg = max((averages[i] for i in full), default=None)
    out = []
    notes = ["accuracy (%) of a logistic-regression classifier on frozen embeddings; the "
             "Protocol column names the classifier setting each row was measured under"]
    for i, r in enumerate(rows):
        key = r.transfer_protocol.key if r.transfer_protocol else UNKNOWN
        mixed = placement.how[i] == MIXED
        cells = [Cell(r.label), Cell(f"{key} (MIXED)" if mixed else key), Cell(r.source)]
        for t in tasks:
            v = r.transfer.get(t)
            cells.append(Cell(v, bold=(v is not None and i in comparable
                                       and round(v, 2) == round(best[t], 2)),
                              mark=_other_data(r, t, tasks)))
        avg = averages[i]
        cells.append(Cell(avg, bold=(avg is not None and i in full and len(full) > 1
                                     and round(avg, 2) == round(best_avg, 2)),
                          mark=_other_data(r, "avg", tasks)))
        out.append(cells)
        if avg is None:
            notes.append(f"{r.label}: Avg. left out, the row lacks some tasks")
    for proto in _distinct([r.transfer_protocol for r in rows if r.transfer_protocol]):
        notes.append(f"{proto.describe()}" + (f": {proto.source}" if proto.source else ""))
    if any(c.mark for r in out for c in r):
        notes.append(DATA_MARK_NOTE)
    if any(r.transfer_protocol is None for r in rows):
        notes.append(f"{UNKNOWN}: the published table names no classifier setting")
    if any(h == MIXED for h in placement.how):
        target = placement.target.key if placement.target else UNKNOWN
        notes.append(f"MIXED rows are under another transfer protocol than {target}: not "
                     "comparable, never bolded or ranked with the others")
    elif len(comparable) > 1:
        notes.append("bold: best among the rows (all under the same transfer protocol)")
    return Table("Transfer tasks (accuracy)", columns, out, notes)


def family_tables(rows: list[Row]) -> list[Table]:
    """The table of every registered family whose table compare and the page do not draw
    themselves (STS and transfer have theirs): the family's own ``table(rows)``, else
    ``values_table``. The one hook ``bench compare`` and the HTML page call for them."""
    out = []
    for _, family in FAMILIES.items():
        if family.own_table:
            continue
        table = family.table(rows) or values_table(family, rows)
        if table is not None:
            out.append(table)
    return out


def report_family_tables(report: RunReport) -> list[Table]:
    """``family_tables`` for one run report (what ``bench run`` prints after its STS and
    transfer tables)."""
    name = report.model.name or report.model.requested
    return family_tables([Row(label=name, path=Path(name), kind="run", stored=[],
                              report=report, families=family_values(report))])


def values_table(family: Family, rows: list[Row]) -> Table | None:
    """One column per task of ``family`` (the numbers ``Family.values`` gives, points) and
    Avg. over the row's tasks; bold: the best of a column among rows on the same data; None
    when no row has the family's results."""
    shown = [r for r in rows if r.families.get(family.name)]
    if not shown:
        return None
    tasks = ordered(sorted({t for r in shown for t in r.families[family.name]}))
    columns = ["Model", "Protocol", "Source"] + [label(t) for t in tasks] + ["Avg."]
    table_rows = []
    for r in shown:
        values = r.families[family.name]
        avg = (float(np.mean([values[t] for t in tasks])) if all(t in values for t in tasks)
               else None)
        table_rows.append([Cell(r.label), Cell(family.name), Cell(r.source)]
                          + [Cell(values.get(t), mark=_other_data(r, t, tasks)) for t in tasks]
                          + [Cell(avg, mark=_other_data(r, "avg", tasks))])
    _bold_best(table_rows, 3)
    notes = ["Avg. is the unweighted mean of the row's task columns (left out when the row "
             "lacks some); bold: best of each column among rows on the same data"]
    if any(c.mark for row in table_rows for c in row):
        notes.append(DATA_MARK_NOTE)
    return Table(family.title or family.name, columns, table_rows, notes)


def _bold_best(rows: list[list[Cell]], first: int) -> None:
    """Bold the best finite number of each column from ``first`` on, among unmarked cells,
    when more than one row has a number there."""
    for col in range(first, len(rows[0]) if rows else 0):
        cells = [r[col] for r in rows if isinstance(r[col].value, (int, float))
                 and np.isfinite(r[col].value) and not r[col].mark]
        if len(cells) > 1:
            best = max(round(c.value, 2) for c in cells)
            for c in cells:
                c.bold = round(c.value, 2) == best


def _other_data(row: Row, column: str, tasks: list[str]) -> bool:
    """Column ``column`` of ``row`` rests on data that differs from the reference row's
    (an average over ``tasks`` does as soon as one of them does)."""
    if column == "avg":
        return any(t in row.data_mismatch for t in tasks)
    return column in row.data_mismatch


def _transfer_avg(row: Row, tasks: list[str]) -> float | None:
    if row.transfer_average is not None:
        return row.transfer_average.value
    if all(t in row.transfer for t in tasks):
        return float(np.mean([row.transfer[t] for t in tasks]))
    return None


def _distinct(protocols: list) -> list:
    seen: dict[str, Any] = {}
    for p in protocols:
        seen.setdefault(p.key, p)
    return list(seen.values())


def significance_table(reference: str, results: dict[str, list[PairedResult]], key: str,
                       resamples: int, seed: int, correction: str = "holm",
                       below_floor: dict[tuple[str, str], bool | None] | None = None) -> Table:
    """Long form: one line per (model, task): difference, its interval and the p-values; the
    bootstrap p also adjusted over the family (``bench.compare.seedtests``). ``below_floor``
    ((model, task) -> whether the difference is within the rows' noise floor,
    ``bench.noise_floor``) adds that column."""
    columns = ["Model", "vs", "Task", "Delta", "p (paired bootstrap)", f"p adj ({correction})",
               "p (Williams)", "p (Steiger)", "n pairs"]
    marks = below_floor or {}
    shown = any(v is not None for v in marks.values())
    if shown:
        columns.append("within noise floor")
    rows = []
    for model, res in results.items():
        for r in res:
            rows.append([Cell(model), Cell(reference),
                         Cell("Avg." if r.task == "avg" else label(r.task)),
                         Cell(r.delta, r.delta_ci), Cell(r.p_bootstrap), Cell(r.p_adjusted),
                         *(Cell(None if np.isnan(p) else p)  # '-': the test does not apply
                           for p in (r.p_williams, r.p_steiger)), Cell(r.n or None)])
            if shown:
                mark = marks.get((model, r.task))
                rows[-1].append(Cell(None if mark is None else ("yes" if mark else "no")))
    notes = [(f"Delta = model minus reference in points under {key}, with its 95% paired "
             f"bootstrap interval ({resamples} resamples, seed {seed}, pairs resampled within "
             "each subset); p (paired bootstrap): normal approximation, 2 (1 - Phi(|Delta| / "
             "bootstrap SE)), not floored by the resample count; Williams' T2 and Steiger's Z "
             "test two dependent correlations that share the gold scores, r(sim_a, sim_b) from "
             "the stored per-pair similarities; they apply to one correlation (STS-B, SICK-R, "
             "or a year pooled with 'all'), '-' for averages of subset correlations; only the "
             "bootstrap p is corrected")]
    if shown:
        notes.append("within noise floor: yes when |Delta| is at most the larger noise "
                     "floor of the two rows (bench run --noise-floor: how far the row's own "
                     "numbers move with batch size or precision alone)")
    return Table("Paired significance", columns, rows, notes, label_columns=3)
