"""``bench export mteb REPORT... --out DIR``: run reports in another tool's result format."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.mteb.export import export

FORMATS = ("mteb",)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="write run reports in another tool's result format (mteb)",
        description="mteb: MTEB's results layout, OUT/{org}__{model}/{revision}/{Task}.json "
        "plus model_meta.json, readable by mteb's ResultCache (point it at OUT's parent when OUT "
        "is named 'results'). Only cells measured under the mteb protocol, on tasks MTEB "
        "defines the same way, are exported; anything else is refused before writing.")
    p.add_argument("format", choices=FORMATS)
    p.add_argument("reports", nargs="+", type=Path, metavar="REPORT", help="run report JSON")
    p.add_argument("--out", type=Path, required=True, help="results folder to write into")
    p.add_argument("--name", help="model name in MTEB's org/model form "
                   "(default bench/<model>)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:

    for path in export(args.reports, args.out, args.name):
        print(f"wrote {path}")
    return 0
