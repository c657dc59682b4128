"""Task families: how a loaded task is evaluated on its embeddings.

The runner loops over families, never over task names: each family takes its tasks (already
loaded, with their registry records) and their embedding views, and returns one
``TaskResult`` per task. A new family (say classification by kNN, or retrieval) is one class
registered here plus the records of its tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bench.results import TaskResult, TransferResult


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


class Family(Protocol):
    name: str

    def evaluate(self, tasks: list[Any], views: dict[str, Any], ctx: EvalContext
                 ) -> dict[str, TaskResult]:
        """One result per task, keyed by task name, in the order of ``tasks``."""


class StsFamily:
    name = "sts"

    def evaluate(self, tasks, views, ctx: EvalContext) -> dict[str, TaskResult]:
        from bench.tasks.sts import evaluate_sts_task

        return {t.name: evaluate_sts_task(t, views[t.name], regressor=ctx.regressor)
                for t in tasks}


class TransferFamily:
    name = "transfer"

    def evaluate(self, tasks, views, ctx: EvalContext) -> dict[str, TaskResult]:
        from bench.tasks.transfer_suite import default_jobs, evaluate_transfer_suite

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


FAMILIES: dict[str, Family] = {f.name: f for f in (StsFamily(), TransferFamily())}
