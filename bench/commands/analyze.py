"""``bench analyze NAME``: the SimCSE paper's analyses, one module each in ``bench.analysis.kinds``.

Every analysis follows the same flow: it encodes STS-B once per model (through the embedding
cache), computes its values, prints a table, and writes a JSON report and a PNG side by side
(default ``reports/analysis/``). This module knows no analysis by name.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.analysis import compute
from bench.analysis.kinds import AnalysisKind, Rows, discover
from bench.analysis.report import AnalysisReport, save
from bench.analysis.sets import build_sets, parse_splits
from bench.analysis.targets import collect_targets
from bench.data.locate import locate
from bench.devices import check_device
from bench.distributed import follower
from bench.encoders.base import PRECISIONS
from bench.encoders.pooling import POOLERS
from bench.encoders.registry import EncoderOptions
from bench.errors import BenchError
from bench.outputs import OutputError, check_folder
from bench.reports import now_iso, slug
from bench.seeding import check_seed
from bench.version import __version__

SHOWN_LIST_LENGTH = 10  # longer list options (histogram bin edges) are in the JSON only


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="append", default=[],
                   help="recipe name (bench list models), local path, or hub id; repeatable")
    p.add_argument("--checkpoints", action="append", default=[], metavar="DIR",
                   help="a run folder (every checkpoints/step-N in it, by step) or a folder of "
                   "runs; repeatable")
    p.add_argument("--pooler", choices=POOLERS,
                   help="pooler for paths, hub ids and checkpoints (overrides a recipe's)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu)")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS)
    p.add_argument("--batch-size", type=int, default=64, help="encoding batch size (default 64)")
    p.add_argument("--cache-dir", help="embedding cache (default $BENCH_CACHE_DIR or "
                   "~/.cache/bench/embeddings)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--data-dir", help="SentEval data: the 'downstream' folder or its parent "
                   "(default: $BENCH_DATA_DIR, then ~/.cache/bench/senteval)")
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
    p.add_argument("--quiet", action="store_true", help="no progress bar")


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


def _options(args: argparse.Namespace, splits: tuple[str, ...]) -> dict[str, Any]:
    opts: dict[str, Any] = {"splits": list(splits), "unique_sentences": args.unique_sentences,
                            "max_pairs": args.max_pairs, "seed": args.seed,
                            "pooler": args.pooler, "device": args.device,
                            "precision": args.precision, "batch_size": args.batch_size}
    opts.update(args.analysis_kind.options(args))
    return opts


def _print(args: argparse.Namespace, entries: list[dict[str, Any]], options: dict[str, Any],
           rows: Rows) -> None:
    console = Console()
    shown = ", ".join(f"{k}={v}" for k, v in options.items()
                      if not (isinstance(v, list) and len(v) > SHOWN_LIST_LENGTH))
    console.print(f"[bold]bench analyze {args.analysis}[/bold]  options: {shown}")
    table = Table(title_justify="left", caption=rows.caption)
    table.add_column("model", style="bold")
    for col in rows.columns:
        table.add_column(col, justify="right")
    for e, cells in zip(entries, rows.rows, strict=True):
        table.add_row(e["label"], *cells)
    console.print(table)


def _stem(args: argparse.Namespace, entries: list[dict[str, Any]]) -> str:
    if args.name:
        return slug(args.name)
    labels = list(dict.fromkeys((e.get("checkpoint") or {}).get("run") or e["label"]
                                for e in entries))
    who = "+".join(slug(x) for x in labels[:3]) + (f"+{len(labels) - 3}more" if len(labels) > 3
                                                   else "")
    return f"{args.analysis}-{who}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def main(args: argparse.Namespace) -> int:
    kind: AnalysisKind = args.analysis_kind
    if args.batch_size < 1:
        raise BenchError(f"--batch-size must be positive, got {args.batch_size}")
    check_device(args.device)
    check_seed(args.seed)
    splits = parse_splits(args.splits)
    options = _options(args, splits)
    targets = collect_targets(args.model, args.checkpoints)
    location = locate(args.data_dir)
    sets = build_sets(location.downstream, splits, args.unique_sentences, args.max_pairs,
                      args.seed)
    kind.check(sets, options)  # bad options fail before anything is created or encoded
    check_folder(args.out_dir, "--out-dir")  # before encoding, not after it
    settings = compute.EncodeSettings(
        EncoderOptions(args.device, args.precision, args.pooler, args.data_dir, args.cache_dir,
                       not args.no_cache),
        args.cache_dir, not args.no_cache, args.batch_size, not args.quiet)

    entries: list[dict[str, Any]] = []
    for target, described, table, stats in compute.model_tables(targets, sets, settings):
        entry: dict[str, Any] = {**target.describe(), "name": described["name"],
                                 "spec": described["spec"],
                                 "fingerprint": described["fingerprint"]}
        entry.update(kind.compute(table, sets, options, args, dict(entry)))
        entry["timings"] = {k: v for k, v in stats.items() if k != "cache"}
        entries.append(entry)
    if follower():  # a sharded run's other ranks: rank 0 prints and writes
        return 0

    _print(args, entries, options, kind.rows(entries, options))
    stem = _stem(args, entries)
    png = args.out_dir / f"{stem}.png"
    report = AnalysisReport(
        analysis=args.analysis, bench_version=__version__, created=now_iso(), options=options,
        data={"found_via": location.source, **sets.describe()},
        models=[{k: v for k, v in e.items() if not k.startswith("_")} for e in entries],
        plot=png.name)
    path = save(report, args.out_dir / f"{stem}.json")  # first: the numbers
    try:
        kind.plot(entries, sets, options, png, kind.title(options, sets))
    except OSError as exc:
        raise OutputError(f"cannot write the plot {png} ({exc.strerror or exc}); the report "
                          f"is in {path}") from None
    print(f"report: {path}\nplot:   {png}")
    return 0
