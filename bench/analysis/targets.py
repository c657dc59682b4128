"""What to analyse: named models, and checkpoints of training runs in training order.

A run folder holds ``checkpoints/step-XXXXX/`` sub-folders (one model folder each); the
encoder for each checkpoint comes from ``bench.encoders.registry.resolve`` on its path, so a
path resolver registered for run folders, or the plain Hugging Face folder rule, applies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError, warn
from bench.progress import count
from bench.protocols import Protocol
from bench.reports import ReportError, load
from bench.results import RunReport
from bench.train import rundir
from bench.train.config import trajectory_flags


@dataclass(frozen=True)
class Target:
    """One model to analyse; ``run``/``step`` are set for checkpoints."""

    model: str  # what registry.resolve receives
    label: str  # legend / table label
    run: str | None = None
    step: int | None = None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"requested": self.model, "label": self.label}
        if self.run is not None:
            out["checkpoint"] = {"run": self.run, "step": self.step}
        return out


def run_checkpoints(run_dir: Path) -> list[Target]:
    """Every ``checkpoints/step-N`` folder of one run, sorted by step."""
    return [Target(str(path), f"{run_dir.name}@{step}", run_dir.name, step)
            for step, path in rundir.checkpoints(run_dir)]


def checkpoint_targets(path: Path) -> list[Target]:
    """Checkpoints of the run at ``path``, or of every run directly under ``path``."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise BenchError(f"--checkpoints {path}: no such folder (runs are made by 'bench train "
                         f"simcse --recipe NAME' or '--name NAME', in runs/NAME)")
    if (path / "checkpoints").is_dir():
        runs = [path]
    else:
        runs = sorted(d for d in path.iterdir() if d.is_dir() and (d / "checkpoints").is_dir())
    per_run = [(run, run_checkpoints(run)) for run in runs]
    targets = [t for _, found in per_run for t in found]
    if not targets:
        raise BenchError(f"--checkpoints {path}: no checkpoints/step-N folders in it "
                         f"or in any run folder under it")
    for run, found in per_run:
        if len(found) < 2:
            _say_no_trajectory(run, found)
    return targets


def _say_no_trajectory(run: Path, found: list[Target]) -> None:
    """One line, before anything is encoded: a run with fewer than two checkpoints is one
    dot, not a trajectory; which training flags give one."""
    steps = ", ".join(f"step {t.step}" for t in found) or "none"
    last = max((t.step or 0 for t in found), default=0)
    warn(f"--checkpoints {run}: {count(len(found), 'checkpoint')} ({steps}), so it is one "
         f"point, not a trajectory; train it again with "
         f"{trajectory_flags(last) if last else '--save-steps N and --save-initial'}")


def collect_targets(models: Iterable[str] | None, checkpoints: Iterable[str] | None
                    ) -> list[Target]:
    """Named models first, then checkpoints; at least one of them is required."""
    targets = [Target(m, m) for m in models or ()]
    for path in checkpoints or ():
        targets.extend(checkpoint_targets(Path(path)))
    if not targets:
        raise BenchError("nothing to analyse: give --model and/or --checkpoints")
    return targets


def find_sts_average(fingerprint: str, protocol_key: str, reports_dir: Path
                     ) -> dict[str, Any] | None:
    """Average STS of the newest run report for this encoder fingerprint, if any.

    Files that are not readable run reports are skipped silently: the folder also holds
    analysis reports and whatever else users keep there.
    """

    best: dict[str, Any] | None = None
    if not reports_dir.is_dir():
        return None
    protocol = Protocol.parse(protocol_key)
    for path in reports_dir.rglob("*.json"):
        try:
            report = load(path)
        except (ReportError, OSError):
            continue
        if not isinstance(report, RunReport) or report.model.fingerprint != fingerprint:
            continue
        scores = report.score(protocol)
        if scores is None or scores.average is None:
            continue
        if best is None or report.created > best["created"]:
            best = {"avg": scores.average.value, "protocol": protocol_key, "report": str(path),
                    "created": report.created}
    return best
