"""``bench neighbors --model A --model B --corpus FILE --query "..." -k 3``: each query's k
nearest corpus sentences for each model side by side, by cosine (SimCSE Table 8), as a
terminal table (plain when piped), ``--format md|latex|csv|json``, or a page (``--html``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.atomic import atomic_write_text
from bench.errors import BenchError
from bench.htmlpage import tables_page
from bench.neighbors import MAX_K, check_request, long_table, nearest, read_corpus, tables
from bench.options import ENCODE, RunOptions
from bench.outputs import check_file
from bench.pathsafe import check_not_input
from bench.tablerender import FORMATS, print_terminal, render


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("neighbors", help="nearest corpus sentences of query sentences, models "
                       "side by side (SimCSE Table 8)",
                       description="Each query's k nearest sentences of a corpus (one sentence "
                       "per line) by cosine, for one model or several side by side.")
    p.add_argument("--model", action="append", default=[], required=True,
                   help="a recipe, model folder or hub id; repeat to compare (at most 4)")
    p.add_argument("--corpus", type=Path, required=True,
                   help="text file, one sentence per line (UTF-8; blank and repeated lines "
                   "skipped)")
    p.add_argument("--query", action="append", default=[], required=True,
                   help="a query sentence; repeat for several")
    p.add_argument("-k", type=int, default=3, help=f"neighbours per query (default 3, at "
                   f"most {MAX_K})")
    p.add_argument("--format", choices=FORMATS, default="terminal")
    p.add_argument("--html", type=Path, help="also write the tables as a self-contained page")
    RunOptions.add_arguments(p, (ENCODE,))
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    opts = RunOptions.from_args(args)  # bad values: one line naming the flag, nothing loaded
    corpus = read_corpus(args.corpus)
    check_request(args.model, args.query, args.k, corpus)
    if args.html is not None:
        check_not_input(args.html, [args.corpus], "--html")
        check_file(args.html, "--html")
    found = nearest(args.model, corpus, args.query, args.k, opts)
    shown = tables(found)
    if args.html is not None:
        atomic_write_text(args.html, tables_page("Nearest neighbours", shown))
        print(f"wrote {args.html}", file=sys.stderr)
    if args.format == "terminal":
        print_terminal(shown)
    elif args.format == "csv":
        sys.stdout.write(render([long_table(found)], "csv"))
    elif args.format in FORMATS:
        sys.stdout.write(render(shown, args.format))
    else:  # argparse's choices make this unreachable
        raise BenchError(f"--format: unknown value {args.format!r}")
    return 0
