"""A run report's per-pair sidecar (``<report>.pairs.npz``): which arrays it holds, how they
go back on the report, and reading it safely (digest first, headers before data, no pickle).
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.results import RegressionResult, ReportError, RunReport, TaskResult


def pair_arrays(report: RunReport) -> dict[str, np.ndarray]:
    """Every per-pair array of the report (and of each seed), keyed by sidecar member."""
    arrays = _task_arrays(report.tasks)
    for run in report.seeds.runs if report.seeds is not None else []:
        arrays.update({f"seeds/{run.seed}/{k}": v for k, v in _task_arrays(run.tasks).items()})
    return arrays


def attach_pairs(report: RunReport, arrays: dict[str, np.ndarray], where: str) -> None:
    """Put a sidecar's arrays back on the report's parts and regressor results."""
    runs = {str(r.seed): r for r in report.seeds.runs} if report.seeds is not None else {}
    for key, value in arrays.items():
        tasks = report.tasks
        if key.startswith("seeds/"):
            _, seed, key = key.split("/", 2)
            if seed not in runs:
                raise ReportError(f"{where}: pairs for unknown seed {seed}")
            tasks = runs[seed].tasks
        _attach(tasks, key, value, where)


def _task_arrays(tasks: dict[str, TaskResult]) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for name, task in tasks.items():
        for part_name, part in task.parts.items():
            if part.sim is not None and part_name in task.eval_parts:
                arrays[f"{name}/{part_name}/sim"] = np.asarray(part.sim, dtype=np.float64)
                arrays[f"{name}/{part_name}/gold"] = np.asarray(part.gold, dtype=np.float64)
        reg = task.regression
        if reg is not None and reg.yhat is not None:
            arrays[f"{name}/regression/yhat"] = np.asarray(reg.yhat, dtype=np.float64)
            arrays[f"{name}/regression/gold"] = np.asarray(reg.gold, dtype=np.float64)
    return arrays


def _attach(tasks: dict[str, TaskResult], key: str, value: np.ndarray, where: str) -> None:
    bits = key.split("/")
    if len(bits) != 3:
        raise ReportError(f"{where}: per-pair file has an unknown member {key!r}")
    task_name, part_name, what = bits
    task = tasks.get(task_name)
    if task is None:
        raise ReportError(f"{where}: pairs for unknown task {task_name!r}")
    if part_name == "regression":
        if task.regression is not None and what in RegressionResult._ARRAYS:
            setattr(task.regression, what, value)
        return
    part = task.parts.get(part_name)
    if part is None or what not in ("sim", "gold") or len(value) != part.n:
        raise ReportError(f"{where}: pairs {key!r} do not match the report's parts")
    setattr(part, what, value)


def sidecar_path(report_path: Path) -> Path:
    return report_path.with_name(report_path.name.removesuffix(".json") + ".pairs.npz")


def pairs_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def sidecar_of(report_path: Path, pairs: Any, where: str) -> tuple[Path, str]:
    """The sidecar a report names and its recorded sha256, or one line saying why the field
    is unusable. The name must be a plain ``*.npz`` file name next to the report: a report
    never chooses a path outside its own folder (``../x.npz``, an absolute path). The digest
    is required: without it an altered sidecar would give any interval one likes."""
    if not isinstance(pairs, dict) or not isinstance(pairs.get("file"), str):
        raise ReportError(f"{where}: field 'pairs' must be {{\"file\": ..., \"sha256\": ...}}")
    name = pairs["file"]
    if (not name or name != Path(name).name or "\\" in name or name in (".", "..")
            or not name.endswith(".npz")):
        raise ReportError(f"{where}: field 'pairs.file' must name a .npz file next to the "
                          f"report, not {name!r}")
    digest = pairs.get("sha256")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ReportError(f"{where}: field 'pairs.sha256' must be the sha256 (64 hex digits) of "
                          f"{name}; a per-pair file is never read unchecked")
    return report_path.with_name(name), digest


# A sidecar member is float64 of the recorded length; the file is at most this much larger
# than its uncompressed arrays (zip and .npy headers), so a bigger file is not read at all.
_SIDECAR_SLACK = 1 << 20


def _member_header(zf: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy member's header, read without inflating its data."""
    with zf.open(member) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    return shape, dtype


def read_pairs(path: Path, sha256: str, where: str,
               expected: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """A sidecar's arrays, checked before they are inflated: the digest must match, every
    member must be one the report expects (``expected``: name -> length), a 1-d float array of
    that length; pickled (object) arrays are never loaded."""
    if not path.is_file():
        raise ReportError(f"{where}: its per-pair file {path.name} is missing (keep it next to "
                          f"the report; intervals and re-aggregation need it)")
    if expected is not None:
        limit = 8 * sum(expected.values()) + _SIDECAR_SLACK
        if path.stat().st_size > limit:
            raise ReportError(f"{path}: per-pair file of {path.stat().st_size:,} bytes is larger "
                              f"than the pairs {where} records can fill ({limit:,} at most)")
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise ReportError(f"{path}: sha256 differs from what {where} records; the per-pair "
                          f"file belongs to another report")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            for member in zf.namelist():
                key = member.removesuffix(".npy")
                shape, dtype = _member_header(zf, member)
                if expected is not None and key not in expected:
                    raise ReportError(f"{path}: member {key!r} is not a pair array of {where}")
                want = (expected[key],) if expected is not None else shape
                if dtype.kind != "f" or len(shape) != 1 or shape != want:
                    raise ReportError(f"{path}: member {key!r} is {dtype} of shape {shape}; "
                                      f"{where} needs float values of shape {want}")
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k], dtype=np.float64) for k in data.files}
    except ReportError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ReportError(f"{path}: not a readable per-pair file of {where} ({exc})") from None
    return arrays
