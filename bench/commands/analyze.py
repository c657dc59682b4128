"""``bench analyze NAME``: the SimCSE paper's analyses, one module each in ``bench.analysis.kinds``.

Every analysis follows the same flow (``bench.analysis.api``, also ``bench.analyze`` from
Python): it encodes STS-B once per model (through the embedding cache), computes its values,
prints a table, and writes a JSON report and a PNG side by side (default
``reports/analysis/``). The encoding flags are the run options' (``bench.options``), the same
as ``bench run``'s. This module knows no analysis by name.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.analysis.api import Analysis, parameter_names, run_analysis
from bench.analysis.kinds import discover
from bench.options import DATA, ENCODE, RunOptions

SHOWN_LIST_LENGTH = 10  # longer list options (histogram bin edges) are in the JSON only


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="append", default=[],
                   help="recipe name (bench list models), local path, or hub id (org/name); repeatable")
    p.add_argument("--checkpoints", action="append", default=[], metavar="DIR",
                   help="a run folder (every checkpoints/step-N in it, by step) or a folder of "
                   "runs; repeatable")
    RunOptions.add_arguments(p, (ENCODE, DATA))
    p.add_argument("--splits", nargs="+", default=["train,dev,test"],
                   help="STS-B splits whose pairs and sentences are used (default train,dev,test)")
    p.add_argument("--unique-sentences", action="store_true",
                   help="count each distinct STS-B sentence once (default: every occurrence)")
    p.add_argument("--max-pairs", type=int,
                   help="use a seeded random subset of this many pairs (quick looks at many "
                   "checkpoints; default: every pair)")
    p.add_argument("--seed", type=int, default=1111, help="seed of --max-pairs (default 1111)")
    p.add_argument("--out-dir", type=Path, default=Path("reports/analysis"),
                   help="folder for the JSON report and the PNG (default reports/analysis)")
    p.add_argument("--name", help="file stem for the JSON and PNG (default <analysis>-<models>-<time>)")


def register(sub: argparse._SubParsersAction) -> None:
    kinds = discover()
    p = sub.add_parser("analyze",
                       help=f"analyses of embedding spaces on STS-B ({', '.join(kinds)})",
                       description="Analyses of embedding spaces on STS-B, with a table, a JSON "
                       "report and a PNG.")
    which = p.add_subparsers(dest="analysis", metavar="ANALYSIS", required=True)
    for name, kind in kinds.items():
        q = which.add_parser(name, help=kind.help)
        _common(q)
        kind.add_arguments(q)
        q.set_defaults(func=main, analysis_kind=kind)


def _print(result: Analysis) -> None:
    options = result.report.options
    console = Console()
    shown = ", ".join(f"{k}={v}" for k, v in options.items()
                      if not (isinstance(v, list) and len(v) > SHOWN_LIST_LENGTH))
    console.print(f"[bold]bench analyze {result.report.analysis}[/bold]  options: {shown}")
    rows = result.rows()
    table = Table(title_justify="left", caption=rows.caption)
    table.add_column("model", style="bold")
    for col in rows.columns:
        table.add_column(col, justify="right")
    for e, cells in zip(result.entries, rows.rows, strict=True):
        table.add_row(e["label"], *cells)
    console.print(table)


def main(args: argparse.Namespace) -> int:
    kind = args.analysis_kind
    opts = RunOptions.from_args(args)  # bad values: one line naming the flag, nothing loaded
    params: dict[str, Any] = {d: getattr(args, d) for d in parameter_names(kind)}
    result = run_analysis(kind, args.model, args.checkpoints, args.splits,
                          args.unique_sentences, args.max_pairs, args.seed, opts,
                          argparse.Namespace(**params), args.out_dir)
    if result is None:  # a sharded run's other ranks: rank 0 prints and writes
        return 0
    _print(result)
    path, png = result.save(args.out_dir, args.name)
    print(f"report: {path}\nplot:   {png}")
    return 0
