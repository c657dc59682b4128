"""``bench run``: evaluate one model under one or more protocols and write a report.

Its options are ``bench.options.RunOptions`` (the flags are generated from it, and checked by
the same code as ``bench.evaluate``'s keywords); the rest says what to run and where to write.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from bench import render
from bench.api import evaluate
from bench.commands.common import add_model_option, split_list
from bench.errors import BenchError, warn
from bench.options import DATA, ENCODE, RUN, RunOptions
from bench.outputs import check_file, check_folder
from bench.pathsafe import check_not_input
from bench.reports import DEFAULT_RUNS_FOLDER, save
from bench.results import RunReport
from bench.variants import possible_variants, variant_path

FORMATS = ("terminal", "md", "latex", "csv", "json")
MACHINE_FORMATS = ("csv", "json")  # stdout is one document: the other lines go to stderr


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="evaluate a model (STS under any protocol)",
                       description="Encode every sentence the tasks need once, score them under "
                       "each protocol, print the paper-style table and write a JSON report.")
    add_model_option(p)
    p.add_argument("--protocol", default="simcse",
                   help="preset (bench list protocols), spelled form such as all-spearman or "
                   "wmean-pearson, 'every' (all 12 combinations), 'every-cosine' (the 6 without "
                   "a regressor), or a comma-separated list (default simcse)")
    p.add_argument("--tasks", nargs="+", default=None,
                   help="task sets (sts = STS12-16, STS-B, SICK-R; transfer = MR, CR, SUBJ, "
                   "MPQA, SST2, TREC, MRPC; user = the task files' tasks; every = all) or task "
                   "names (default: the --task-file tasks if any, else the tasks of a preset "
                   "that lists them, such as mteb, else sts)")
    RunOptions.add_arguments(p, (ENCODE, DATA, RUN))
    p.add_argument("--out", type=Path, help="report path (default reports/runs/<model>-<time>.json)")
    p.add_argument("--no-report", action="store_true", help="print the table only")
    p.add_argument("--format", default="terminal", metavar="{" + ",".join(FORMATS) + "}",
                   help="how the tables are printed (default terminal); the JSON report is "
                   "written either way")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    opts = RunOptions.from_args(args)  # bad values: one line naming the flag, nothing loaded
    if args.format not in FORMATS:
        raise BenchError(f"--format: unknown value {args.format!r}; valid: {', '.join(FORMATS)}")
    if not hasattr(render, "report_text") and args.format != "terminal":  # TEMPORARY (below)
        raise BenchError(f"--format {args.format}: not available in this build (terminal only)")
    if not args.no_report:  # before encoding: a result computed for nothing is worse
        if args.out is not None:
            inputs = [*opts.task_files, *([args.model] if Path(args.model).is_file() else [])]
            check_not_input(args.out, inputs, "--out")  # a task file, a GloVe .txt
            check_file(args.out, "--out")
            for variant in possible_variants(opts.dims, opts.quantize):  # written beside it
                check_file(variant_path(args.out, variant), "--out (a variant's report)")
        else:
            check_folder(DEFAULT_RUNS_FOLDER, "reports folder")
    if not opts.verify_data:
        warn("--skip-verify: a data file that differs from the manifest does not stop the run "
             "(the report marks it)")
    report = evaluate(args.model, tasks=split_list(args.tasks) if args.tasks else None,
                      protocols=args.protocol, **opts.as_dict())
    if report is None:  # a sharded run's other ranks: rank 0 prints and writes
        return 0
    _print(report, args.model, args.format)
    for variant in report.variants:  # --dims / --quantize (not in a csv/json document)
        if args.format not in MACHINE_FORMATS:
            _print(variant, variant.model.requested, args.format)
    if not args.no_report:
        path = save(report, args.out, args.model)
        print(f"report: {path}", file=_side_stream(args.format))
        for variant in report.variants:  # beside it: <report>-256d.json, <report>-int8.json
            where = save(variant, variant_path(path, variant))
            print(f"report: {where}", file=_side_stream(args.format))
    return 0


def _print(report: RunReport, requested: str, fmt: str) -> None:
    """The report's tables in ``fmt`` (``bench.render.report_text``) on stdout; the footer
    lines too, but on stderr for csv and json, so that stdout stays one parseable document."""
    report_text = getattr(render, "report_text", None)
    if report_text is not None:
        print(report_text(report, fmt, title=requested).rstrip("\n"))
    else:  # TEMPORARY, until bench.render.report_text lands (Core v2 tables): terminal only
        for table in render.report_tables(report, requested):
            render.print_table(table)
    for line in render.footer_lines(report):
        print(line, file=_side_stream(fmt))


def _side_stream(fmt: str) -> TextIO:
    """Where lines besides the tables go: stderr when stdout is a csv or json document."""
    return sys.stderr if fmt in MACHINE_FORMATS else sys.stdout
