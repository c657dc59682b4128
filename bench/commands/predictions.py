"""``bench import-predictions``: a run made elsewhere (MTEB prediction files, a CSV of
similarities) as a bench run report, so compare gives it intervals, paired tests and ranks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.data.locate import locate
from bench.errors import BenchError
from bench.mteb.predictions import from_csv, from_mteb_folder
from bench.outputs import check_file
from bench.protocols import parse_protocols
from bench.reports import save


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-predictions", help="per-pair similarities computed elsewhere as a run report",
        description="Read MTEB's {task}_predictions.json files (mteb.evaluate(..., "
        "prediction_folder=...): cosine_scores of the test split) or a CSV with the header "
        "task,pair,similarity (pair: 0-based index among the task's scored pairs in bench's "
        "order), score them against bench's copy of the gold scores, and write a run report "
        "with its per-pair data. Nothing is encoded.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--mteb", type=Path, metavar="FOLDER",
                     help="an MTEB prediction folder (or one predictions file)")
    src.add_argument("--csv", type=Path, metavar="FILE", help="a task,pair,similarity CSV")
    p.add_argument("--model", help="model name (--csv: required; --mteb: from the files)")
    p.add_argument("--tasks", help="comma-separated tasks to import (default: every file's)")
    p.add_argument("--protocol", default="simcse",
                   help="protocols to store (as bench run; default simcse)")
    p.add_argument("--data-dir", help="SentEval downstream folder (the gold scores)")
    p.add_argument("--out", type=Path, required=True, help="the run report to write")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.csv is not None and not args.model:
        raise BenchError("--csv needs --model NAME (a CSV does not say whose similarities)")
    check_file(args.out, "--out")
    data_dir = locate(args.data_dir).downstream
    protocols = [p for p in parse_protocols(args.protocol) if p.regressor == "none"]
    if not protocols:
        raise BenchError(f"--protocol {args.protocol}: imported similarities have no "
                         "regressor; name a no-regressor protocol")
    tasks = [t.strip() for t in args.tasks.split(",")] if args.tasks else None
    if args.mteb is not None:
        report = from_mteb_folder(args.mteb, data_dir, tasks, protocols)
        if args.model:
            report.model.name = report.model.requested = args.model
    else:
        report = from_csv(args.csv, data_dir, args.model, protocols)
    path = save(report, args.out)
    print(f"wrote {path}", file=sys.stderr)
    return 0
