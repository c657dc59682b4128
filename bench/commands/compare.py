"""``bench compare REPORT...``: reports side by side under one protocol, with uncertainty."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.atomic import atomic_write_text
from bench.compare.datacheck import mark_data_mismatches, unverified_notes
from bench.compare.guard import MIXED, Placement, place, place_transfer
from bench.compare.render import FORMATS, print_terminal, render
from bench.compare.rows import load_rows
from bench.compare.sensitivity import sensitivity
from bench.compare.tables import Cell, Table, significance_table, sts_table, transfer_table
from bench.compare.uncertainty import intervals, paired_tests, same_pairs
from bench.errors import BenchError
from bench.outputs import check_file
from bench.protocols import parse_one
from bench.tasks.registry import get as get_task


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="reports side by side under one protocol (CI, significance)",
        description="Render run and literature reports in the paper's layout. Rows under "
        "different protocols are never ranked together: runs that keep per-pair data are "
        "re-aggregated to a common protocol, anything else is refused unless --allow-mixed.")
    p.add_argument("reports", nargs="*", type=Path, metavar="REPORT", help="report JSON files")
    p.add_argument("--protocol", help="common protocol, e.g. all-spearman, wmean-pearson, or a "
                   "preset naming one protocol (default: the first every report can show)")
    p.add_argument("--allow-mixed", action="store_true",
                   help="show rows that cannot be put under the protocol (STS) or were "
                   "measured under another transfer protocol, marked MIXED and not ranked")
    p.add_argument("--ci", action="store_true",
                   help="bootstrap 95%% interval of every STS number (runs with per-pair data)")
    p.add_argument("--significance", action="store_true",
                   help="paired bootstrap and Williams/Steiger tests of each run against the "
                   "first run (same pairs)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (1000)")
    p.add_argument("--seed", type=int, default=1111, help="bootstrap seed (1111)")
    p.add_argument("--sensitivity", action="store_true",
                   help="one model: every protocol side by side; several: rank per protocol "
                   "and rank flips")
    p.add_argument("--rank-by", default="avg",
                   help="column ranked by --sensitivity (default Avg.; e.g. STS12, STS-B)")
    p.add_argument("--format", choices=FORMATS, default="terminal")
    p.add_argument("--out", type=Path, help="write here (atomically) instead of stdout")
    p.set_defaults(func=main)


def _with_uncertainty(args: argparse.Namespace, placement: Placement
                      ) -> tuple[dict[int, dict], Table | None]:
    """Intervals per row (``--ci``) and the paired tests table (``--significance``)."""
    target = placement.target
    key = target.key
    can = [i for i, p in enumerate(placement.placed)
           if p.how != MIXED and p.row.has_pairs and target.regressor == "none"]
    cis: dict[int, dict] = {}
    if args.ci:
        if not can:
            raise BenchError("--ci needs a run report with per-pair data under a no-regressor "
                             "protocol; literature rows only have aggregates")
        for i in can:
            p = placement.placed[i]
            cis[i] = intervals(p.row.report.tasks, list(p.values), target, args.resamples,
                               args.seed)
    sig = None
    if args.significance:
        if len(can) < 2:
            raise BenchError("--significance needs two run reports with per-pair data under "
                             f"the same no-regressor protocol (found {len(can)})")
        ref_placed = placement.placed[can[0]]
        ref = ref_placed.row
        names = list(ref_placed.values)
        results = {}
        for i in can[1:]:
            other = placement.placed[i].row
            if list(placement.placed[i].values) != names:
                raise BenchError(f"{other.path}: scores other tasks than {ref.path}")
            why = same_pairs(ref.report.tasks, other.report.tasks, names)
            if why:
                raise BenchError(f"{other.path} and {ref.path} were not scored on the same "
                                 f"pairs ({why}); a paired test needs the same pairs")
            results[other.label] = paired_tests(ref.report.tasks, other.report.tasks, names,
                                                target, args.resamples, args.seed)
        sig = significance_table(ref.label, results, key, args.resamples, args.seed)
    if args.ci:
        placement.notes.append(f"[lo, hi]: 95% percentile bootstrap interval, {args.resamples} "
                               f"resamples, seed {args.seed}, pairs resampled within each "
                               "subset / test split and the aggregate recomputed")
    return cis, sig


def _csv_table(main: Table, sig: Table | None, transfer: Table | None) -> Table:
    """CSV holds one table: STS columns, then transfer and per-task test columns, by model."""
    if transfer is not None:
        by_label = {r[0].value: r for r in transfer.rows}
        extra = transfer.columns[1:2] + transfer.columns[3:]  # its protocol, then its tasks
        main.columns += [f"{c} (transfer)" for c in extra]
        for row in main.rows:
            trow = by_label.pop(row[0].value, None)
            row += trow[1:2] + trow[3:] if trow else [Cell(None) for _ in extra]
        for trow in by_label.values():  # transfer-only rows
            main.rows.append(trow[:3] + [Cell(None)] * (len(main.columns) - len(trow) - 1)
                             + trow[1:2] + trow[3:])
    if sig is not None:
        tasks = list(dict.fromkeys(r[2].value for r in sig.rows))
        cols = [f"{t} {what}" for t in tasks for what in ("delta", "p_boot", "p_williams")]
        main.columns += cols
        found = {(r[0].value, r[2].value): r for r in sig.rows}
        for row in main.rows:
            for t in tasks:
                r = found.get((row[0].value, t))
                row += [Cell(r[3].value if r else None),
                        Cell(r[4].value if r else None),
                        Cell(r[5].value if r else None)]
    return main


def main(args: argparse.Namespace) -> int:
    if args.resamples < 10:
        raise BenchError(f"--resamples must be at least 10, got {args.resamples}")
    if args.out is not None:
        check_file(args.out, "--out")
    rows = load_rows(args.reports)
    differing = mark_data_mismatches(rows)
    if differing and not args.allow_mixed:
        more = f" (and {len(differing) - 1} more)" if len(differing) > 1 else ""
        raise BenchError(f"reports measured on different data for {differing[0]}{more}; their "
                         "numbers for that task are not comparable (pass --allow-mixed to show "
                         "them, marked and never bolded)")
    tables: list[Table] = []
    if args.sensitivity:
        column = "avg" if args.rank_by.lower() in ("avg", "avg.") else \
            get_task(args.rank_by).name
        tables.append(sensitivity(rows, column))
    else:
        transfer = transfer_table(place_transfer(rows, args.allow_mixed))
        sig = None
        if any(r.has_sts for r in rows):
            target = parse_one(args.protocol) if args.protocol is not None else None
            placement = place(rows, target, args.allow_mixed)
            cis, sig = _with_uncertainty(args, placement)
            tables.append(sts_table(placement, cis))
        elif args.protocol is not None or args.ci or args.significance:
            raise BenchError("these reports have no STS scores (transfer only)")
        if args.format == "csv":
            if tables:
                tables = [_csv_table(tables[0], sig, transfer)]
            elif transfer is not None:
                tables = [transfer]
        else:
            tables += [t for t in (sig, transfer) if t is not None]
    if not tables:
        raise BenchError("nothing to compare: the reports hold neither STS nor transfer scores")
    tables[0].notes.extend(unverified_notes(rows))
    if args.out is None and args.format == "terminal":
        print_terminal(tables)
        return 0
    text = render(tables, args.format)
    if args.out is not None:
        atomic_write_text(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
