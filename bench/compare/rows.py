"""Turn reports into comparable rows: one per (model, protocol-set) with what it can offer.

A run report gives one row that holds its stored scores and, usually, the per-pair data
(``sts[task]["parts"]``) from which any no-regressor protocol and a bootstrap can be
recomputed. A literature report (``kind: "literature"``) gives one row per table line with
aggregates only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.data.manifest import data_key
from bench.data.sts import STS_TASKS
from bench.reports import ReportError, read_report

KINDS = ("run", "literature")
TRANSFER_TASKS = ("MR", "CR", "SUBJ", "MPQA", "SST2", "TREC", "MRPC")
TRANSFER_DISPLAY = {"SST2": "SST"}
_KEY = re.compile(r"^(all|mean|wmean)-(spearman|pearson)(-reg)?$")


@dataclass(frozen=True)
class ProtocolTag:
    """A protocol as a report names it; lenient so regressor protocols need no registry."""

    key: str
    metric: str
    aggregation: str
    regressor: str = "none"
    source: str = ""

    @classmethod
    def from_key(cls, key: str, source: str = "") -> ProtocolTag:
        m = _KEY.match(key)
        if not m:
            raise ValueError(key)
        return cls(key, m.group(2), m.group(1), "senteval" if m.group(3) else "none", source)


NO_REGRESSOR_KEYS = tuple(f"{a}-{m}" for m in ("spearman", "pearson")
                          for a in ("all", "mean", "wmean"))


@dataclass
class Row:
    """One line of a comparison table and everything needed to recompute its numbers."""

    label: str
    path: Path
    kind: str
    protocols: list[ProtocolTag]
    scores: dict[str, dict[str, float]]
    sts: dict[str, Any] | None = None
    transfer: dict[str, float] = field(default_factory=dict)
    transfer_avg: float | None = None
    source: str = ""
    note: str = ""
    group: str = ""
    data_sha256: dict[str, str] = field(default_factory=dict)  # data file -> digest
    data_files: dict[str, list[str]] | None = None  # task -> its data files (newer reports)
    verified: bool | None = None  # None: the report does not say (literature)
    data_mismatch: dict[str, str] = field(default_factory=dict)  # task -> why (compare.datacheck)

    @property
    def has_parts(self) -> bool:
        """True when every STS task of the row stores per-pair sims and gold scores."""
        if not self.sts:
            return False
        return all(all("sim" in p and "gold" in p for p in res.get("parts", {}).values())
                   and res.get("parts") for res in self.sts.values())

    @property
    def sts_tasks(self) -> list[str]:
        present = set(self.sts or {})
        for row in self.scores.values():
            present |= set(row)
        return [t for t in STS_TASKS if t in present]

    def obtainable(self) -> list[str]:
        """Protocol keys this row can show: stored ones, plus every no-regressor one from parts."""
        keys = [p.key for p in self.protocols if p.key in self.scores]
        if self.has_parts:
            keys += [k for k in NO_REGRESSOR_KEYS if k not in keys]
        return keys


def _tags(items: Any, where: str) -> list[ProtocolTag]:
    if not isinstance(items, list):
        raise ReportError(f"{where}: 'protocols' must be a list")
    tags = []
    for item in items:
        key = item.get("key") if isinstance(item, dict) else item
        try:
            tag = ProtocolTag.from_key(str(key), item.get("source", "") if isinstance(item, dict)
                                       else "")
        except ValueError:
            raise ReportError(f"{where}: unknown protocol key {key!r}") from None
        tags.append(tag)
    return tags


def _scores(data: Any, where: str) -> dict[str, dict[str, float]]:
    if not isinstance(data, dict):
        raise ReportError(f"{where}: 'scores' must map protocol keys to task scores")
    out: dict[str, dict[str, float]] = {}
    for key, row in data.items():
        if not isinstance(row, dict):
            raise ReportError(f"{where}: scores[{key!r}] must map tasks to numbers")
        # null is how a report stores a computed NaN (bench.reports): kept as nan, so a
        # table shows "nan" there and "-" only where nothing was computed
        bad = next((t for t, v in row.items()
                    if v is not None and not isinstance(v, (int, float))), None)
        if bad is not None:
            raise ReportError(f"{where}: scores[{key!r}][{bad!r}] is {row[bad]!r}, not a number")
        out[key] = {t: float("nan") if v is None else float(v) for t, v in row.items()}
    return out


def _nan_for_null(sts: Any) -> Any:
    """Per-part correlations stored as null (NaN) back to nan, so re-aggregation can run."""
    if not isinstance(sts, dict):
        return sts
    for res in sts.values():
        for part in (res.get("parts") or {}).values() if isinstance(res, dict) else ():
            for metric in ("pearson", "spearman"):
                if isinstance(part, dict) and metric in part and part[metric] is None:
                    part[metric] = float("nan")
    return sts


def _data(report: dict[str, Any]) -> tuple[dict[str, str], dict[str, list[str]] | None,
                                          bool | None]:
    data = report.get("data")
    if not isinstance(data, dict):
        return {}, None, None
    sums = data.get("sha256")
    sums = {data_key(str(k)): str(v) for k, v in sums.items()} if isinstance(sums, dict) else {}
    files = data.get("files")
    files = ({str(t): [data_key(str(k)) for k in keys] for t, keys in files.items()
              if isinstance(keys, list)} if isinstance(files, dict) else None)
    verified = data.get("verified")
    return sums, files, verified if isinstance(verified, bool) else None


def _transfer(section: Any) -> tuple[dict[str, float], float | None]:
    """Accuracy per transfer task (points) and a stored average when the report has one."""
    if not isinstance(section, dict):
        return {}, None
    accs: dict[str, float] = {}
    avg = None
    for task, value in section.items():
        acc = value.get("acc") if isinstance(value, dict) else value
        if not isinstance(acc, (int, float)):
            continue
        if task.lower() in ("avg", "average"):
            avg = float(acc)
        else:
            accs[task] = float(acc)
    return accs, avg


def _run_rows(report: dict[str, Any], path: Path) -> list[Row]:
    model = report.get("model") or {}
    label = str(model.get("name") or model.get("requested") or path.stem)
    where = str(path)
    if "scores" not in report and "transfer" not in report:
        raise ReportError(f"{where}: run report has neither 'scores' nor 'transfer'")
    transfer, tavg = _transfer(report.get("transfer"))
    sums, files, verified = _data(report)
    return [Row(label=label, path=path, kind="run",
                protocols=_tags(report.get("protocols", []), where),
                scores=_scores(report.get("scores", {}), where),
                sts=_nan_for_null(report.get("sts")) or None, transfer=transfer,
                transfer_avg=tavg, source=path.name, note=str(report.get("created", "")),
                data_sha256=sums, data_files=files, verified=verified)]


def _literature_rows(report: dict[str, Any], path: Path) -> list[Row]:
    rows_data = report.get("rows")
    if not isinstance(rows_data, list) or not rows_data:
        raise ReportError(f"{path}: literature report has no 'rows' list")
    rows = []
    for i, item in enumerate(rows_data):
        where = f"{path}: rows[{i}]"
        if not isinstance(item, dict) or "model" not in item:
            raise ReportError(f"{where}: a literature row needs a 'model'")
        transfer, tavg = _transfer(item.get("transfer"))
        rows.append(Row(label=str(item["model"].get("name", f"row {i}")), path=path,
                        kind="literature", protocols=_tags(item.get("protocols", []), where),
                        scores=_scores(item.get("scores", {}), where), transfer=transfer,
                        transfer_avg=item.get("transfer_avg", tavg),
                        source=str(item.get("source", "")), note=str(item.get("note", "")),
                        group=str(item["model"].get("group", ""))))
    return rows


def rows_from_report(report: dict[str, Any], path: Path) -> list[Row]:
    kind = report.get("kind", "run")
    if kind == "run":
        return _run_rows(report, path)
    if kind == "literature":
        return _literature_rows(report, path)
    raise ReportError(f"{path}: unknown report kind {kind!r} (known: {', '.join(KINDS)})")


def load_rows(paths: Sequence[Path]) -> list[Row]:
    """Read every report (one-line ReportError for a bad one) and disambiguate run labels."""
    if not paths:
        raise ReportError("no reports given: name at least one report JSON file")
    rows = [row for p in paths for row in rows_from_report(read_report(Path(p)), Path(p))]
    seen: dict[str, int] = {}
    for row in rows:
        seen[row.label] = seen.get(row.label, 0) + 1
    for row in rows:
        if row.kind == "run" and seen[row.label] > 1:
            row.label = f"{row.label} ({row.path.stem})"
    return rows
