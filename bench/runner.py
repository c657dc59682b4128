"""One evaluation run: resolve model and protocols, encode every needed sentence once, score.

Task families plug in through ``TASK_FAMILIES``: each gets the run context and the shared
embedding table, and adds its section to the report.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bench import __version__
from bench.data.locate import locate
from bench.data.manifest import checksums
from bench.data.sts import STS_TASKS, canonical_task_name, load_sts_task
from bench.embed import encode_tasks
from bench.encoders.base import Encoder
from bench.encoders.registry import EncoderOptions, resolve
from bench.environment import describe_environment
from bench.errors import BenchError
from bench.protocols import Protocol
from bench.reports import SCHEMA_VERSION, now_iso
from bench.tasks.sts import evaluate_sts_task, protocol_value

TASK_SETS: dict[str, tuple[str, ...]] = {"sts": STS_TASKS}


@dataclass
class RunConfig:
    model: str
    protocols: list[Protocol]
    tasks: Sequence[str] = ("sts",)
    data_dir: str | None = None
    cache_dir: str | None = None
    use_cache: bool = True
    batch_size: int = 64
    device: str = "cpu"
    precision: str = "fp32"
    pooler: str | None = None
    seed: int = 1111
    verify_data: bool = True
    show_progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def expand_tasks(names: Sequence[str]) -> list[str]:
    """Task-set names (``sts``) and task names, in canonical order, without duplicates."""
    out: list[str] = []
    for name in names:
        members = TASK_SETS.get(name.lower()) or (canonical_task_name(name),)
        out.extend(t for t in members if t not in out)
    if not out:
        raise BenchError("no tasks selected")
    return out


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def sts_scores(sts: dict[str, Any], protocols: list[Protocol]) -> dict[str, dict[str, float]]:
    """Per protocol: every task's number in points and the unweighted average (the paper's Avg.)."""
    scores: dict[str, dict[str, float]] = {}
    for proto in protocols:
        if proto.regressor != "none":
            continue  # scored by the regressor family
        row = {task: 100 * protocol_value(task, res, proto) for task, res in sts.items()}
        row["avg"] = float(np.mean(list(row.values())))
        scores[proto.key] = row
    return scores


def run(config: RunConfig, encoder: Encoder | None = None) -> dict[str, Any]:
    """Execute a run and return its report (not yet written)."""
    t_start = time.perf_counter()
    seed_everything(config.seed)
    timings: dict[str, float] = {}

    t = time.perf_counter()
    location = locate(config.data_dir)
    task_names = expand_tasks(config.tasks)
    sts_tasks = [load_sts_task(location.downstream, n) for n in task_names if n in STS_TASKS]
    files = [f for task in sts_tasks for f in task.files]
    data_sums = checksums(location.root, files, verify=config.verify_data)
    timings["load_data_s"] = time.perf_counter() - t

    t = time.perf_counter()
    if encoder is None:
        encoder = resolve(config.model, EncoderOptions(config.device, config.precision,
                                                       config.pooler, config.data_dir))
    encoder.fingerprint  # hash the weights now, so the timing shows it
    timings["fingerprint_s"] = time.perf_counter() - t

    views, embed_stats = encode_tasks(
        encoder, {task.name: task.sentences() for task in sts_tasks},
        cache_root=Path(config.cache_dir) if config.cache_dir else None,
        use_cache=config.use_cache, batch_size=config.batch_size,
        show_progress=config.show_progress)
    cache_folder = embed_stats.pop("cache")
    timings.update(embed_stats)

    t = time.perf_counter()
    sts = {task.name: evaluate_sts_task(task, views[task.name]) for task in sts_tasks}
    scores = sts_scores(sts, config.protocols)
    timings["score_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t_start
    timings = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in timings.items()}

    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "run",
        "bench_version": __version__,
        "created": now_iso(),
        "model": {"requested": config.model, **encoder.describe()},
        "protocols": [p.to_dict() for p in config.protocols],
        "tasks": task_names,
        "scores": scores,
        "sts": sts,
        "data": {"dir": str(location.downstream), "found_via": location.source,
                 "verified": config.verify_data, "sha256": data_sums},
        "run": {"seed": config.seed, "device": config.device, "precision": config.precision,
                "batch_size": config.batch_size, "cache": cache_folder},
        "environment": describe_environment(config.device),
        "timings": timings,
    }
