"""``bench page REPORT... --html out.html``: one self-contained page from a set of reports.

Called ``bench report`` at first (beside ``bench reports``, the index of the reports folder, it
needed a disclaimer in both help texts); the old name stays an alias that works as before.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.analysis_report import AnalysisReport
from bench.atomic import atomic_write_text
from bench.compare.datacheck import mark_data_mismatches
from bench.compare.rows import load_rows
from bench.compare.stats import CORRECTIONS
from bench.errors import BenchError
from bench.htmlpage import build_page
from bench.outputs import check_file
from bench.pathsafe import check_not_input, is_name, with_sidecars
from bench.protocols import parse_protocols
from bench.reports import load, read_report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "page", aliases=["report"], help="one self-contained HTML page from reports",
        description="Write one HTML page (no network: CSS, script and plots inline) with the "
        "paper-style STS table per protocol and a protocol switcher, 95% intervals, "
        "significance marks (corrected over the family), the protocol-robust summary, the "
        "transfer table and the plots of analysis reports. 'bench report' is the old name of "
        "this command and still works.")
    p.add_argument("reports", nargs="+", type=Path, metavar="REPORT",
                   help="run, literature and analysis report JSON files")
    p.add_argument("--html", type=Path, required=True, help="the page to write")
    p.add_argument("--protocol", help="protocols to offer (a preset, list or 'every'; default: "
                   "every protocol some report can show)")
    p.add_argument("--resamples", type=int, default=1000,
                   help="bootstrap resamples for intervals and tests; 0 = none (1000)")
    p.add_argument("--seed", type=int, default=1111, help="bootstrap seed (1111)")
    p.add_argument("--correction", choices=CORRECTIONS, default="holm",
                   help="multiple-testing correction over every cell tested (default holm)")
    p.add_argument("--title", default="bench report")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.resamples != 0 and args.resamples < 10:
        raise BenchError(f"--resamples must be 0 or at least 10, got {args.resamples}")
    check_not_input(args.html, with_sidecars(args.reports), "--html")
    check_file(args.html, "--html")
    keys = [p.key for p in parse_protocols(args.protocol)] if args.protocol else None
    analyses, others = [], []
    for path in args.reports:
        kind = None
        if path.suffix == ".json" and path.is_file():
            try:
                kind = read_report(path).get("kind")
            except BenchError:
                kind = None  # an MTEB result file, read by load_rows below
        if kind == "analysis":
            report = load(path)
            assert isinstance(report, AnalysisReport)
            if is_name(report.plot):  # the PNG the page inlines is an input too
                check_not_input(args.html, [path.with_name(report.plot)], "--html")
            analyses.append((path, report))
        else:
            others.append(path)
    rows = load_rows(others) if others else []
    mark_data_mismatches(rows)
    if not rows and not analyses:
        raise BenchError("nothing to show: no run, literature or analysis report given")
    page = build_page(rows, analyses, keys, args.resamples, args.seed, args.correction,
                      args.title)
    atomic_write_text(args.html, page)
    print(f"wrote {args.html}", file=sys.stderr)
    return 0
