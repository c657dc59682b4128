"""STS run (all six protocols) against a bare sentence-transformers encode, cold and cached.

The peer is what a user would otherwise write: load the model with sentence-transformers and
encode the same unique sentences. bench's cold run pays for data loading, checksums, weight
hashing, encoding and scoring under every protocol; the cached rerun should cost a small
fraction of it. Targets (issue 2): cold / peer <= 1.15, cached / cold <= 0.1.

With ``--procs N`` (N > 1) it also times the same cold run as ``bench run`` in one process and
sharded over N processes under torchrun (``bench.distributed``), each in a fresh process with
its own cache, and checks that both give the same numbers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.data.locate import locate
from bench.encoders.packaged import packaged_path
from bench.environment import describe_environment
from bench.errors import BenchError
from bench.options import DATA, RunOptions
from bench.perf._shared import cli_run, largest_gap, score_table
from bench.protocols import parse_protocols
from bench.reports import load
from bench.runner import RunConfig
from bench.runner import run as bench_run
from bench.tasks.registry import select


def add_arguments(p: argparse.ArgumentParser) -> None:
    RunOptions.add_arguments(p, (DATA,))
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--model", default="minilm-avg", help="bench recipe to time (default minilm-avg)")
    p.add_argument("--procs", type=int, default=1,
                   help="also time the run sharded over this many processes (torchrun, gloo) "
                   "against one process (default 1: not)")


def _peer(sentences: list[str], batch_size: int) -> float:
    from sentence_transformers import SentenceTransformer  # heavy: sentence_transformers

    t = time.perf_counter()
    model = SentenceTransformer(str(packaged_path("packaged:all-MiniLM-L6-v2")), device="cpu")
    model.encode(sentences, batch_size=batch_size, show_progress_bar=False)
    return time.perf_counter() - t


def sharded(args: argparse.Namespace, downstream: Path, tmp: Path) -> dict:
    """One cold ``bench run`` against the same run sharded over ``args.procs`` processes."""

    walls, tables = {}, {}
    for procs in (1, args.procs):
        run_args = ["--model", args.model, "--tasks", "sts", "--protocol", "every-cosine",
                    "--data-dir", str(downstream), "--batch-size", str(args.batch_size),
                    "--cache-dir", str(tmp / f"cache-{procs}"),
                    "--out", str(tmp / f"run-{procs}.json"), "--quiet"]
        walls[procs] = cli_run(run_args, procs=procs,
                               env={"XDG_CACHE_HOME": str(tmp / f"xdg-{procs}")})
        tables[procs] = score_table(load(tmp / f"run-{procs}.json"))
    return {"procs": args.procs, "single_process_s": round(walls[1], 2),
            "sharded_s": round(walls[args.procs], 2),
            "ratio_sharded_vs_single": round(walls[args.procs] / walls[1], 3),
            "numbers": largest_gap(tables[1], tables[args.procs]),
            "note": "fresh processes, cold caches; torchrun gives each worker one thread "
                    "(OMP_NUM_THREADS=1), the single process uses every core"}


def run(args: argparse.Namespace) -> dict:
    if args.procs < 1:
        raise BenchError(f"--procs must be at least 1, got {args.procs}")
    import sentence_transformers  # noqa: F401  (import cost outside both timings)  # heavy: sentence_transformers
    import transformers  # noqa: F401  # heavy: transformers

    downstream = locate(args.data_dir).downstream
    unique = list(dict.fromkeys(s for m in select(["sts"])
                                for s in m.load(downstream).sentences()))
    peer_s = _peer(unique, args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "xdg")  # cold: weights hashed afresh too
        config = RunConfig(model=args.model, protocols=parse_protocols("every-cosine"),
                           data_dir=str(downstream), cache_dir=str(Path(tmp) / "cache"),
                           batch_size=args.batch_size, show_progress=False)
        t = time.perf_counter()
        cold = bench_run(config)
        cold_s = time.perf_counter() - t
        t = time.perf_counter()
        warm = bench_run(config)
        warm_s = time.perf_counter() - t
        shard = sharded(args, downstream, Path(tmp)) if args.procs > 1 else None
    out = {
        "benchmark": "sts-run-vs-sentence-transformers-encode",
        "sentences_unique": len(unique),
        "peer_sentence_transformers_s": round(peer_s, 2),
        "bench_cold_s": round(cold_s, 2),
        "bench_cached_s": round(warm_s, 2),
        "ratio_cold_vs_peer": round(cold_s / peer_s, 3),
        "ratio_cached_vs_cold": round(warm_s / cold_s, 4),
        "targets": {"ratio_cold_vs_peer": 1.15, "ratio_cached_vs_cold": 0.1},
        "cold_timings": cold.timings, "cached_timings": warm.timings,
        "protocols": [s.protocol.key for s in cold.scores],
        "environment": describe_environment("cpu"),
    }
    if shard is not None:
        out["sharded"] = shard
    return out
