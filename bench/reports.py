"""Versioned JSON reports: schema, atomic write, read with a clear error for what it cannot read."""

from __future__ import annotations

import itertools
import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.atomic import atomic_create_text, atomic_write_text
from bench.errors import BenchError
from bench.outputs import OutputError, fallback_path

SCHEMA_VERSION = 1
READABLE_VERSIONS = (1,)


class ReportError(BenchError):
    pass


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
    """Write atomically: a killed run never leaves a truncated report behind."""
    atomic_write_text(path, report_text(report))
    return path


def write_new_report(report: dict[str, Any], model_name: str,
                     folder: Path = DEFAULT_RUNS_FOLDER) -> Path:
    """Write under a default name that no other report has: an exclusive create, with a
    ``-2``, ``-3``, ... suffix when another run took the name in the same second."""
    text = report_text(report)
    for n in itertools.count(1):
        path = default_report_path(model_name, folder, n)
        try:
            atomic_create_text(path, text)
            return path
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def save_report(report: dict[str, Any], path: Path | None, model_name: str,
                folder: Path = DEFAULT_RUNS_FOLDER) -> Path:
    """Write to ``path`` (or a fresh default name); if that fails at the end anyway, write
    to a fallback file in the system temp folder and fail with a line naming both."""
    try:
        return write_report(report, path) if path is not None else \
            write_new_report(report, model_name, folder)
    except OSError as exc:
        wanted = path if path is not None else default_report_path(model_name, folder)
        spare = fallback_path(wanted)
        atomic_write_text(spare, report_text(report))
        raise OutputError(f"cannot write report {wanted} ({exc.strerror or exc}); it was "
                          f"written to {spare} instead") from None


def read_report(path: Path) -> dict[str, Any]:
    """Load a report, or fail with one line that says what is wrong with the file."""
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
