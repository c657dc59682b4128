"""STS runs against what a user would run instead, and bench's backends and precisions.

Sections (``--sections``, all by default), each in this process on the same machine, every
bench run with a fresh embedding cache:

- ``stsb``: ``--tasks STS-B --protocol simcse`` cold (fresh digest memo too: the weights are
  hashed) against sentence-transformers' ``EmbeddingSimilarityEvaluator`` on the same test
  pairs (model load + evaluation), after one untimed load that warms the disk cache for both.
  Target (issue 27): wall ratio <= 0.85. The Spearman both report is compared.
- ``suite``: the STS suite under ``--protocol`` cold against a bare sentence-transformers
  ``encode`` of the distinct sentences those protocols need (the test parts); then the cached
  rerun. Targets: cold / peer <= 0.85, cached / cold <= 0.1.
- ``onnx``: the suite on ``--backend onnx`` (and ``onnx-int8``) against PyTorch, each after an
  untimed export: encoding time ratio and the largest score difference (fp32 ONNX: at most
  0.01 points; int8 is another model, its difference is reported, not bounded).
- ``bf16``: on a CPU with AMX (``amx_bf16`` in /proc/cpuinfo), ``--precision bf16`` against
  fp32: encoding time ratio and the largest score difference (at most 0.1 points); skipped,
  saying so, elsewhere.

With ``--procs N`` (N > 1) it also times the suite as ``bench run`` in one process and
sharded over N processes under torchrun (``bench.distributed``), each in a fresh process with
its own cache, and checks that both give the same numbers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from bench.commands.common import split_list
from bench.data.locate import locate
from bench.devices import has_amx_bf16
from bench.encoders.make import encoder_options
from bench.encoders.onnx import ONNX_BACKENDS, as_backend
from bench.encoders.packaged import packaged_path
from bench.encoders.registry import resolve
from bench.environment import describe_environment
from bench.errors import BenchError
from bench.options import DATA, RunOptions
from bench.perf._shared import cli_run, largest_gap, score_table
from bench.protocols import parse_protocols
from bench.reports import load
from bench.results import RunReport
from bench.runner import RunConfig
from bench.runner import run as bench_run
from bench.tasks.registry import select
from bench.tasks.sts import planned

PACKAGED = "packaged:all-MiniLM-L6-v2"
SECTIONS = ("stsb", "suite", "onnx", "bf16")
TARGETS = {"stsb_ratio_vs_evaluator": 0.85, "suite_ratio_cold_vs_encode": 0.85,
           "ratio_cached_vs_cold": 0.1, "onnx_max_abs_diff_points": 0.01,
           "bf16_max_abs_diff_points": 0.1}


def add_arguments(p: argparse.ArgumentParser) -> None:
    RunOptions.add_arguments(p, (DATA,))
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--model", default="minilm-avg",
                   help="bench recipe to time (default minilm-avg: the packaged MiniLM, whose "
                   "sentence-transformers form is the peer)")
    p.add_argument("--tasks", nargs="+", default=["sts"],
                   help="STS tasks of the suite (default sts)")
    p.add_argument("--protocol", default="simcse", help="protocols of the suite (default simcse)")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help=f"what to measure, comma-separated (default {','.join(SECTIONS)})")
    p.add_argument("--procs", type=int, default=1,
                   help="also time the run sharded over this many processes (torchrun, gloo) "
                   "against one process (default 1: not)")


def _st_model(device: str = "cpu") -> Any:
    from sentence_transformers import SentenceTransformer  # heavy: sentence_transformers

    return SentenceTransformer(str(packaged_path(PACKAGED)), device=device)


def _sync(device: str) -> None:
    """Wait for the GPU's queued work, so a wall time covers it."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peer_encode(sentences: list[str], batch_size: int, device: str = "cpu") -> float:
    t = time.perf_counter()
    _st_model(device).encode(sentences, batch_size=batch_size, show_progress_bar=False)
    _sync(device)
    return time.perf_counter() - t


def _peer_evaluator(pairs: Any, batch_size: int, device: str = "cpu") -> tuple[float, float]:
    """Wall seconds of what a sentence-transformers user runs on STS-B test (load the model,
    evaluate), and its Spearman (points)."""
    from sentence_transformers.sentence_transformer.evaluation import (  # heavy: sentence_transformers
        EmbeddingSimilarityEvaluator,
    )

    t = time.perf_counter()
    model = _st_model(device)
    evaluator = EmbeddingSimilarityEvaluator(list(pairs.sent1), list(pairs.sent2),
                                             [float(g) for g in pairs.gold],
                                             batch_size=batch_size, main_similarity="cosine",
                                             write_csv=False)
    metrics = evaluator(model)
    _sync(device)
    wall = time.perf_counter() - t
    return wall, 100 * float(metrics["spearman_cosine"])


@contextmanager
def _xdg(folder: Path) -> Iterator[None]:
    """``XDG_CACHE_HOME`` (bench's digest memo and ONNX exports) set to ``folder`` for the
    block, then as it was."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = before


class _Runs:
    """bench runs of one benchmark, each with a fresh embedding cache; ``cold`` also gives it
    a fresh digest memo (``XDG_CACHE_HOME``), so the weights are hashed again."""

    def __init__(self, args: argparse.Namespace, downstream: Path, tmp: Path,
                 device: str = "cpu") -> None:
        self.args, self.downstream, self.tmp, self.device = args, downstream, tmp, device
        self.count = 0
        self.warm_xdg = tmp / "xdg-warm"

    def config(self, tasks: list[str], protocol: str, cache: Path | None = None,
               **options: Any) -> RunConfig:
        self.count += 1
        return RunConfig(model=self.args.model, protocols=parse_protocols(protocol),
                         tasks=tasks, data_dir=str(self.downstream),
                         cache_dir=str(cache or self.tmp / f"cache-{self.count}"),
                         batch_size=self.args.batch_size, show_progress=False,
                         device=self.device, **options)

    def time(self, config: RunConfig, cold: bool = False) -> tuple[RunReport, float]:
        with _xdg(self.tmp / f"xdg-{self.count}" if cold else self.warm_xdg):
            t = time.perf_counter()
            report = bench_run(config)
            wall = time.perf_counter() - t
        assert report is not None  # one process
        return report, wall


def _encode_rate(report: RunReport) -> dict[str, Any]:
    t = report.timings
    n, s = t.get("sentences_encoded", 0), t.get("encode_s", 0.0)
    return {"encode_s": s, "sentences_encoded": n,
            "sentences_per_s": round(n / s, 1) if n and s else None}


def _against(reference: RunReport, ref_wall: float, other: RunReport, wall: float,
             tolerance: float | None) -> dict[str, Any]:
    out = {"reference": {**_encode_rate(reference), "wall_s": round(ref_wall, 2)},
           "this": {**_encode_rate(other), "wall_s": round(wall, 2)},
           "ratio_encode": round(other.timings["encode_s"] / reference.timings["encode_s"], 3)
           if reference.timings.get("encode_s") else None,
           "ratio_wall": round(wall / ref_wall, 3),
           "scores": largest_gap(score_table(reference), score_table(other))}
    if tolerance is not None:
        out["tolerance_points"] = tolerance
        out["within"] = out["scores"]["max_abs_diff_points"] <= tolerance
    return out


def stsb_section(runs: _Runs, args: argparse.Namespace, task: str = "STSBenchmark"
                 ) -> dict[str, Any]:
    meta = select([task])[0]
    test = meta.load(runs.downstream).parts[meta.eval_parts[0]]
    _st_model(runs.device)  # untimed: the weights are in the disk cache for both
    peer_s, peer_value = _peer_evaluator(test, args.batch_size, runs.device)
    report, wall = runs.time(runs.config([meta.name], "simcse"), cold=True)
    ours = report.scores[0].values[meta.name]
    return {"pairs": len(test), "distinct_sentences": len(set(test.sent1) | set(test.sent2)),
            "sentences_encoded": report.timings["sentences_encoded"],
            "evaluator_s": round(peer_s, 2), "bench_cold_s": round(wall, 2),
            "ratio_bench_vs_evaluator": round(wall / peer_s, 3),
            "target": TARGETS["stsb_ratio_vs_evaluator"],
            "spearman_bench": ours, "spearman_evaluator": peer_value,
            "spearman_diff_points": round(abs(ours - peer_value), 6),
            "bench_timings": report.timings}


def needed_sentences(tasks: list[str], downstream: Path, regressor: bool) -> list[str]:
    """The distinct sentences the protocols read: what a bare encode must cover."""
    out: list[str] = []
    for meta in select(tasks):
        task = meta.load(downstream)
        if meta.family == "sts":
            task = planned(task, regressor)
        out.extend(task.sentences())
    return list(dict.fromkeys(out))


def suite_section(runs: _Runs, args: argparse.Namespace, tasks: list[str]
                  ) -> tuple[dict[str, Any], RunReport]:
    regressor = any(p.regressor != "none" for p in parse_protocols(args.protocol))
    unique = needed_sentences(tasks, runs.downstream, regressor)
    peer_s = _peer_encode(unique, args.batch_size, runs.device)
    config = runs.config(tasks, args.protocol)
    cold, cold_s = runs.time(config, cold=True)
    warm, warm_s = runs.time(config)
    out = {"sentences_needed": len(unique), "sentences_encoded": cold.timings[
        "sentences_encoded"], "peer_sentence_transformers_encode_s": round(peer_s, 2),
        "bench_cold_s": round(cold_s, 2), "bench_cached_s": round(warm_s, 2),
        "ratio_cold_vs_encode": round(cold_s / peer_s, 3),
        "ratio_cached_vs_cold": round(warm_s / cold_s, 4),
        "targets": {"ratio_cold_vs_encode": TARGETS["suite_ratio_cold_vs_encode"],
                    "ratio_cached_vs_cold": TARGETS["ratio_cached_vs_cold"]},
        "cold_timings": cold.timings, "cached_timings": warm.timings,
        "protocols": [s.protocol.key for s in cold.scores]}
    return out, cold


def onnx_section(runs: _Runs, args: argparse.Namespace, tasks: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    exported: dict[str, float] = {}
    for backend in ONNX_BACKENDS:  # export (once) and load first, untimed in the runs
        with _xdg(runs.warm_xdg):  # where the runs below find the export
            t = time.perf_counter()
            try:
                as_backend(resolve(args.model, encoder_options(RunOptions(), "cpu")),
                           backend).session
            except BenchError as exc:
                out[backend] = f"skipped: {exc}"
                continue
            exported[backend] = time.perf_counter() - t
    if not exported:
        return out
    reference, ref_wall = runs.time(runs.config(tasks, args.protocol))
    for backend, export_s in exported.items():
        report, wall = runs.time(runs.config(tasks, args.protocol, backend=backend))
        out[backend] = {"export_and_load_s": round(export_s, 2), "name": report.model.name,
                        "fingerprint": report.model.fingerprint,
                        **_against(reference, ref_wall, report, wall,
                                   TARGETS["onnx_max_abs_diff_points"]
                                   if backend == "onnx" else None)}
    return out


def bf16_section(runs: _Runs, args: argparse.Namespace, tasks: list[str]) -> dict[str, Any] | str:
    if not has_amx_bf16():
        return "skipped: this CPU has no AMX (no amx_bf16 in /proc/cpuinfo)"
    reference, ref_wall = runs.time(runs.config(tasks, args.protocol))
    out = {}
    for name, options in {"autocast": {"precision": "bf16"},
                          "weights": {"precision": "bf16", "dtype": "bf16"}}.items():
        report, wall = runs.time(runs.config(tasks, args.protocol, **options))
        out[name] = {"options": options, **_against(reference, ref_wall, report, wall,
                                                    TARGETS["bf16_max_abs_diff_points"])}
    return out


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
    sections = [s for s in args.sections.replace(",", " ").split() if s]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise BenchError(f"--sections: unknown section {unknown[0]!r}; valid: "
                         f"{', '.join(SECTIONS)}")
    parse_protocols(args.protocol)  # a bad protocol fails before anything is timed
    tasks = split_list(args.tasks)
    select(tasks)
    import sentence_transformers  # noqa: F401  (import cost outside both timings)  # heavy: sentence_transformers
    import transformers  # noqa: F401  # heavy: transformers

    downstream = locate(args.data_dir).downstream
    out: dict[str, Any] = {"benchmark": "sts-runs-vs-sentence-transformers",
                           "model": args.model, "batch_size": args.batch_size,
                           "tasks": tasks, "protocol": args.protocol, "targets": TARGETS}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        runs = _Runs(args, downstream, tmp)
        if "stsb" in sections:
            out["stsb_simcse"] = stsb_section(runs, args)
        if "suite" in sections:
            out["suite"], _ = suite_section(runs, args, tasks)
        if "onnx" in sections:
            out["onnx"] = onnx_section(runs, args, tasks)
        if "bf16" in sections:
            out["bf16"] = bf16_section(runs, args, tasks)
        if args.procs > 1:
            out["sharded"] = sharded(args, downstream, tmp)
    out["environment"] = describe_environment("cpu")
    return out
