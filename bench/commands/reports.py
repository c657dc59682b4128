"""``bench reports index``: regenerate ``reports/README.md`` from the reports kept there."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.atomic import atomic_write_text
from bench.compare.index import build_index
from bench.errors import BenchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reports", help="maintain the reports folder (README index)",
                       description="'bench reports index' rewrites reports/README.md, the index "
                       "of the kept reports ('--check': only tell whether it is current).")
    p.add_argument("action", choices=["index"])
    p.add_argument("--dir", type=Path, default=Path("reports"),
                   help="reports folder (default ./reports)")
    p.add_argument("--exclude", nargs="*", default=["runs", "analysis"],
                   help="top-level sub-folders to leave out (default: runs, the git-ignored "
                   "scratch folder of bench run)")
    p.add_argument("--check", action="store_true",
                   help="do not write; exit 1 when README.md is out of date (for CI)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if not args.dir.is_dir():
        raise BenchError(f"{args.dir}: no such reports folder")
    text = build_index(args.dir, tuple(args.exclude))
    target = args.dir / "README.md"
    if args.check:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != text:
            print(f"{target} is out of date: run `bench reports index`", file=sys.stderr)
            return 1
        return 0
    atomic_write_text(target, text)
    print(f"wrote {target}")
    return 0
