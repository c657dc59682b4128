"""Task families: how a loaded task is evaluated on its embeddings.

The runner loops over families, never over task names: each family takes its tasks (already
loaded, with their registry records) and their embedding views, and returns one
``TaskResult`` per task. A family also owns its result payload, rows, table and seed mean
(``bench.family.Family``). A new family (pair classification, retrieval) is one ``Family``
subclass registered in ``bench.family.FAMILIES`` (from any module, or a plugin's entry point
in the ``bench.families`` group) plus the records of its tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.family import FAMILIES, Family
from bench.results import (
    PartResult,
    TaskResult,
    TransferResult,
    read_sts_payload,
    read_transfer_payload,
)
from bench.scoring import row
from bench.tasks.sts import evaluate_sts_task, planned
from bench.tasks.transfer_suite import default_jobs, evaluate_transfer_suite

__all__ = ["FAMILIES", "EvalContext", "Family", "StsFamily", "TransferFamily"]


@dataclass(frozen=True)
class EvalContext:
    """Run-wide choices a family may need."""

    seed: int = 1111
    device: str = "cpu"
    show_progress: bool = True
    regressor: dict[str, Any] | None = None  # evaluate_regressor options, when a -reg protocol
    transfer_config: str = "test"
    classifier: str = "torch"
    jobs: int | None = None


class StsFamily(Family):
    """Pairs scored by cosine against gold per part; numbers under an STS protocol."""

    name = "sts"
    title = "STS"
    own_table = True  # compare and the page place STS rows under a protocol, with intervals
    by_protocol = True

    def payload_to_dict(self, task: TaskResult) -> dict[str, Any]:
        out: dict[str, Any] = {"eval_parts": list(task.eval_parts),
                               "supervised": task.supervised,
                               "parts": {k: p.to_dict() for k, p in task.parts.items()}}
        if task.regression is not None:
            out["regression"] = task.regression.to_dict()
        if task.similarities:
            out["similarities"] = task.similarities
        return out

    def payload_from_dict(self, task: TaskResult, data: Mapping[str, Any], where: str) -> None:
        read_sts_payload(task, data, where)

    def values(self, tasks: Mapping[str, TaskResult], protocol: Any = None
               ) -> dict[str, float] | None:
        return row(tasks, protocol)

    def mean(self, tasks: list[TaskResult], out: TaskResult) -> None:
        """Every stored metric of every part averaged over seeds, by name (no per-pair data:
        that stays per seed)."""
        for part, p in tasks[0].parts.items():
            out.parts[part] = PartResult(p.n, metrics={
                m: float(np.mean([t.parts[part].metrics[m] for t in tasks]))
                for m in p.metrics if all(m in t.parts[part].metrics for t in tasks)})

    def plan(self, task: Any, ctx: EvalContext) -> Any:
        """The task with only the parts the run's protocols read (``bench.tasks.sts``)."""
        return planned(task, ctx.regressor is not None)

    def evaluate(self, tasks, views, ctx: EvalContext) -> dict[str, TaskResult]:

        return {t.name: evaluate_sts_task(t, views[t.name], regressor=ctx.regressor)
                for t in tasks}


class TransferFamily(Family):
    """SentEval's transfer tasks: a classifier on frozen embeddings, accuracy (points)."""

    name = "transfer"
    title = "Transfer tasks (accuracy)"
    own_table = True  # compare draws it with each row's transfer protocol

    def payload_to_dict(self, task: TaskResult) -> dict[str, Any]:
        return {"transfer": task.transfer.to_dict()} if task.transfer is not None else {}

    def payload_from_dict(self, task: TaskResult, data: Mapping[str, Any], where: str) -> None:
        read_transfer_payload(task, data, where)

    def values(self, tasks: Mapping[str, TaskResult], protocol: Any = None
               ) -> dict[str, float] | None:
        return {k: t.transfer.acc for k, t in tasks.items() if t.transfer is not None}

    def mean(self, tasks: list[TaskResult], out: TaskResult) -> None:
        first = tasks[0].transfer
        if first is None:
            return
        accs = [t.transfer.acc for t in tasks]
        f1s = [t.transfer.f1 for t in tasks]
        out.transfer = TransferResult(
            float(np.mean(accs)), float(np.mean([t.transfer.devacc for t in tasks])),
            first.ndev, first.ntest,
            float(np.mean(f1s)) if all(f is not None for f in f1s) else None,
            {"per_seed_acc": accs})

    def evaluate(self, tasks, views, ctx: EvalContext) -> dict[str, TaskResult]:

        jobs = ctx.jobs or default_jobs(ctx.device, len(tasks))
        raw = evaluate_transfer_suite(tasks, views, config=ctx.transfer_config,
                                      classifier=ctx.classifier, seed=ctx.seed,
                                      device=ctx.device, jobs=jobs,
                                      show_progress=ctx.show_progress)
        out = {}
        for task in tasks:
            res = TransferResult.from_dict(raw[task.name])
            out[task.name] = TaskResult(task.name, "transfer", task.meta.version,
                                        tuple(task.meta.eval_parts), task.meta.supervised,
                                        main_score=res.acc, eval_s=res.details.get("wall_s", 0.0),
                                        transfer=res)
        return out


STS = StsFamily()
TRANSFER = TransferFamily()
