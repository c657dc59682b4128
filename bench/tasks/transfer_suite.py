"""The transfer tasks of one run, evaluated several at a time.

Each fit runs on one intra-op thread (its tensors are small), so on a CPU the cores are used
by fitting different tasks at once, in threads: torch releases the GIL inside its kernels.
Results do not depend on the number of jobs (every fit is seeded on its own and runs on one
thread; tested). The biggest tasks start first, so the last one to finish is a small one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.progress import progress_bar
from bench.tasks.transfer import TransferTask, evaluate_transfer_task
from bench.transfer_protocol import ClassifierConfig


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_jobs(device: str, n_tasks: int) -> int:
    """One per CPU core on CPU (at most one per task); one on a GPU, which serialises."""
    if not str(device).startswith("cpu"):
        return 1
    return max(1, min(available_cores(), n_tasks))


def _cost(task: TransferTask) -> tuple[int, int]:
    """Sort key for scheduling: nested k-fold tasks fit the most models, then size."""
    return (task.protocol == "innerkfold", sum(len(s) for s in task.splits.values()))


def evaluate_transfer_suite(tasks: Sequence[TransferTask], views: dict[str, Any], *,
                            config: ClassifierConfig | str = "test",
                            classifier: str | Callable = "torch", seed: int = 1111,
                            device: str = "cpu", jobs: int = 1,
                            show_progress: bool = True) -> dict[str, dict[str, Any]]:
    """Every task's result, in the order of ``tasks`` (the Avg. column is the scorer's).

    ``jobs``: tasks fitted at once (``default_jobs`` gives the usual choice).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")

    def one(task: TransferTask) -> dict[str, Any]:
        return evaluate_transfer_task(task, views[task.name], config=config,
                                      classifier=classifier, seed=seed, device=device)

    results: dict[str, dict[str, Any]] = {}
    with progress_bar(f"transfer tasks ({jobs} at a time)", len(tasks),
                      disable=not show_progress) as advance:
        if jobs == 1:
            for task in tasks:
                results[task.name] = one(task)
                advance(1)
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = {task.name: pool.submit(one, task)
                           for task in sorted(tasks, key=_cost, reverse=True)}
                for name, future in futures.items():
                    results[name] = future.result()
                    advance(1)
    return {task.name: results[task.name] for task in tasks}
