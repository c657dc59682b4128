"""A run report read from someone else: its fields have the types bench wrote, its pair counts
fit the task, and every number its per-pair data determine agrees with that data.

``bench.reports.load`` calls these in order (fields, sizes, then, with the sidecar attached,
scores), so a report that is not what bench writes fails with one line naming the file and
the field, before anything is computed from it, and a report whose stored score was edited is
refused instead of printed beside an interval computed from the untouched pairs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from bench.aggregation import combine, pools
from bench.correlation import correlation, metric_names
from bench.family import family
from bench.results import ReportError, RunReport, TaskResult
from bench.tasks.registry import find

# A part holding more pairs than this is refused even for a task bench does not know (a
# task file): human-annotated STS sets have thousands of pairs, MTEB's largest tens of
# thousands; the limit keeps a forged count from asking for gigabytes (8 bytes per value).
MAX_PAIRS = 10_000_000

# Stored values are points written by the run at full precision, but a report may carry them
# rounded (exported or hand-made) to the 2 decimals bench prints. Half that resolution is the
# largest disagreement rounding alone can cause; anything beyond it would print a different
# number than the evidence gives, so it is refused.
TOLERANCE = 0.005

NUMBER = (int, float)
OPTIONAL_NUMBER = (int, float, type(None))

# Top-level fields of a schema-2 run report and the JSON types each may have.
RUN_FIELDS: dict[str, tuple[type, ...]] = {
    "kind": (str,), "bench_version": (str,), "created": (str,), "units": (str,),
    "model": (dict,), "protocols": (list,), "scores": (list,),
    "transfer_average": (dict, type(None)), "transfer_protocol": (dict, type(None)),
    "tasks": (dict,), "data": (dict, type(None)), "run": (dict, type(None)),
    "environment": (dict, type(None)), "timings": (dict, type(None)),
    "notes": (list, type(None)), "pairs": (dict, type(None)), "seeds": (dict, type(None)),
}
TASK_FIELDS: dict[str, tuple[type, ...]] = {
    "family": (str,), "version": (int,), "main_score": OPTIONAL_NUMBER, "eval_s": NUMBER,
    "files": (dict,), "eval_parts": (list,), "supervised": (bool,), "parts": (dict,),
    "regression": (dict, type(None)), "similarities": (dict,), "transfer": (dict, type(None)),
    "ties": (str,),
}
MODEL_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,), "requested": (str,), "spec": (dict,), "fingerprint": (str,),
    "revision": (str, type(None)), "embedding_dim": (int, type(None)),
    "n_parameters": (int, type(None)), "max_tokens": (int, type(None)), "similarity": (str,),
    "training_data": (list, type(None)), "extra": (dict,),
}
REGRESSION_FIELDS: dict[str, tuple[type, ...]] = {
    "selection": (str,), "label_fix": (bool,), "seed": (int,), "pearson": OPTIONAL_NUMBER,
    "spearman": OPTIONAL_NUMBER, "mse": OPTIONAL_NUMBER, "n": (int,), "dev": OPTIONAL_NUMBER,
    "dev_n": (int,), "epochs": (int,), "best_epoch": (int,), "dev_curve": (list,),
    "below_one_train": (int,), "wall_s": NUMBER,
}


# ------------------------------------------------------------------------------ field types

def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _typed(data: dict[str, Any], fields: dict[str, tuple[type, ...]], where: str) -> None:
    """Every field of ``fields`` present in ``data`` has one of its JSON types (a bool is not
    a number, although Python says it is an int)."""
    for key, kinds in fields.items():
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, bool) and bool not in kinds:
            ok = False
        else:
            ok = isinstance(value, kinds)
        if ok and isinstance(value, float) and not math.isfinite(value):
            ok = False  # NaN / Infinity: bench writes null, never these
        if not ok:
            raise ReportError(f"{where}: field {key!r} has the wrong type ({_kind(value)})")


def _count(value: Any, where: str, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PAIRS:
        raise ReportError(f"{where}: field {key!r} must be a pair count from 0 to {MAX_PAIRS:,} "
                          f"(it is {value!r:.40})")


def _strings(value: list[Any], where: str, key: str) -> None:
    if not all(isinstance(v, str) for v in value):
        raise ReportError(f"{where}: field {key!r} must be a list of strings")


def _check_task(data: dict[str, Any], where: str) -> None:
    _typed(data, TASK_FIELDS, where)
    parts = data.get("parts") or {}
    for name, values in parts.items():
        at = f"{where}: parts[{name!r}]"
        if not isinstance(values, dict):
            raise ReportError(f"{at} has the wrong type ({_kind(values)})")
        _typed(values, {"pearson": OPTIONAL_NUMBER, "spearman": OPTIONAL_NUMBER}, at)
        if "n" in values:
            _count(values["n"], at, "n")
    if "eval_parts" in data:
        _strings(data["eval_parts"], where, "eval_parts")
        missing = [p for p in data["eval_parts"] if p not in parts]
        if data.get("family") == "sts" and missing:
            raise ReportError(f"{where}: field 'eval_parts' names {missing[0]!r}, which is not "
                              f"among its 'parts'")
    for key, value in (data.get("files") or {}).items():
        if not isinstance(value, str):
            raise ReportError(f"{where}: files[{key!r}] has the wrong type ({_kind(value)})")
    for key, value in (data.get("similarities") or {}).items():
        if not isinstance(value, dict):
            raise ReportError(f"{where}: similarities[{key!r}] has the wrong type "
                              f"({_kind(value)})")
        _typed(value, {"pearson": OPTIONAL_NUMBER, "spearman": OPTIONAL_NUMBER},
               f"{where}: similarities[{key!r}]")
    if isinstance(data.get("regression"), dict):
        _typed(data["regression"], REGRESSION_FIELDS, f"{where}: regression")
        if "n" in data["regression"]:
            _count(data["regression"]["n"], f"{where}: regression", "n")


def _check_scores(items: list[Any], where: str) -> None:
    for i, item in enumerate(items):
        at = f"{where}: scores[{i}]"
        if not isinstance(item, dict):
            raise ReportError(f"{at} has the wrong type ({_kind(item)})")
        _typed(item, {"protocol": (dict,), "values": (dict,), "average": (dict, type(None))}, at)
        for task, value in (item.get("values") or {}).items():
            if isinstance(value, bool) or not isinstance(value, OPTIONAL_NUMBER):
                raise ReportError(f"{at}: values[{task!r}] has the wrong type ({_kind(value)})")
        avg = item.get("average")
        if isinstance(avg, dict):
            _typed(avg, {"value": OPTIONAL_NUMBER, "tasks": (list,)}, f"{at}: average")
            _strings(avg.get("tasks", []), f"{at}: average", "tasks")


def _check_pairs_field(pairs: Any, where: str) -> None:
    if pairs is None:
        return
    _typed(pairs, {"file": (str,), "sha256": (str, type(None))}, f"{where}: pairs")
    if not pairs.get("file"):
        raise ReportError(f"{where}: field 'pairs' names no per-pair file")


def check_run_fields(data: dict[str, Any], where: str, seed: bool = False) -> None:
    """One line naming the first field of a schema-2 run report (or of one seed's run in a
    multi-seed report) whose type is not what bench writes."""
    _typed(data, RUN_FIELDS, where)
    if isinstance(data.get("model"), dict):
        _typed(data["model"], MODEL_FIELDS, f"{where}: model")
    for name, task in (data.get("tasks") or {}).items():
        if not isinstance(task, dict):
            raise ReportError(f"{where}: tasks[{name!r}] has the wrong type ({_kind(task)})")
        _check_task(task, f"{where}: tasks[{name!r}]")
    if isinstance(data.get("scores"), list):
        _check_scores(data["scores"], where)
    if isinstance(data.get("protocols"), list):
        for i, proto in enumerate(data["protocols"]):
            if not isinstance(proto, dict):
                raise ReportError(f"{where}: protocols[{i}] has the wrong type ({_kind(proto)})")
    if isinstance(data.get("notes"), list):
        _strings(data["notes"], where, "notes")
    for key in ("transfer_average",):
        if isinstance(data.get(key), dict):
            _typed(data[key], {"value": OPTIONAL_NUMBER, "tasks": (list,)}, f"{where}: {key}")
    if not seed:
        _check_pairs_field(data.get("pairs"), where)
    else:
        _typed(data, {"seed": (int,)}, where)
    section = data.get("seeds")
    if isinstance(section, dict):
        _check_seed_section(section, f"{where}: seeds")
        for i, run in enumerate(section["runs"]):
            if not isinstance(run, dict):
                raise ReportError(f"{where}: seeds.runs[{i}] has the wrong type ({_kind(run)})")
            check_run_fields(run, f"{where}: seeds.runs[{i}]", seed=True)


SEED_FIELDS: dict[str, tuple[type, ...]] = {
    "seeds": (list,), "interval": (dict, type(None)), "summary": (dict,),
    "transfer": (dict, type(None)), "runs": (list,),
}
STAT_FIELDS: dict[str, tuple[type, ...]] = {
    "values": (list,), "mean": OPTIONAL_NUMBER, "sd": OPTIONAL_NUMBER, "ci": (list, type(None)),
}


def _check_stats(stats: Any, where: str) -> None:
    """task -> {values, mean, sd, ci}: one seed statistic per task (or "avg")."""
    if not isinstance(stats, dict):
        raise ReportError(f"{where} has the wrong type ({_kind(stats)})")
    for task, stat in stats.items():
        at = f"{where}[{task!r}]"
        if not isinstance(stat, dict):
            raise ReportError(f"{at} has the wrong type ({_kind(stat)})")
        _typed(stat, STAT_FIELDS, at)
        for key in ("values", "ci"):
            items = stat.get(key) or []
            if not all(v is None or (isinstance(v, NUMBER) and not isinstance(v, bool))
                       for v in items) or (key == "ci" and len(items) not in (0, 2)):
                raise ReportError(f"{at}: field {key!r} must be a list of numbers")


def _check_seed_section(section: dict[str, Any], where: str) -> None:
    _typed(section, SEED_FIELDS, where)
    for key in ("runs", "summary", "seeds"):
        if key not in section:
            raise ReportError(f"{where}: missing field {key!r}")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in section["seeds"]):
        raise ReportError(f"{where}: field 'seeds' must be a list of integers")
    for key, stats in section["summary"].items():
        _check_stats(stats, f"{where}: summary[{key!r}]")
    if section.get("transfer"):
        _check_stats(section["transfer"], f"{where}: transfer")


def check_score_tasks(report: RunReport, where: str) -> None:
    """Every task a stored score names has results in the report (else the table and the
    bootstrap would look up a task that is not there)."""
    runs = [(where, report.tasks, report.scores)]
    runs += [(f"{where} [seed {r.seed}]", r.tasks, r.scores)
             for r in (report.seeds.runs if report.seeds is not None else [])]
    for at, tasks, scores in runs:
        for s in scores:
            unknown = next((t for t in s.values if t not in tasks), None)
            if unknown is not None:
                raise ReportError(f"{at}: scores under {s.protocol.key} name task {unknown!r}, "
                                  f"which has no results in the report")


# ------------------------------------------------------------------------------ pair counts

def _known_sizes(task: TaskResult) -> tuple[dict[str, int], int | None]:
    """The registry's part sizes for ``task`` and its total over the scored parts (the STS
    years record one count for all their subsets); empty / None for a task bench does not
    know (a task file's task: then the report's own count is all there is)."""

    meta = find(task.name)
    if meta is None or meta.family != task.family:
        return {}, None
    return dict(meta.sizes), meta.sizes.get("pairs")


def check_sizes(tasks: dict[str, TaskResult], where: str) -> None:
    """No part claims more pairs than its task has (SentEval's STS-B test has 1,379): a forged
    count would otherwise make the reader allocate whatever it says."""
    for name, task in tasks.items():
        if not family(task.family).by_protocol:
            continue
        sizes, total = _known_sizes(task)
        for part_name, part in task.parts.items():
            known = sizes.get(part_name)
            if known is not None and part.n > known:
                raise ReportError(f"{where}: tasks[{name!r}].parts[{part_name!r}] claims "
                                  f"n = {part.n:,} pairs; {name} {part_name} has {known:,}")
        scored = sum(task.parts[p].n for p in task.eval_parts if p in task.parts)
        if total is not None and scored > total:
            raise ReportError(f"{where}: tasks[{name!r}] claims {scored:,} pairs over its "
                              f"subsets; {name} has {total:,}")


def expected_pairs(report: RunReport) -> dict[str, int]:
    """Sidecar member (without ``.npy``) -> the length the report's counts give it."""
    out: dict[str, int] = {}
    runs = [("", report.tasks)]
    if report.seeds is not None:
        runs += [(f"seeds/{r.seed}/", r.tasks) for r in report.seeds.runs]
    for prefix, tasks in runs:
        for name, task in tasks.items():
            for part in task.eval_parts:
                if part in task.parts:
                    for what in ("sim", "gold"):
                        out[f"{prefix}{name}/{part}/{what}"] = task.parts[part].n
            if task.regression is not None:
                for what in ("yhat", "gold"):
                    out[f"{prefix}{name}/regression/{what}"] = task.regression.n
    return out


# ------------------------------------------------------------------------------ the scores

def _same(stored: float | None, computed: float) -> bool:
    stored = float("nan") if stored is None else float(stored)
    if math.isnan(stored) or math.isnan(computed):
        return math.isnan(stored) and math.isnan(computed)
    return abs(stored - computed) <= TOLERANCE


def _with_pairs(task: TaskResult) -> bool:
    return family(task.family).by_protocol and bool(task.eval_parts) and all(
        task.parts[p].sim is not None and task.parts[p].gold is not None
        for p in task.eval_parts)


class _Recompute:
    """Each task's correlations from its per-pair data, computed once per metric (a report
    stores up to six protocols over the same parts) and combined as ``bench.scoring.aggregate``
    combines them: one part -> its correlation; ``all`` -> pooled; ``mean`` / ``wmean`` ->
    the aggregation entry's ``combine`` of the per-part values (``bench.aggregation``)."""

    def __init__(self) -> None:
        self._parts: dict[tuple[int, str], list[float]] = {}
        self._pooled: dict[tuple[int, str], float] = {}

    def parts(self, task: TaskResult, metric: str) -> list[float]:
        key = (id(task), metric)
        if key not in self._parts:
            self._parts[key] = [correlation(task.parts[p].sim, task.parts[p].gold, metric,
                                            task.ties) for p in task.eval_parts]
        return self._parts[key]

    def pooled(self, task: TaskResult, metric: str) -> float:
        if len(task.eval_parts) == 1:
            return self.parts(task, metric)[0]
        key = (id(task), metric)
        if key not in self._pooled:
            self._pooled[key] = correlation(
                np.concatenate([task.parts[p].sim for p in task.eval_parts]),
                np.concatenate([task.parts[p].gold for p in task.eval_parts]), metric,
                task.ties)
        return self._pooled[key]

    def value(self, task: TaskResult, protocol: Any) -> float:
        """Points under a no-regressor protocol, as ``bench.scoring.task_value`` gives them."""
        if len(task.eval_parts) == 1 or pools(protocol.aggregation):
            return 100 * self.pooled(task, protocol.metric)
        return 100 * float(combine(self.parts(task, protocol.metric),
                                   [task.parts[p].n for p in task.eval_parts],
                                   protocol.aggregation))

    def row(self, tasks: dict[str, TaskResult], protocol: Any) -> dict[str, float]:
        """Every STS task's number and "avg" (their mean, the run's Avg.); empty when a task
        keeps no per-pair data."""
        sts = {k: t for k, t in tasks.items() if family(t.family).by_protocol}
        if not sts or not all(_with_pairs(t) for t in sts.values()):
            return {}
        values = {k: self.value(t, protocol) for k, t in sts.items()}
        return {**values, "avg": float(np.mean(list(values.values())))}


def _stored_numbers(report_tasks: dict[str, TaskResult], scores: list[Any], calc: _Recompute
                    ) -> Iterator[tuple[str, str, float | None, float]]:
    """(task, what, stored, recomputed) for every number the per-pair data determine: each
    no-regressor protocol's value and Avg., each scored part's correlations, the pooled
    cosine correlations and the main score (the run's first protocol)."""
    for s in scores:
        if s.protocol.regressor != "none":
            continue
        computed = {}
        for name, stored in s.values.items():
            task = report_tasks.get(name)
            if task is not None and _with_pairs(task):
                computed[name] = calc.value(task, s.protocol)
                yield name, s.protocol.key, stored, computed[name]
        avg = s.average
        if avg is not None and avg.tasks and all(t in computed for t in avg.tasks):
            yield ("Avg.", s.protocol.key, avg.value,
                   float(np.mean([computed[t] for t in avg.tasks])))
    first = next((s.protocol for s in scores), None)
    for name, task in report_tasks.items():
        if not _with_pairs(task):
            continue
        stored = [m for m in metric_names()
                  if all(m in task.parts[p].metrics for p in task.eval_parts)]
        for metric in stored:  # every registered metric the parts store, by name
            for part, value in zip(task.eval_parts, calc.parts(task, metric)):
                yield name, f"parts[{part!r}].{metric}", task.parts[part].value(metric), \
                    100 * value
            cosine = task.similarities.get("cosine")
            if cosine and metric in cosine:
                yield (name, f"similarities.cosine.{metric}", cosine[metric],
                       100 * calc.pooled(task, metric))
        if first is not None and first.regressor == "none" and task.main_score is not None:
            yield name, f"main_score ({first.key})", task.main_score, calc.value(task, first)


def _refuse(where: str, task: str, what: str, stored: float | None, computed: float) -> None:
    raise ReportError(f"{where}: {task} under {what} stores {stored!r:.10} but its own per-pair "
                      f"data give {computed:.4f}; the report contradicts its evidence (edited?), "
                      f"refused")


def check_scores(report: RunReport, where: str) -> None:
    """Refuse a report whose stored numbers disagree with its per-pair data (see TOLERANCE):
    the single run's, each seed's, and a multi-seed report's seed means and summary."""
    runs = [(where, report.tasks, report.scores)]
    if report.seeds is not None:
        runs = [(f"{where} [seed {r.seed}]", r.tasks, r.scores) for r in report.seeds.runs]
    calc = _Recompute()
    for at, tasks, scores in runs:
        for task, what, stored, computed in _stored_numbers(tasks, scores, calc):
            if not _same(stored, computed):
                _refuse(at, task, what, stored, computed)
    if report.seeds is not None:
        _check_seed_means(report, where, calc)


def _check_seed_means(report: RunReport, where: str, calc: _Recompute) -> None:
    """A multi-seed report's top-level scores and its per-seed summary against the seeds'
    recomputed numbers (only for seeds that all keep their per-pair data)."""
    section = report.seeds
    assert section is not None
    if not all(_with_pairs(t) for r in section.runs for t in r.tasks.values()
               if family(t.family).by_protocol):
        return
    keys = {s.protocol.key: s.protocol for s in report.scores}
    keys.update({p.key: p for p in report.protocols})
    for key, stats in section.summary.items():
        proto = keys.get(key)
        if proto is None or proto.regressor != "none":
            continue
        per_seed = [calc.row(r.tasks, proto) for r in section.runs]
        for task, stat in stats.items():
            got = [v.get(task) for v in per_seed]
            if any(v is None for v in got) or len(got) != len(stat.values):
                raise ReportError(f"{where}: seeds.summary[{key!r}][{task!r}] does not match "
                                  f"the report's seeds")
            for v, stored in zip(got, stat.values):
                if not _same(stored, v):
                    _refuse(f"{where}: seeds.summary", task, key, stored, v)
            if not _same(stat.mean, float(np.mean(got))):
                _refuse(f"{where}: seeds.summary (mean)", task, key, stat.mean,
                        float(np.mean(got)))
    for s in report.scores:
        if s.protocol.regressor != "none":
            continue
        per_seed = [calc.row(r.tasks, s.protocol) for r in section.runs]
        stored_items = list(s.values.items())
        if s.average is not None:
            stored_items.append(("avg", s.average.value))
        for task, stored in stored_items:
            got = [v.get(task) for v in per_seed]
            if all(v is not None for v in got) and not _same(stored, float(np.mean(got))):
                _refuse(f"{where} (mean of seeds)", task, s.protocol.key, stored,
                        float(np.mean(got)))
