"""Runs made elsewhere as bench run reports: MTEB's per-pair STS prediction files and a plain
CSV of similarities, scored against bench's own copy of each task's gold, without encoding.

MTEB (``mteb.evaluate(..., prediction_folder=...)``; ``AbsTask._save_task_predictions``)
writes one ``{task}_predictions.json`` per task: ``{"mteb_model_meta": {"model_name",
"revision"}, hf_subset: {split: scores}}``, where an STS task's ``scores`` are the
evaluator's ``{"cosine_scores": [...], "manhattan_distances": [...],
"euclidean_distances": [...], "similarity_scores": [...] | null}``, one value per pair in the
dataset's order. bench takes ``cosine_scores`` of the ``test`` split (the ``default`` or
``en`` subset) as the pairs' similarities.

The CSV: a header ``task,pair,similarity`` and one line per pair; ``pair`` is the 0-based
index of the pair among the task's scored pairs in bench's order (the subsets of a year in
registry order, or the test split), every pair exactly once.

The similarities are taken to be in bench's pair order: the count must equal the task's
scored pairs or the file is refused. The imported report records where its numbers came
from (``run.imported_from``) and is scored by the one scorer under the current tie rule, so
``bench compare`` gives it the same intervals, paired tests and rank intervals as a run.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from bench.correlation import TIES, all_metrics
from bench.data.reading import read_text, strict_json
from bench.errors import BenchError, DataError
from bench.protocols import Protocol
from bench.reports import now_iso
from bench.results import ModelRecord, PartResult, RunReport, TaskResult, score_protocols
from bench.tasks.registry import get, load_sts_task, ordered
from bench.version import __version__

SUBSETS = ("default", "en")  # the hf_subset an English STS task's predictions sit under
SPLIT = "test"
MAX_CSV_BYTES = 512 * 2**20


class PredictionError(BenchError):
    """A prediction file bench cannot use, named in one line with the field."""


def _values(raw: Any, where: str) -> np.ndarray:
    if not isinstance(raw, list) or not raw:
        raise PredictionError(f"{where}: not a non-empty list of numbers")
    for i, v in enumerate(raw):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise PredictionError(f"{where}[{i}]: {v!r:.40} is not a finite number")
    return np.asarray(raw, dtype=np.float64)


def read_mteb_predictions(path: Path) -> tuple[str, str | None, np.ndarray]:
    """(model name, revision, cosine similarities of the test split) of one MTEB file."""
    try:
        data = strict_json(path)
    except (ValueError, OSError) as exc:
        raise PredictionError(f"{path}: not readable as JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PredictionError(f"{path}: not a JSON object (an MTEB predictions file)")
    meta = data.get("mteb_model_meta") or {}
    if not isinstance(meta, dict):
        raise PredictionError(f"{path}: mteb_model_meta is not an object")
    subset = next((s for s in SUBSETS if s in data), None)
    if subset is None:
        raise PredictionError(f"{path}: no {' or '.join(SUBSETS)!s} subset (found: "
                              f"{', '.join(k for k in data if k != 'mteb_model_meta')})")
    split = data[subset]
    if not isinstance(split, dict) or SPLIT not in split or not isinstance(split[SPLIT], dict):
        raise PredictionError(f"{path}: {subset}.{SPLIT} is missing or not an object")
    sims = _values(split[SPLIT].get("cosine_scores"), f"{path}: {subset}.{SPLIT}.cosine_scores")
    name = meta.get("model_name")
    revision = meta.get("revision")
    return (str(name) if isinstance(name, str) else path.stem,
            revision if isinstance(revision, str) else None, sims)


def task_of_file(path: Path) -> str:
    """The task an MTEB predictions file is for: ``{task}_predictions.json``."""
    stem = path.name.removesuffix(".json")
    if not stem.endswith("_predictions"):
        raise PredictionError(f"{path}: not named {{task}}_predictions.json as MTEB names it")
    return stem.removesuffix("_predictions")


def read_csv_predictions(path: Path) -> dict[str, np.ndarray]:
    """task -> similarities in pair order, from a ``task,pair,similarity`` CSV."""
    if not path.is_file():
        raise PredictionError(f"{path}: no such file")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise PredictionError(f"{path}: over {MAX_CSV_BYTES // 2**20} MiB")
    found: dict[str, dict[int, float]] = {}
    try:
        text = read_text(path)
    except DataError as exc:
        raise PredictionError(str(exc)) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None or not {"task", "pair", "similarity"} <= set(reader.fieldnames):
        raise PredictionError(f"{path}: the header must name task, pair and similarity")
    for line, row in enumerate(reader, start=2):
        try:
            pair, sim = int(row["pair"]), float(row["similarity"])
        except (TypeError, ValueError):
            raise PredictionError(f"{path}, line {line}: pair must be an integer and "
                                  "similarity a number") from None
        if pair < 0 or not math.isfinite(sim):
            raise PredictionError(f"{path}, line {line}: pair {pair} / similarity {sim}")
        seen = found.setdefault(row["task"], {})
        if pair in seen:
            raise PredictionError(f"{path}, line {line}: pair {pair} of {row['task']} "
                                  "given twice")
        seen[pair] = sim
    out = {}
    for task, pairs in found.items():
        if sorted(pairs) != list(range(len(pairs))):
            missing = next(i for i in range(len(pairs) + 1) if i not in pairs)
            raise PredictionError(f"{path}: {task} lacks pair {missing}")
        out[task] = np.array([pairs[i] for i in range(len(pairs))])
    if not out:
        raise PredictionError(f"{path}: no pairs")
    return out


def _meta(name: str, where: str) -> Any:
    try:
        return get(name)
    except BenchError as exc:
        raise PredictionError(f"{where}: {exc}") from None


def _once(names: list[str], where: str) -> None:
    """Two names of one task (``STS-B`` and ``STSBenchmark``, or two files) are refused
    before anything is scored, not one of them silently kept."""
    seen: set[str] = set()
    for name in names:
        canonical = _meta(name, where).name
        if canonical in seen:
            raise PredictionError(f"{where}: {canonical} is given twice (under two of its "
                                  "names or in two files)")
        seen.add(canonical)


def task_result(name: str, sims: np.ndarray, data_dir: Path, where: str) -> TaskResult:
    """A task's result from similarities in bench's pair order and bench's gold scores."""
    meta = _meta(name, where)
    task = load_sts_task(data_dir, meta.name)
    golds = [np.asarray(task.parts[p].gold, dtype=np.float64) for p in meta.eval_parts]
    total = sum(len(g) for g in golds)
    if len(sims) != total:
        raise PredictionError(f"{where}: {len(sims)} similarities for {meta.name}, whose "
                              f"scored pairs number {total}")
    out = TaskResult(meta.name, "sts", meta.version, tuple(meta.eval_parts), meta.supervised,
                     ties=TIES)
    start = 0
    for part, gold in zip(meta.eval_parts, golds):
        sim = sims[start:start + len(gold)]
        start += len(gold)
        out.parts[part] = PartResult(len(gold), sim=sim, gold=gold,
                                     metrics=all_metrics(sim, gold))
    pooled = all_metrics(sims, np.concatenate(golds))
    out.similarities = {"cosine": {m: pooled[m] for m in ("pearson", "spearman")}}
    return out


def imported_report(model: str, tasks: dict[str, TaskResult], source: str,
                    revision: str | None = None,
                    protocols: list[Protocol] | None = None) -> RunReport:
    """A run report (per-pair data kept) for similarities computed elsewhere."""
    protocols = protocols or [Protocol("spearman", "all")]
    tasks = {name: tasks[name] for name in ordered(list(tasks))}
    record = ModelRecord(model, model, {"type": "imported", "source": source},
                         "imported", revision)
    report = RunReport(record, protocols, tasks, score_protocols(tasks, protocols),
                       data={"found_via": "imported predictions"},
                       run={"imported_from": source}, environment={}, timings={},
                       created=now_iso(), bench_version=__version__)
    for name, task in tasks.items():
        task.main_score = report.scores[0].values.get(name) if report.scores else None
    return report


def from_mteb_folder(folder: Path, data_dir: Path, tasks: list[str] | None = None,
                     protocols: list[Protocol] | None = None) -> RunReport:
    """Every ``{task}_predictions.json`` in ``folder`` (or those of ``tasks``) as one report."""
    files = sorted(folder.glob("*_predictions.json")) if folder.is_dir() else [folder]
    if tasks is not None:
        files = [f for f in files if task_of_file(f) in tasks]
    if not files:
        raise PredictionError(f"{folder}: no MTEB *_predictions.json file")
    _once([task_of_file(f) for f in files], str(folder))
    results, names, revision = {}, set(), None
    for path in files:
        name, revision, sims = read_mteb_predictions(path)
        names.add(name)
        result = task_result(task_of_file(path), sims, data_dir, str(path))
        results[result.name] = result
    if len(names) > 1:
        raise PredictionError(f"{folder}: predictions of several models ({', '.join(names)})")
    return imported_report(names.pop(), results, f"mteb predictions: {folder.name}", revision,
                           protocols)


def from_csv(path: Path, data_dir: Path, model: str,
             protocols: list[Protocol] | None = None) -> RunReport:
    """A ``task,pair,similarity`` CSV as one report for ``model``."""
    sims = read_csv_predictions(path)
    _once(list(sims), str(path))
    results = {}
    for name, values in sims.items():
        result = task_result(name, values, data_dir, str(path))
        results[result.name] = result
    return imported_report(model, results, f"csv: {path.name}", None, protocols)
