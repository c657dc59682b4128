"""Report files: write (atomically, with the per-pair sidecar), read with a clear error for
what cannot be read, and ``load`` into the typed objects of ``bench.results`` whatever the
schema version (schema-1 run reports are upgraded in memory, see ``upgrade_run_v1``)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.atomic import atomic_write_bytes, atomic_write_text
from bench.errors import BenchError
from bench.results import (
    LITERATURE_SCHEMA,
    RUN_SCHEMA,
    LiteratureReport,
    PartResult,
    RegressionResult,
    ReportError,
    RunReport,
    TaskResult,
    TransferResult,
    pairs_bytes,
    read_pairs,
    read_transfer_protocol,
    score_protocols,
    sidecar_path,
)
from bench.scoring import Average

__all__ = ["ReportError", "load", "save", "read_report", "write_report"]

SCHEMA_VERSION = RUN_SCHEMA
READABLE_VERSIONS = (1, 2)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "model"


def default_report_path(model_name: str, folder: Path = Path("reports/runs")) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return folder / f"{slug(model_name)}-{stamp}.json"


def write_report(report: dict[str, Any], path: Path) -> Path:
    """Write a plain report dict atomically: a killed run never leaves a truncated file."""
    report.setdefault("schema_version", SCHEMA_VERSION)
    atomic_write_text(path, json.dumps(report, indent=1, sort_keys=False) + "\n")
    return path


def save(report: RunReport, path: Path) -> Path:
    """Write a run report and its per-pair sidecar (``<name>.pairs.npz``), both atomically;
    the JSON records the sidecar's sha256, so a mismatched pair of files is detected."""
    path = Path(path)
    arrays = report.pair_arrays()
    if arrays:
        raw = pairs_bytes(arrays)
        side = sidecar_path(path)
        atomic_write_bytes(side, raw)
        report.pairs_file = {"file": side.name, "sha256": hashlib.sha256(raw).hexdigest()}
    return write_report(report.to_dict(), path)


def read_report(path: Path) -> dict[str, Any]:
    """Load a report's JSON, or fail with one line that says what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"{path}: no such report file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: not a bench report (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ReportError(f"{path}: not a bench report (no schema_version field)")
    version = data["schema_version"]
    if version not in READABLE_VERSIONS:
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
        from bench.analysis.report import AnalysisReport

        return AnalysisReport.from_dict(data, where)
    if kind == "literature":
        if data["schema_version"] != LITERATURE_SCHEMA:
            raise ReportError(f"{path}: literature schema_version {data['schema_version']!r} "
                              f"is not readable (reads {LITERATURE_SCHEMA})")
        return LiteratureReport.from_dict(data, where)
    if kind != "run":
        raise ReportError(f"{path}: unknown report kind {kind!r} (known: run, literature, "
                          f"analysis)")
    if data["schema_version"] == 1:
        return upgrade_run_v1(data, where)
    report = RunReport.from_dict(data, where)
    if report.pairs_file:
        side = path.with_name(report.pairs_file["file"])
        if side.is_file():
            report.attach_pairs(read_pairs(side, report.pairs_file.get("sha256"), where), where)
    return report


# ------------------------------------------------------------------------ schema 1 -> 2

def _points(x: float) -> float:
    return 100 * float(x)


def upgrade_run_v1(data: dict[str, Any], where: str) -> RunReport:
    """A schema-1 run report (fractions in ``sts`` and ``regression``, per-pair lists inline,
    ``avg`` stored as a task, absolute paths) as a schema-2 ``RunReport``. Stored scores are
    kept as they were; the per-pair data of the scored parts is kept in memory."""
    from bench.protocols import Protocol
    from bench.results import ModelRecord, ProtocolScores

    tasks: dict[str, TaskResult] = {}
    sums = (data.get("data") or {}).get("sha256") or {}
    for name, res in (data.get("sts") or {}).items():
        splits = res.get("kind") == "splits"
        task = TaskResult(name, "sts", 1, ("test",) if splits else tuple(res["parts"]),
                          supervised=splits)
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
                np.asarray(reg["yhat"], dtype=np.float64),
                np.asarray(reg["gold"], dtype=np.float64))
        tasks[name] = task
    transfer = data.get("transfer") or {}
    for name, res in transfer.items():
        if name != "avg" and isinstance(res, dict):
            tasks[name] = TaskResult(name, "transfer", transfer=TransferResult.from_dict(res),
                                     main_score=float(res["acc"]))
    for name, task in tasks.items():
        task.files = {k.removeprefix("downstream/"): v for k, v in sums.items()
                      if _belongs(k, name)}
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
            values = {t: float(v) for t, v in stored.items() if t != "avg"}
            avg = stored.get("avg")
            scores.append(ProtocolScores(proto, values, Average(float(avg), tuple(values))
                                         if isinstance(avg, int | float) else None))
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
    files = {k.removeprefix("downstream/"): v for k, v in sums.items()}
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
    from bench.tasks.registry import find

    meta = find(task)
    return meta is not None and key.removeprefix("downstream/") in meta.files()
