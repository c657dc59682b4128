"""``bench analyze align-uniform | spectrum | cosine-dist``: the SimCSE paper's analyses.

Each sub-command encodes STS-B once per model (through the embedding cache), prints a table,
and writes a JSON report and a PNG side by side (default ``reports/analysis/``).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import __version__
from bench.analysis import compute, metrics, plots
from bench.analysis.sets import DEFAULT_THRESHOLD, build_sets, parse_splits
from bench.analysis.targets import collect_targets, find_sts_average
from bench.data.locate import locate
from bench.devices import check_device
from bench.encoders.base import PRECISIONS
from bench.encoders.pooling import POOLERS
from bench.encoders.registry import EncoderOptions
from bench.errors import BenchError
from bench.outputs import OutputError, check_folder
from bench.protocols import parse_protocols
from bench.reports import SCHEMA_VERSION, now_iso, save_report, slug
from bench.runner import check_seed

ANALYSES = ("align-uniform", "spectrum", "cosine-dist")


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
    p = sub.add_parser("analyze", help="alignment/uniformity, singular spectrum, cosine "
                       "distributions (SimCSE paper Figures 2, 3, F.1, G.1)",
                       description="Analyses of embedding spaces on STS-B, with a table, a JSON "
                       "report and a PNG.")
    which = p.add_subparsers(dest="analysis", metavar="ANALYSIS", required=True)

    a = which.add_parser("align-uniform", help="l_align over STS-B pairs with gold > threshold, "
                         "l_uniform over STS-B sentences (Figures 2 and 3)")
    _common(a)
    a.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="positive pairs have gold strictly above this (default 4)")
    a.add_argument("--alpha", type=float, default=2.0, help="alignment exponent (default 2)")
    a.add_argument("--t", type=float, default=2.0, help="uniformity temperature (default 2)")
    a.add_argument("--reports-dir", type=Path, default=Path("reports"),
                   help="where to look for 'bench run' reports of the same encoder fingerprint "
                   "to colour points by average STS (default reports)")
    a.add_argument("--protocol", default="simcse",
                   help="protocol whose average STS colours the points (default simcse)")

    s = which.add_parser("spectrum", help="normalised singular values of the STS-B embedding "
                         "matrix (Figure F.1)")
    _common(s)
    s.add_argument("--normalize", choices=metrics.NORMALIZE_CHOICES, default="l2",
                   help="row normalisation before the SVD (default l2)")
    s.add_argument("--center", action="store_true",
                   help="subtract the column mean (after normalisation); default off")

    c = which.add_parser("cosine-dist", help="pair cosines per gold-score group (Figure G.1)")
    _common(c)
    c.add_argument("--style", choices=("density", "box"), default="density",
                   help="density (ridge) or box plots (default density)")
    for q in (a, s, c):
        q.set_defaults(func=main)


def _options(args: argparse.Namespace, splits: tuple[str, ...]) -> dict[str, Any]:
    opts: dict[str, Any] = {"splits": list(splits), "unique_sentences": args.unique_sentences,
                            "max_pairs": args.max_pairs, "seed": args.seed,
                            "pooler": args.pooler, "device": args.device,
                            "precision": args.precision, "batch_size": args.batch_size}
    if args.analysis == "align-uniform":
        opts.update(threshold=args.threshold, threshold_rule="gold > threshold", alpha=args.alpha,
                    t=args.t, normalized="l2", uniform_pairs="distinct i<j",
                    protocol=parse_protocols(args.protocol)[0].key)
    elif args.analysis == "spectrum":
        opts.update(normalize=args.normalize, center=args.center,
                    order="normalise rows, then centre columns", scale="largest = 1")
    else:
        opts.update(style=args.style, groups=metrics.group_labels(),
                    histogram_bins=[float(b) for b in compute.COSINE_BINS])
    return opts


def _values(args: argparse.Namespace, table, sets) -> dict[str, Any]:
    if args.analysis == "align-uniform":
        return compute.align_uniform(table, sets, args.threshold, args.alpha, args.t)
    if args.analysis == "spectrum":
        return compute.spectrum(table, sets, args.normalize, args.center)
    return compute.cosine_distribution(table, sets)


def _print(args: argparse.Namespace, entries: list[dict[str, Any]], options: dict[str, Any]
           ) -> None:
    console = Console()
    shown = ", ".join(f"{k}={v}" for k, v in options.items() if k != "histogram_bins")
    console.print(f"[bold]bench analyze {args.analysis}[/bold]  options: {shown}")
    table = Table(title_justify="left")
    table.add_column("model", style="bold")
    if args.analysis == "align-uniform":
        for col in ("l_align", "l_uniform", "pos. pairs", "sentences", "avg STS"):
            table.add_column(col, justify="right")
        for e in entries:
            avg = e.get("avg_sts")
            table.add_row(e["label"], f"{e['align']:.4f}", f"{e['uniform']:.4f}",
                          str(e["positive_pairs"]), str(e["sentences"]),
                          "-" if avg is None else f"{avg:.2f}")
    elif args.analysis == "spectrum":
        for col in ("dim", "sentences", "s_2", "s_10", "sum s_i", "# > 0.1"):
            table.add_column(col, justify="right")
        for e in entries:
            sv = e["singular_values"]
            pick = [f"{sv[i]:.3f}" if len(sv) > i else "-" for i in (1, 9)]
            table.add_row(e["label"], str(e["dim"]), str(e["sentences"]), *pick,
                          f"{e['sum']:.2f}", str(e["above_0.1"]))
    else:
        first = entries[0]["groups"]  # every model sees the same pairs, so the same counts
        for label in metrics.group_labels():
            table.add_column(f"gold {label}\nn={first[label]['n']}", justify="right")
        for e in entries:
            cells = [f"{g['mean']:.2f}±{g['std']:.2f}" if g["n"] else "-"
                     for g in e["groups"].values()]
            table.add_row(e["label"], *cells)
        table.caption = "cosine mean±std per gold-score group"
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
    if args.batch_size < 1:
        raise BenchError(f"--batch-size must be positive, got {args.batch_size}")
    check_device(args.device)
    check_seed(args.seed)
    check_folder(args.out_dir, "--out-dir")  # before encoding, not after it
    splits = parse_splits(args.splits)
    options = _options(args, splits)
    targets = collect_targets(args.model, args.checkpoints)
    location = locate(args.data_dir)
    sets = build_sets(location.downstream, splits, args.unique_sentences, args.max_pairs,
                      args.seed)
    settings = compute.EncodeSettings(
        EncoderOptions(args.device, args.precision, args.pooler, args.data_dir, args.cache_dir,
                       not args.no_cache),
        args.cache_dir, not args.no_cache, args.batch_size, not args.quiet)

    entries: list[dict[str, Any]] = []
    for target, described, table, stats in compute.model_tables(targets, sets, settings):
        entry: dict[str, Any] = {**target.describe(), "name": described["name"],
                                 "spec": described["spec"],
                                 "fingerprint": described["fingerprint"]}
        entry.update(_values(args, table, sets))
        if args.analysis == "align-uniform":
            found = find_sts_average(described["fingerprint"], options["protocol"],
                                     args.reports_dir)
            entry["avg_sts"] = found["avg"] if found else None
            entry["avg_sts_report"] = found["report"] if found else None
        entry["timings"] = {k: v for k, v in stats.items() if k != "cache"}
        entries.append(entry)

    _print(args, entries, options)
    stem = _stem(args, entries)
    png = args.out_dir / f"{stem}.png"
    title = _title(args, options, sets)
    report = {
        "schema_version": SCHEMA_VERSION, "kind": "analysis", "analysis": args.analysis,
        "bench_version": __version__, "created": now_iso(), "options": options,
        "data": {"dir": str(location.downstream), "found_via": location.source,
                 **sets.describe()},
        "models": [{k: v for k, v in e.items() if not k.startswith("_")} for e in entries],
        "plot": png.name,
    }
    path = save_report(report, args.out_dir / f"{stem}.json", stem)  # first: the numbers
    try:
        if args.analysis == "align-uniform":
            plots.align_uniform_plot(entries, png, title)
        elif args.analysis == "spectrum":
            plots.spectrum_plot(entries, png, title)
        else:
            for e in entries:
                e["_groups"] = metrics.group_index(sets.gold)
            plots.cosine_dist_plot(entries, metrics.group_labels(), png, title, args.style)
    except OSError as exc:
        raise OutputError(f"cannot write the plot {png} ({exc.strerror or exc}); the report "
                          f"is in {path}") from None
    print(f"report: {path}\nplot:   {png}")
    return 0


def _title(args: argparse.Namespace, options: dict[str, Any], sets) -> str:
    where = f"STS-B {'+'.join(sets.splits)}"
    if sets.sampled_from is not None:
        where += f", {len(sets.gold)} of {sets.sampled_from} pairs sampled"
    if args.analysis == "align-uniform":
        return (f"alignment vs uniformity ({where}; positives: gold > {args.threshold:g}, "
                f"alpha={args.alpha:g}, t={args.t:g})")
    if args.analysis == "spectrum":
        return (f"singular spectrum of {where} sentence embeddings\n(normalize={args.normalize}, "
                f"center={args.center}; largest = 1)")
    return f"cosine similarity of {where} pairs by gold score"
