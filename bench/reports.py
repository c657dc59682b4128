"""Versioned JSON reports: schema, atomic write, read with a clear error for what it cannot read."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_text
from bench.errors import BenchError

SCHEMA_VERSION = 1
READABLE_VERSIONS = (1,)


class ReportError(BenchError):
    pass


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "model"


def default_report_path(model_name: str, folder: Path = Path("reports/runs")) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return folder / f"{slug(model_name)}-{stamp}.json"


def write_report(report: dict[str, Any], path: Path) -> Path:
    """Write atomically: a killed run never leaves a truncated report behind."""
    report.setdefault("schema_version", SCHEMA_VERSION)
    atomic_write_text(path, json.dumps(report, indent=1, sort_keys=False) + "\n")
    return path


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
