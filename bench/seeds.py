"""Multi-seed evaluation: one report over the runs of ``bench train simcse --seeds``.

``bench run --model runs/NAME`` on a folder of ``seed-N`` runs evaluates each seed (one
encoding pass each, through ``bench.api.evaluate``) and combines them into one report:

- top-level scores and task results are the **means over seeds** (what a table should show
  for a recipe), so every existing reader of a report sees the recipe's expected number;
- ``report.seeds`` keeps every seed's own task results (with per-pair data in the sidecar),
  and per protocol and task the per-seed values, mean, sample sd and a **seed-and-test-set
  interval**: for each seed, pairs are resampled within each scored part (the bootstrap of
  ``bench.compare.uncertainty``, through the one scorer, the same resamples for every seed),
  and the replicates of all seeds are pooled into one percentile interval. The pooled
  replicates are a mixture over seeds, so the interval widens with both the spread between
  seeds and the test-set sampling within each (a test-set CI alone ignores the first, which
  SimCSE users report at about 2 points of STS-B Spearman: SimCSE issues #63, #246).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.compare.uncertainty import BOOT_SEED, LEVEL, RESAMPLES, pooled_intervals
from bench.errors import BenchError, ModelError
from bench.family import family
from bench.results import (
    ModelRecord,
    ProtocolScores,
    RunReport,
    SeedRun,
    SeedSection,
    SeedStat,
    TaskResult,
    mean_scores,
)
from bench.scoring import Average, average
from bench.train import rundir

INTERVAL = {"method": "bootstrap over pairs within each seed (within each scored part), "
                      "replicates pooled over seeds, percentile interval",
            "level": LEVEL, "resamples": RESAMPLES, "seed": BOOT_SEED}


def check_seed_folder(path: Path) -> list[tuple[int, Path]]:
    """The seed runs of ``path``, each with a checkpoint and all trained alike (one line
    naming the run otherwise); done before any encoding starts."""
    from bench.train.checkpoint import (
        checkpoint_folder,  # heavy: torch (through bench.train.checkpoint)
    )

    runs = rundir.seed_runs(path)
    if not runs:
        raise ModelError(f"{path}: no seed-N training runs in this folder")
    settings = {}
    for seed, run in runs:
        checkpoint_folder(run)  # raises when the run has no checkpoint yet
        info = json.loads((run / rundir.RUN_FILE).read_text(encoding="utf-8"))
        if info.get("status") != "finished":
            raise ModelError(f"{run}: training run is not finished (status "
                             f"{info.get('status')!r}); finish it with --resume first")
        config = {k: v for k, v in (info.get("config") or {}).items() if k not in ("name", "seed")}
        settings[seed] = config
    first_seed, first = runs[0][0], settings[runs[0][0]]
    for seed, config in settings.items():
        diff = sorted(k for k in set(first) | set(config) if first.get(k) != config.get(k))
        if diff:
            raise ModelError(f"{path}: seed {seed} was trained with other settings than seed "
                             f"{first_seed} ({', '.join(diff)}); a seed group differs only in "
                             f"its seed")
    return runs


def stat(values: list[float], ci: tuple[float, float] | None = None) -> SeedStat:
    arr = np.asarray(values, dtype=np.float64)
    sd = float(np.std(arr, ddof=1)) if arr.size > 1 else float("nan")
    return SeedStat([float(v) for v in arr], float(np.mean(arr)), sd, ci)


def _mean_task(name: str, tasks: list[TaskResult]) -> TaskResult:
    """A task's results averaged over seeds (no per-pair data: that stays per seed)."""
    first = tasks[0]
    out = TaskResult(name, first.family, first.version, first.eval_parts, first.supervised,
                     None, float(sum(t.eval_s for t in tasks)), dict(first.files))
    out.ties = first.ties
    if first.main_score is not None:
        out.main_score = float(np.mean([t.main_score for t in tasks]))
    family(first.family).mean(tasks, out)  # the family's payload, averaged its way
    return out


def combine(reports: list[RunReport], seeds: list[int], paths: list[str], name: str,
            requested: str) -> RunReport:
    """One multi-seed report from the seeds' own reports (see the module doc)."""
    first = reports[0]
    for seed, rep in zip(seeds[1:], reports[1:]):
        if list(rep.tasks) != list(first.tasks) or \
                [s.protocol.key for s in rep.scores] != [s.protocol.key for s in first.scores]:
            raise BenchError(f"seed {seed}: scored other tasks or protocols than seed {seeds[0]}")
    runs = [SeedRun(seed, path, rep.model, rep.tasks, rep.scores, rep.transfer_average)
            for seed, path, rep in zip(seeds, paths, reports)]
    summary: dict[str, dict[str, SeedStat]] = {}
    scores: list[ProtocolScores] = []
    for i, head in enumerate(first.scores):
        per_seed = [rep.scores[i] for rep in reports]
        names = list(head.values)
        cis = pooled_intervals([rep.tasks for rep in reports], names, head.protocol) or {}
        summary[head.protocol.key] = {
            t: stat([s.values[t] for s in per_seed], cis.get(t)) for t in names}
        summary[head.protocol.key]["avg"] = stat([s.average.value for s in per_seed],
                                                 cis.get("avg"))
        scores.append(mean_scores(per_seed))
    tasks = {n: _mean_task(n, [rep.tasks[n] for rep in reports]) for n in first.tasks}
    transfer: dict[str, SeedStat] = {}
    transfer_average: Average | None = None
    if first.transfer_tasks():
        for n in first.transfer_tasks():
            transfer[n] = stat([rep.tasks[n].transfer.acc for rep in reports])
        transfer_average = average({n: tasks[n].transfer.acc for n in first.transfer_tasks()})
        transfer["avg"] = stat([rep.transfer_average.value for rep in reports])
    digest = hashlib.sha256("\n".join(r.model.fingerprint for r in reports).encode()).hexdigest()
    model = ModelRecord(
        name=name, requested=requested,
        spec={"type": "multi-seed", "seeds": seeds, "runs": paths,
              "seed_spec": first.model.spec},
        fingerprint=digest, revision=None, embedding_dim=first.model.embedding_dim,
        n_parameters=first.model.n_parameters, max_tokens=first.model.max_tokens,
        similarity=first.model.similarity, training_data=first.model.training_data,
        extra={"seed_fingerprints": {str(s): r.model.fingerprint
                                     for s, r in zip(seeds, reports)}})
    timings = _sum_timings([r.timings for r in reports])
    notes = list(dict.fromkeys(n for r in reports for n in r.notes))
    notes.append(f"multi-seed: numbers are means over seeds {', '.join(map(str, seeds))}; "
                 "per-seed values, sd and seed-and-test-set intervals under 'seeds'")
    return RunReport(model, first.protocols, tasks, scores, first.data, first.run,
                     first.environment, timings, first.created, first.bench_version,
                     transfer_average, notes, transfer_protocol=first.transfer_protocol,
                     seeds=SeedSection(seeds, runs, summary, transfer, dict(INTERVAL)))


def _sum_timings(timings: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for t in timings:
        for k, v in t.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[k] = out.get(k, 0) + v
    return out
