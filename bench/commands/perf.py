"""``bench perf NAME``: benchmarks against a peer in the same process, printed and saved as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.atomic import atomic_write_text
from bench.outputs import check_file
from bench.perf import BENCHMARKS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("perf", help="run a benchmark (ratios against a peer, same process)")
    bsub = p.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for name, module in sorted(BENCHMARKS.items()):
        bp = bsub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        bp.add_argument("--out", type=Path, help="write the figures as JSON here")
        module.add_arguments(bp)
        bp.set_defaults(func=main, module=module)


def main(args: argparse.Namespace) -> int:
    if args.out:  # before the benchmark runs: minutes of figures with nowhere to go
        check_file(args.out, "--out")
    result = args.module.run(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        atomic_write_text(args.out, text + "\n")
    return 0
