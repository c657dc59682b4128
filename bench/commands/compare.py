"""``bench compare REPORT...``: reports side by side under one protocol, with uncertainty."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.atomic import atomic_write_text
from bench.compare.datacheck import mark_data_mismatches, unverified_notes
from bench.compare.guard import Placement, place, place_transfer
from bench.compare.plan import FAMILY_SCOPES, significance, testable_rows
from bench.compare.ranking import placement_ranks, rank_table
from bench.compare.rows import load_rows
from bench.compare.seedtests import family_note, seed_table, unreachable
from bench.compare.sensitivity import sensitivity
from bench.compare.stats import CORRECTIONS
from bench.compare.tables import family_tables, significance_table, sts_table, transfer_table
from bench.compare.uncertainty import row_intervals
from bench.errors import BenchError, warn
from bench.noise_floor import below_floor, read_floor
from bench.outputs import check_file
from bench.pathsafe import check_not_input, with_sidecars
from bench.protocols import parse_one, parse_protocols
from bench.tablemodel import Cell, Table
from bench.tablerender import FORMATS, print_terminal, render
from bench.tasks.registry import get as get_task


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="reports side by side under one protocol (CI, significance)",
        description="Render run and literature reports in the paper's layout. Rows under "
        "different protocols are never ranked together: runs that keep per-pair data are "
        "re-aggregated to a common protocol, anything else is refused unless --allow-mixed.")
    p.add_argument("reports", nargs="*", type=Path, metavar="REPORT", help="report JSON files")
    p.add_argument("--protocol", help="common protocol, e.g. all-spearman, wmean-pearson, or a "
                   "preset naming one protocol (default: the first every report can show); "
                   "with --significance also a list or every-cosine: the table shows the first, "
                   "the tests cover them all, as one family")
    p.add_argument("--allow-mixed", action="store_true",
                   help="show rows that cannot be put under the protocol (STS) or were "
                   "measured under another transfer protocol, marked MIXED and not ranked")
    p.add_argument("--ci", action="store_true",
                   help="bootstrap 95%% interval of every STS number (runs with per-pair data)")
    p.add_argument("--significance", action="store_true",
                   help="paired bootstrap (normal approximation) and Williams/Steiger tests of "
                   "each run against the first run (same pairs); multi-seed runs against a "
                   "multi-seed first run: permutation test over seeds; p corrected over the "
                   "family (--correction, --family); rank intervals and tiers of the runs")
    p.add_argument("--correction", choices=CORRECTIONS, default="holm",
                   help="multiple-testing correction over every (comparison, task) cell that "
                   "--significance tests: holm (step-down, default), bonferroni, none")
    p.add_argument("--family", choices=FAMILY_SCOPES, default="primary",
                   help="what --correction corrects over: primary (default): every comparison "
                   "x task and Avg. under the first protocol, the others a sensitivity view "
                   "corrected each over its own cells; all: one family over every protocol, "
                   "a number identical across protocols tested once")
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


def _significance(args: argparse.Namespace, placements: list[Placement]) -> list[Table]:
    """The significance tables of every protocol asked for, corrected as one family
    (``bench.compare.plan``): paired tests between single-seed runs, tests over seeds between
    multi-seed runs."""
    plans, size = significance(placements, args.correction, args.resamples, args.seed,
                               scope=args.family)
    tables: list[Table] = []
    for n, (plan, placement) in enumerate(zip(plans, placements)):
        paired, over_seeds = plan.by_label(over_seeds=False), plan.by_label(over_seeds=True)
        if paired:
            tables.append(significance_table(plan.reference, paired, plan.key, args.resamples,
                                             args.seed, args.correction,
                                             floor_marks(placement, plan)))
        if over_seeds:
            tables.append(seed_table(plan.reference, over_seeds, plan.key, args.correction))
        if n and args.family == "primary" and (paired or over_seeds):
            tables[-1].notes.append(f"{plan.key}: sensitivity view, p adj corrected over this "
                                    "protocol's cells only")
    if not tables:
        tables.append(Table("Significance", ["Model", "vs"], [], label_columns=2))
    first = plans[0]
    tables[-1].notes.append(family_note(size, len(first.comparisons), first.names,
                                        [p.key for p in plans], args.correction, args.family))
    claims = [t for p in (plans if args.family == "all" else plans[:1]) for t in p.tests()]
    why = unreachable(claims, size, args.correction)
    if why:
        warn(why)
        tables[-1].notes.append(why)
    tables[-1].notes += [f"not tested, single-seed vs multi-seed: {u}" for u in first.untested]
    found, left = placement_ranks(placements[0], args.resamples, args.seed, args.correction)
    if found:
        tables.append(rank_table(found, placements[0].target.key, args.resamples, args.seed,
                                 left))
    return tables


def floor_marks(placement: Placement, plan) -> dict[tuple[str, str], bool | None]:
    """(model, task) -> whether the paired difference is within the noise floor either row
    recorded (``bench.noise_floor``) under this protocol; None where neither did."""
    placed = placement.placed
    floors = {i: read_floor(p.row.report, str(p.row.path)) for i, p in enumerate(placed)
              if p.row.report is not None}
    ref = plan.reference_index
    return {(c.label, t.task): below_floor(t.delta, t.task, plan.key,
                                           [floors.get(ref), floors.get(c.index)])
            for c in plan.comparisons if not c.over_seeds for t in c.tests}


def _with_uncertainty(args: argparse.Namespace, placement: Placement,
                      extra: list[Placement] = ()) -> tuple[dict[int, dict], list[Table]]:
    """Intervals per row (``--ci``) and the significance tables (``--significance``) under
    the placement's protocol and those of ``extra`` (one family over all of them)."""
    target = placement.target
    placed = placement.placed
    can = testable_rows(placement)
    cis: dict[int, dict] = {}
    if args.ci:
        if not can:
            raise BenchError("--ci needs a run report with per-pair data under a no-regressor "
                             "protocol; literature rows only have aggregates")
        for i in can:
            cis[i] = row_intervals(placed[i].row, list(placed[i].values), target,
                                   args.resamples, args.seed)
    tables = _significance(args, [placement, *extra]) if args.significance else []
    if args.ci:
        placement.notes.append(f"[lo, hi]: 95% percentile bootstrap interval, {args.resamples} "
                               f"resamples, seed {args.seed}, pairs resampled within each "
                               "subset / test split and the aggregate recomputed")
        if any(placed[i].row.seed_pairs for i in can):
            placement.notes.append("multi-seed rows: the same bootstrap within each seed, "
                                   "replicates pooled over seeds (seed-and-test-set interval)")
    return cis, tables


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
        picked = {"delta": 3, "p_boot": 4, "p_adj": 5, "p_williams": 6}
        main.columns += [f"{t} {what}" for t in tasks for what in picked]
        found = {(r[0].value, r[2].value): r for r in sig.rows}
        for row in main.rows:
            for t in tasks:
                r = found.get((row[0].value, t))
                row += [Cell(r[i].value if r else None) for i in picked.values()]
    return main


def main(args: argparse.Namespace) -> int:
    if args.resamples < 10:
        raise BenchError(f"--resamples must be at least 10, got {args.resamples}")
    if args.out is not None:
        check_not_input(args.out, with_sidecars(args.reports), "--out")
        check_file(args.out, "--out")
    rows = load_rows(args.reports)
    for row in rows:  # a malformed noise-floor record fails before any bootstrap
        if row.report is not None:
            read_floor(row.report, str(row.path))
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
        tables += sensitivity(rows, column)
    else:
        transfer = transfer_table(place_transfer(rows, args.allow_mixed))
        sig: list[Table] = []
        if any(r.has_sts for r in rows):
            targets = [None]
            if args.protocol is not None:  # --significance may test several protocols
                targets = (parse_protocols(args.protocol) if args.significance
                           else [parse_one(args.protocol)])
            placement = place(rows, targets[0], args.allow_mixed)
            extra = [place(rows, t, args.allow_mixed) for t in targets[1:]]
            cis, sig = _with_uncertainty(args, placement, extra)
            tables.append(sts_table(placement, cis))
        elif args.protocol is not None or args.ci or args.significance:
            raise BenchError("these reports have no STS scores (transfer only)")
        if args.format == "csv":
            if tables:
                paired = next((t for t in sig if t.title == "Paired significance"), None)
                tables = [_csv_table(tables[0], paired, transfer)]
            elif transfer is not None:
                tables = [transfer]
            else:
                tables = family_tables(rows)[:1]  # CSV holds one table
        else:
            tables += [t for t in (*sig, transfer) if t is not None]
            tables += family_tables(rows)  # registered families compare does not draw itself
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
