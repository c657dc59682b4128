"""One evaluation run: resolve model and protocols, encode every needed sentence once, score.

Task families plug in through ``TASK_FAMILIES``: each gets the run context and the shared
embedding table, and adds its section to the report.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import __version__
from bench.cache import default_cache_root
from bench.data.locate import locate
from bench.data.manifest import checksums, relative_key
from bench.data.sts import STS_TASKS, canonical_task_name, load_sts_task
from bench.devices import check_device
from bench.embed import encode_tasks
from bench.encoders.base import Encoder
from bench.encoders.registry import EncoderOptions, resolve
from bench.environment import describe_environment
from bench.errors import BenchError, DataError
from bench.outputs import check_folder
from bench.protocols import Protocol
from bench.reports import SCHEMA_VERSION, now_iso
from bench.tasks.regressor import evaluate_regressor
from bench.tasks.sts import evaluate_sts_task, protocol_value
from bench.tasks.transfer import (
    TRANSFER_TASKS,
    canonical_transfer_name,
    load_transfer_task,
)
from bench.tasks.transfer_suite import default_jobs, evaluate_transfer_suite

TASK_SETS: dict[str, tuple[str, ...]] = {"sts": STS_TASKS, "transfer": TRANSFER_TASKS,
                                         "all": STS_TASKS + TRANSFER_TASKS}
REGRESSOR_TASKS = ("STSBenchmark", "SICKRelatedness")


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
    transfer_config: str = "test"        # SentEval classifier setting: test | fasttest
    classifier: str = "torch"            # torch | sklearn
    regressor_selection: str = "pearson" # dev metric for the regressor: pearson | spearman
    regressor_label_fix: bool = False    # map STS-B scores onto [1, 5] before encoding
    jobs: int | None = None              # transfer tasks fitted at once (None: one per core)
    extra: dict[str, Any] = field(default_factory=dict)


def expand_tasks(names: Sequence[str]) -> list[str]:
    """Task-set names (``sts``, ``transfer``, ``all``) and task names, in canonical order,
    without duplicates."""
    out: list[str] = []
    for name in names:
        transfer = canonical_transfer_name(name)
        try:
            members = (TASK_SETS.get(name.lower()) or ((transfer,) if transfer else None)
                       or (canonical_task_name(name),))
        except DataError:
            raise BenchError(f"unknown task {name!r}; valid: {', '.join(TASK_SETS)} (sets), "
                             f"{', '.join(STS_TASKS + TRANSFER_TASKS)}") from None
        out.extend(t for t in members if t not in out)
    if not out:
        raise BenchError("no tasks selected")
    return out


MAX_SEED = 2**32 - 1  # numpy's legacy seeding accepts 0 .. 2**32 - 1


def check_seed(seed: int, option: str = "--seed") -> int:
    if not 0 <= seed <= MAX_SEED:
        raise BenchError(f"{option} must be between 0 and {MAX_SEED}, got {seed}")
    return seed


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def sts_scores(sts: dict[str, Any], protocols: list[Protocol],
               regression: dict[str, Any] | None = None) -> dict[str, dict[str, float]]:
    """Per protocol: every task's number in points and the unweighted average (the paper's Avg.).

    Regressor protocols take STS-B / SICK-R from ``regression`` (the test correlation of the
    regressor's predictions) and STS12-16 as the matching no-regressor protocol.
    """
    scores: dict[str, dict[str, float]] = {}
    if not sts:
        return scores  # a transfer-only run
    for proto in protocols:
        if proto.regressor != "none" and regression is None:
            continue
        row = {}
        for task, res in sts.items():
            if proto.regressor != "none" and task in REGRESSOR_TASKS:
                row[task] = 100 * regression[task]["test"][proto.metric]
            else:
                row[task] = 100 * protocol_value(task, res, proto)
        row["avg"] = float(np.mean(list(row.values())))
        scores[proto.key] = row
    return scores


def run(config: RunConfig, encoder: Encoder | None = None) -> dict[str, Any]:
    """Execute a run and return its report (not yet written)."""
    t_start = time.perf_counter()
    check_device(config.device)
    check_seed(config.seed)
    cache_root = Path(config.cache_dir) if config.cache_dir else default_cache_root()
    if config.use_cache:
        check_folder(cache_root, "cache folder")  # before encoding, not at the first chunk
    seed_everything(config.seed)
    timings: dict[str, float] = {}

    t = time.perf_counter()
    location = locate(config.data_dir)
    task_names = expand_tasks(config.tasks)
    sts_tasks = [load_sts_task(location.downstream, n) for n in task_names if n in STS_TASKS]
    transfer_tasks = [load_transfer_task(location.downstream, n) for n in task_names
                      if n in TRANSFER_TASKS]
    files = [f for task in (*sts_tasks, *transfer_tasks) for f in task.files]
    data_sums = checksums(location.downstream, files, verify=config.verify_data)
    timings["load_data_s"] = time.perf_counter() - t

    t = time.perf_counter()
    if encoder is None:
        encoder = resolve(config.model, EncoderOptions(config.device, config.precision,
                                                       config.pooler, config.data_dir,
                                                       config.cache_dir, config.use_cache))
    encoder.fingerprint  # hash the weights now, so the timing shows it
    timings["fingerprint_s"] = time.perf_counter() - t

    views, embed_stats = encode_tasks(
        encoder, {task.name: task.sentences() for task in (*sts_tasks, *transfer_tasks)},
        cache_root=cache_root,
        use_cache=config.use_cache, batch_size=config.batch_size,
        show_progress=config.show_progress)
    cache_folder = embed_stats.pop("cache")
    zero_vectors = embed_stats.pop("zero_vectors")
    timings.update(embed_stats)

    t = time.perf_counter()
    sts = {task.name: evaluate_sts_task(task, views[task.name]) for task in sts_tasks}
    regression = None
    if any(p.regressor != "none" for p in config.protocols):
        t_reg = time.perf_counter()
        regression = {task.name: evaluate_regressor(
            task, views[task.name], selection=config.regressor_selection,
            label_fix=config.regressor_label_fix, seed=config.seed, device=config.device)
            for task in sts_tasks if task.name in REGRESSOR_TASKS}
        timings["regressor_s"] = time.perf_counter() - t_reg
    scores = sts_scores(sts, config.protocols, regression)
    timings["score_s"] = time.perf_counter() - t
    transfer = None
    if transfer_tasks:
        t = time.perf_counter()
        jobs = config.jobs or default_jobs(config.device, len(transfer_tasks))
        transfer = evaluate_transfer_suite(
            transfer_tasks, views, config=config.transfer_config, classifier=config.classifier,
            seed=config.seed, device=config.device, jobs=jobs,
            show_progress=config.show_progress)
        timings["transfer_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t_start
    timings = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in timings.items()}

    report = {
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
                 "verified": data_sums.verified, "verify_requested": config.verify_data,
                 "status": data_sums.status, "sha256": data_sums.sha256,
                 "files": {task.name: [relative_key(location.downstream, f) for f in task.files]
                           for task in (*sts_tasks, *transfer_tasks)}},
        "run": {"seed": config.seed, "device": config.device, "precision": config.precision,
                "batch_size": config.batch_size, "cache": cache_folder,
                "zero_vectors": zero_vectors},
        "environment": describe_environment(config.device),
        "timings": timings,
    }
    if regression is not None:
        report["regression"] = regression
        report["run"]["regressor_selection"] = config.regressor_selection
        report["run"]["regressor_label_fix"] = config.regressor_label_fix
    if transfer is not None:
        report["transfer"] = transfer
        report["run"]["transfer_config"] = config.transfer_config
        report["run"]["classifier"] = config.classifier
        report["run"]["transfer_jobs"] = jobs
        # wall time of the transfer suite including its share of encoding is in timings
    return report
