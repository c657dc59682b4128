"""Report files: write (atomically, with the per-pair sidecar), read with a clear error for
what cannot be read, and ``load`` into the typed objects of ``bench.results`` whatever the
schema version (schema-1 run reports are upgraded in memory, see ``upgrade_run_v1``)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.analysis_report import AnalysisReport
from bench.atomic import (
    atomic_create_bytes,
    atomic_create_text,
    atomic_write_bytes,
    atomic_write_text,
)
from bench.correlation import LEGACY_TIES
from bench.data.manifest import data_key
from bench.data.reading import strict_json
from bench.errors import BenchError, warn
from bench.evidence import (
    check_run_fields,
    check_score_tasks,
    check_scores,
    check_sizes,
    expected_pairs,
)
from bench.family import family
from bench.literature import LiteratureReport
from bench.outputs import OutputError, fallback_path
from bench.pairs import attach_pairs, pair_arrays, pairs_bytes, read_pairs, sidecar_of, sidecar_path
from bench.protocols import Protocol
from bench.results import (
    LITERATURE_SCHEMA,
    RUN_SCHEMA,
    ModelRecord,
    PartResult,
    ProtocolScores,
    RegressionResult,
    ReportError,
    RunReport,
    TaskResult,
    TransferResult,
    number,
    read_transfer_protocol,
    score_protocols,
)
from bench.scoring import Average
from bench.tasks.registry import find

__all__ = ["ReportError", "load", "save", "read_report", "write_report"]

SCHEMA_VERSION = RUN_SCHEMA
READABLE_VERSIONS = (1, 2)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "model"


DEFAULT_RUNS_FOLDER = Path("reports/runs")


def default_report_path(model_name: str, folder: Path = DEFAULT_RUNS_FOLDER, n: int = 1) -> Path:
    """``<folder>/<model>-<time>.json``; ``n`` > 1 adds ``-n`` (a name already taken)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return folder / f"{slug(model_name)}-{stamp}{'' if n == 1 else f'-{n}'}.json"


def _finite(obj: Any) -> Any:
    """NaN and infinities become null: strict JSON (``json.dumps`` would write bare ``NaN``).
    A null where a number belongs means "computed, not a number" (e.g. a correlation of
    constant similarities); a missing key means "not computed"."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def report_text(report: dict[str, Any]) -> str:
    report.setdefault("schema_version", SCHEMA_VERSION)
    return json.dumps(_finite(report), indent=1, sort_keys=False, allow_nan=False) + "\n"


def write_report(report: dict[str, Any], path: Path) -> Path:
    """Write a plain report dict atomically: a killed run never leaves a truncated file."""
    atomic_write_text(path, report_text(report))
    return path


def write_new_report(report: dict[str, Any], model_name: str,
                     folder: Path = DEFAULT_RUNS_FOLDER, pairs: bytes | None = None) -> Path:
    """Write under a default name that no other report has: an exclusive create, with a
    ``-2``, ``-3``, ... suffix when another run took the name in the same second. The
    sidecar (``pairs``) is created first, exclusively too, so it reserves the name and the
    JSON that names it is never there without it."""
    for n in itertools.count(1):
        path = default_report_path(model_name, folder, n)
        side = sidecar_path(path) if pairs is not None else None
        if side is not None:
            try:
                atomic_create_bytes(side, pairs)
            except FileExistsError:
                continue
        try:
            atomic_create_text(path, report_text(_with_pairs_name(report, path)))
            return path
        except FileExistsError:
            _remove(side)
            continue
        except BaseException:
            _remove(side)
            raise
    raise AssertionError("unreachable")


def _remove(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _with_pairs_name(report: dict[str, Any], path: Path) -> dict[str, Any]:
    """The report dict with its sidecar's name following the report's own name."""
    if report.get("pairs"):
        report["pairs"] = {**report["pairs"], "file": sidecar_path(path).name}
    return report


def _write_plain(report: dict[str, Any], path: Path) -> Path:
    atomic_write_text(path, report_text(report))
    return path


def write_unit(report: RunReport, raw: bytes | None, path: Path,
               write_json: Callable[[dict[str, Any], Path], Path] | None = None) -> None:
    """The sidecar, then the JSON that names it, each atomically: killed between the two, or
    failing on the JSON, no report names a sidecar that is not there (a failed JSON write
    removes the sidecar it had just written)."""
    side = sidecar_path(path) if raw is not None else None
    if side is not None:
        atomic_write_bytes(side, raw)
    try:
        (write_json or write_report)(_with_pairs_name(report.to_dict(), path), path)
    except BaseException:
        _remove(side)
        raise


def save(report: RunReport, path: Path | None = None, model_name: str | None = None,
         folder: Path = DEFAULT_RUNS_FOLDER) -> Path:
    """Write a run report and its per-pair sidecar (``<name>.pairs.npz``) as a unit (see
    ``write_unit``) to ``path`` or a fresh default name; the JSON records the sidecar's
    sha256, so a mismatched pair of files is detected. If writing fails anyway, both go to a
    fallback in the system temp folder and the error line says exactly what exists where."""
    model_name = model_name or report.model.requested or report.model.name
    arrays = pair_arrays(report)
    raw = pairs_bytes(arrays) if arrays else None
    if raw is not None:
        report.pairs_file = {"file": "", "sha256": hashlib.sha256(raw).hexdigest()}
    wanted = Path(path) if path is not None else default_report_path(model_name, folder)
    try:
        if path is None:
            target = write_new_report(report.to_dict(), model_name, folder, raw)
        else:
            target = Path(path)
            write_unit(report, raw, target)
    except OSError as exc:
        raise OutputError(_fallback(report, raw, wanted, exc)) from None
    if raw is not None:
        report.pairs_file = {"file": sidecar_path(target).name,
                             "sha256": report.pairs_file["sha256"]}
    return target


def _fallback(report: RunReport, raw: bytes | None, wanted: Path, exc: OSError) -> str:
    """Write the report (and sidecar) to the temp folder; the one line saying what exists."""
    why = exc.strerror or str(exc)
    what = "the report and its per-pair file were" if raw is not None else "the report was"
    spare: Path | None = None
    try:
        spare = fallback_path(wanted)
        write_unit(report, raw, spare, _write_plain)  # not through the path that failed
    except OSError as again:
        _remove(spare)
        return (f"cannot write report {wanted} ({why}); nothing of it was left there, and the "
                f"fallback failed too ({again.strerror or again}): the results are lost")
    return (f"cannot write report {wanted} ({why}); nothing of it was left there; {what} "
            f"written to {spare} instead")


def read_report(path: Path) -> dict[str, Any]:
    """Load a report's JSON, or fail with one line that says what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"{path}: no such report file")
    try:
        data = strict_json(path)
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise ReportError(f"{path}: not a bench report (invalid JSON: "
                          f"{str(exc)[:160] or type(exc).__name__})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ReportError(f"{path}: not a bench report (no schema_version field)")
    version = data["schema_version"]
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise ReportError(f"{path}: report schema_version {version!r} is not readable by this "
                          f"bench (reads {', '.join(map(str, READABLE_VERSIONS))}); upgrade bench")
    return data


def load(path: str | Path) -> Any:
    """The typed report in ``path``: a ``RunReport`` (schema 1 or 2, with its per-pair data
    when its sidecar is there), a ``LiteratureReport`` or an ``AnalysisReport``."""
    path = Path(path)
    data = read_report(path)
    kind = data.get("kind", "run")
    where = str(path)
    if kind == "analysis":

        return AnalysisReport.from_dict(data, where)
    if kind == "literature":
        if data["schema_version"] != LITERATURE_SCHEMA:
            raise ReportError(f"{path}: literature schema_version {data['schema_version']!r} "
                              f"is not readable (reads {LITERATURE_SCHEMA})")
        return LiteratureReport.from_dict(data, where)
    if kind != "run":
        raise ReportError(f"{path}: unknown report kind {kind!r} (known: run, literature, "
                          f"analysis)")
    try:
        if data["schema_version"] == 1:
            report = upgrade_run_v1(data, where)
        else:
            check_run_fields(data, where)
            report = RunReport.from_dict(data, where)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        # the field checks cover what bench writes; this names what they did not foresee
        raise ReportError(f"{path}: unreadable run report ({type(exc).__name__}: "
                          f"{str(exc)[:120]})") from None
    check_score_tasks(report, where)
    check_sizes(report.tasks, where)
    for run in report.seeds.runs if report.seeds is not None else []:
        check_sizes(run.tasks, f"{where} [seed {run.seed}]")
    if report.pairs_file:
        _attach_sidecar(report, path, where)
    check_scores(report, where)
    return report


def _attach_sidecar(report: RunReport, path: Path, where: str) -> None:
    """Attach the sidecar the report names, or say in one line that it is missing (the
    report's stored numbers are then shown without intervals or re-aggregation)."""
    side, digest = sidecar_of(path, report.pairs_file, where)
    if not side.is_file():
        warn(f"{where}: its per-pair file {side.name} is missing; stored numbers only (no "
             f"intervals, no re-aggregation, not checked against per-pair data)")
        return
    attach_pairs(report, read_pairs(side, digest, where, expected_pairs(report)), where)
    runs = [r.tasks for r in report.seeds.runs] if report.seeds is not None else [report.tasks]
    lacking = sorted({f"{name}/{part}" for tasks in runs for name, t in tasks.items()
                      if family(t.family).by_protocol for part in t.eval_parts
                      if t.parts[part].sim is None or t.parts[part].gold is None})
    if lacking:
        warn(f"{where}: its per-pair file {side.name} has no pairs for {', '.join(lacking[:3])}"
             f"{' ...' if len(lacking) > 3 else ''}; their stored numbers are shown unchecked")


# ------------------------------------------------------------------------ schema 1 -> 2

def _points(x: float | None) -> float:
    return float("nan") if x is None else 100 * float(x)


def upgrade_run_v1(data: dict[str, Any], where: str) -> RunReport:
    """A schema-1 run report (fractions in ``sts`` and ``regression``, per-pair lists inline,
    ``avg`` stored as a task, absolute paths) as a schema-2 ``RunReport``. Stored scores are
    kept as they were; the per-pair data of the scored parts is kept in memory."""

    tasks: dict[str, TaskResult] = {}
    sums = (data.get("data") or {}).get("sha256") or {}
    for name, res in (data.get("sts") or {}).items():
        splits = res.get("kind") == "splits"
        task = TaskResult(name, "sts", 1, ("test",) if splits else tuple(res["parts"]),
                          supervised=splits, ties=LEGACY_TIES)  # scored before the tie rule
        for part, values in res["parts"].items():
            keep = part in task.eval_parts and "sim" in values
            task.parts[part] = PartResult(
                int(values["n"]), _points(values["pearson"]), _points(values["spearman"]),
                np.asarray(values["sim"], dtype=np.float64) if keep else None,
                np.asarray(values["gold"], dtype=np.float64) if keep else None)
        reg = (data.get("regression") or {}).get(name)
        if reg:
            sel = reg["selection"]
            test = reg["test"]
            task.regression = RegressionResult(
                sel, bool(reg["label_fix"]), int(reg["seed"]), _points(test["pearson"]),
                _points(test["spearman"]), float(test["mse"]), int(test["n"]),
                _points(reg["dev"][sel]), int(reg["dev"]["n"]), int(reg["epochs"]),
                int(reg["best_epoch"]), [round(_points(c), 4) for c in reg["dev_curve"]],
                int(reg["below_one_train"]), float(reg["wall_s"]),
                np.asarray(reg["yhat"], dtype=np.float64) if "yhat" in reg else None,
                np.asarray(reg["gold"], dtype=np.float64) if "gold" in reg else None)
        tasks[name] = task
    transfer = data.get("transfer") or {}
    for name, res in transfer.items():
        if name != "avg" and isinstance(res, dict):
            tasks[name] = TaskResult(name, "transfer", transfer=TransferResult.from_dict(res),
                                     main_score=float(res["acc"]))
    per_task = (data.get("data") or {}).get("files")  # schema-1 reports of late 2026 list them
    for name, task in tasks.items():
        if isinstance(per_task, dict) and isinstance(per_task.get(name), list):
            keys = {data_key(str(k)) for k in per_task[name]}
            task.files = {data_key(k): v for k, v in sums.items() if data_key(k) in keys}
        else:
            task.files = {data_key(k): v for k, v in sums.items() if _belongs(k, name)}
    try:
        protocols = [Protocol.from_dict(p) for p in data.get("protocols", [])]
        for key in data.get("scores") or {}:
            if all(p.key != key for p in protocols):
                protocols.append(Protocol.parse(key))
    except (KeyError, TypeError, BenchError) as exc:
        raise ReportError(f"{where}: unreadable protocols ({exc})") from None
    scores = []
    for proto in protocols:
        stored = (data.get("scores") or {}).get(proto.key)
        if isinstance(stored, dict) and stored:
            bad = next((t for t, v in stored.items()
                        if v is not None and not isinstance(v, int | float)), None)
            if bad is not None:
                raise ReportError(f"{where}: scores[{proto.key!r}][{bad!r}] is "
                                  f"{stored[bad]!r}, not a number")
            values = {t: number(v) for t, v in stored.items() if t != "avg"}
            avg = stored.get("avg", float("nan"))
            scores.append(ProtocolScores(proto, values, Average(number(avg), tuple(values))))
    first = scores[0] if scores else None
    for name, task in tasks.items():
        if task.family == "sts" and first is not None:
            task.main_score = first.values.get(name)
    model = dict(data.get("model") or {})
    model.setdefault("name", model.get("requested", "?"))
    model.setdefault("spec", {})
    model.setdefault("fingerprint", "")
    extra = {k: v for k, v in model.items() if k not in ModelRecord.__dataclass_fields__}
    record = ModelRecord.from_dict({k: v for k, v in model.items() if k not in extra}, where)
    record.extra = extra
    run = {k: v for k, v in (data.get("run") or {}).items() if k != "cache"}
    files = {data_key(k): v for k, v in sums.items()}
    info = {"found_via": (data.get("data") or {}).get("found_via"),
            "verified": (data.get("data") or {}).get("verified"), "sha256": files}
    tavg = transfer.get("avg")
    transfer_tasks = tuple(t for t in transfer if t != "avg")
    report = RunReport(record, protocols, tasks, scores, info, run,
                       dict(data.get("environment") or {}), dict(data.get("timings") or {}),
                       str(data.get("created", "")), str(data.get("bench_version", "?")),
                       Average(float(tavg["acc"]), transfer_tasks) if tavg else None,
                       ["upgraded from schema 1"],
                       transfer_protocol=read_transfer_protocol(None, run, tasks, where))
    if not scores and any(t.family == "sts" for t in tasks.values()):
        report.scores = score_protocols(report.sts_tasks(), protocols)
    return report


def _belongs(key: str, task: str) -> bool:
    """Whether a schema-1 data file key belongs to a task (by the registry's file list)."""

    meta = find(task)
    return meta is not None and data_key(key) in meta.files()
