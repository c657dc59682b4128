"""Helpers of the benchmarks (not a benchmark: ``bench perf`` skips modules named ``_*``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.errors import BenchError
from bench.results import RunReport


def score_table(report: RunReport) -> dict[str, float]:
    """Every number of a run's report: ``<protocol>/<task>`` and ``<protocol>/avg`` (STS,
    points), ``transfer/<task>`` (accuracy, points)."""
    out: dict[str, float] = {}
    for s in report.scores:
        out.update({f"{s.protocol.key}/{task}": v for task, v in s.values.items()})
        if s.average is not None:
            out[f"{s.protocol.key}/avg"] = s.average.value
    for name, task in report.tasks.items():
        if task.transfer is not None:
            out[f"transfer/{name}"] = task.transfer.acc
    return out


def largest_gap(reference: dict[str, float], other: dict[str, float]) -> dict[str, object]:
    """The largest absolute difference between two score tables (points) and where it is."""
    if reference.keys() != other.keys():
        missing = sorted(reference.keys() ^ other.keys())
        raise BenchError(f"the runs scored different things: {', '.join(missing[:5])}")
    gaps = {k: abs(reference[k] - other[k]) for k in reference}
    worst = max(gaps, key=gaps.get) if gaps else None
    return {"max_abs_diff_points": round(gaps[worst], 6) if worst else 0.0, "at": worst,
            "compared": len(gaps)}


def cli_run(bench_args: list[str], *, procs: int = 1, env: dict[str, str] | None = None
            ) -> float:
    """Wall seconds of ``bench run ...`` in a fresh process, or of ``procs`` processes under
    torchrun (a sharded run); a failure is a one-line BenchError with the run's last line."""
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone",
                 "--nproc_per_node", str(procs)] if procs > 1 else [sys.executable])
    here = str(Path(__file__).resolve().parents[2])  # this checkout's bench, not another
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (here, full_env.get("PYTHONPATH"))
                                             if p)
    t = time.perf_counter()
    done = subprocess.run([*launcher, "-m", "bench", "run", *bench_args], env=full_env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.startswith("bench: error:")]
        last = lines[0] if lines else (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"{'sharded ' if procs > 1 else ''}bench run failed "
                         f"(exit {done.returncode}): {last}")
    return wall
