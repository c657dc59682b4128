"""STS-B dev Spearman of a folder of training runs: the paper's Tables 1, 2 and D.1 at CPU scale.

``python -m bench.train.table runs/ablations-minilm-cpu [--out reports/ablations-minilm-cpu]``
scores the final checkpoint of every run in the folder, and the pre-trained start once, with
the trainer's own model-selection measure (``StsEvaluator``: cosine Spearman on STS-B dev,
the measure of the paper's tables), then groups runs that differ only by a ``-seedN`` suffix
into mean and sample standard deviation. Writes a Markdown table and a JSON of every value.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_text
from bench.callbacks import StsEvaluator
from bench.compare.index import TRAINING_TABLE_KIND
from bench.encoders.registry import EncoderOptions, resolve
from bench.errors import BenchError
from bench.fingerprint import sha256_file
from bench.textsafe import md_cell
from bench.train import rundir

_SEED = re.compile(r"^(.*)-seed(\d+)$")


def _variant(run: str) -> str:
    m = _SEED.match(run)
    return m.group(1) if m else run


def score_runs(folder: Path, data_dir: str | None = None,
               known: dict[str, Any] | None = None) -> dict[str, Any]:
    """Dev Spearman (points) of each run's final checkpoint and of their pre-trained start.

    ``known``: an earlier result of this function; runs it holds with the same final step and
    run.json digest (and the start) are taken from it instead of being encoded again.
    """
    from bench.train.checkpoint import (
        checkpoint_encoder,  # heavy: torch (through bench.train.checkpoint)
    )

    runs = sorted(d for d in folder.iterdir() if rundir.is_run_dir(d)) if folder.is_dir() else []
    if not runs:
        raise BenchError(f"{folder}: no training run folders (run.json) in it")

    dev = StsEvaluator("STSBenchmark", "dev", "spearman", data_dir=data_dir)
    before = {r["run"]: r for r in (known or {}).get("runs", [])}
    rows, starts = [], {(s["backbone"], s["pooler"]): s["stsb_dev_spearman"]
                        for s in (known or {}).get("start", [])}
    for run in runs:
        info = rundir.read_run_info(run)
        found = rundir.checkpoints(run)
        if info.get("status") != "finished" or not found:
            raise BenchError(f"{run}: the run has not finished; train it first")
        step, last = found[-1]
        cfg = info["config"]
        digest = sha256_file(run / rundir.RUN_FILE)
        old = before.get(run.name)
        if old and old["step"] == step and old.get("run_json_sha256") == digest:
            score = old["stsb_dev_spearman"] / 100
        else:
            score = dev(checkpoint_encoder(last, EncoderOptions()).encode)
        rows.append({"run": run.name, "variant": _variant(run.name), "step": step,
                     "run_json_sha256": digest,
                     "positive": cfg.get("positive", "dropout"),
                     "dual_encoder": cfg.get("dual_encoder", False),
                     "similarity": cfg.get("similarity", "cosine"), "dropout": cfg.get("dropout"),
                     "seed": cfg["seed"], "stsb_dev_spearman": 100 * score})
        key = (cfg["backbone"], info["eval_pooler"])
        if key not in starts:
            start = resolve(cfg["backbone"], EncoderOptions(pooler=info["eval_pooler"]))
            starts[key] = 100 * dev(start.encode)
    variants: dict[str, list[float]] = {}
    for r in rows:
        variants.setdefault(r["variant"], []).append(r["stsb_dev_spearman"])
    summary = [{"variant": v, "n": len(xs), "mean": statistics.fmean(xs),
                "sd": statistics.stdev(xs) if len(xs) > 1 else None,
                "min": min(xs), "max": max(xs)} for v, xs in variants.items()]
    summary.sort(key=lambda s: -s["mean"])
    return {"kind": TRAINING_TABLE_KIND, "schema_version": 1, "folder": str(folder),
            "measure": "STS-B dev, cosine Spearman x100 (all pairs)",
            "start": [{"backbone": b, "pooler": p, "stsb_dev_spearman": s}
                      for (b, p), s in starts.items()],
            "variants": summary, "runs": rows}


def markdown(result: dict[str, Any]) -> str:
    lines = [f"STS-B dev Spearman x100 of the final checkpoint of each run in "
             f"`{result['folder']}` (mean, sample SD over seeds where n > 1).", "",
             "| variant | n | mean | SD | min | max |", "|:--|--:|--:|--:|--:|--:|"]
    for s in result["variants"]:
        sd = "-" if s["sd"] is None else f"{s['sd']:.2f}"
        lines.append(f"| {md_cell(s['variant'])} | {s['n']} | {s['mean']:.2f} | {sd} | {s['min']:.2f} "
                     f"| {s['max']:.2f} |")
    for s in result["start"]:
        start = md_cell(f"pre-trained start ({s['backbone']}, {s['pooler']})")
        lines.append(f"| {start} | 1 | "
                     f"{s['stsb_dev_spearman']:.2f} | - | - | - |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.train.table", description=__doc__)
    p.add_argument("folder", type=Path, help="a folder of run folders (runs/SET)")
    p.add_argument("--data-dir", help="SentEval data (default $BENCH_DATA_DIR)")
    p.add_argument("--out", type=Path, help="write OUT.md and OUT.json (an OUT.json already "
                   "there supplies the values of runs that did not change)")
    args = p.parse_args(argv)
    known = None
    if args.out and args.out.with_suffix(".json").is_file():
        known = json.loads(args.out.with_suffix(".json").read_text(encoding="utf-8"))
    try:
        result = score_runs(args.folder, args.data_dir, known)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    text = markdown(result)
    print(text, end="")
    if args.out:
        atomic_write_text(args.out.with_suffix(".md"), text)
        atomic_write_text(args.out.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
