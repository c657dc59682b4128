"""Turn typed reports into comparable rows: one per run, one per line of a published table.

A run row holds its report, so it can show every protocol it stored and, from its per-pair
data, any other no-regressor protocol (through ``bench.scoring``). A literature row has only
the aggregates its paper printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.data.manifest import data_key
from bench.family import FAMILIES, family
from bench.literature import LiteratureReport
from bench.mteb.results import looks_like_mteb, read_mteb
from bench.protocols import Protocol, every_combination
from bench.reports import ReportError, load
from bench.results import ProtocolScores, RunReport
from bench.scoring import Average
from bench.tasks.registry import ordered
from bench.transfer_protocol import TransferProtocol

STORED, REAGGREGATED = "stored", "re-aggregated"


@dataclass
class Row:
    """One line of a comparison table and everything needed to recompute its numbers."""

    label: str
    path: Path
    kind: str  # "run" | "literature"
    stored: list[ProtocolScores]
    report: RunReport | None = None
    transfer: dict[str, float] = field(default_factory=dict)
    transfer_average: Average | None = None
    source: str = ""
    note: str = ""
    group: str = ""
    data_sha256: dict[str, str] = field(default_factory=dict)  # data file -> digest
    data_files: dict[str, list[str]] | None = None  # task -> its data files
    verified: bool | None = None  # None: the report does not say (literature)
    data_mismatch: dict[str, str] = field(default_factory=dict)  # task -> why (compare.datacheck)
    transfer_protocol: TransferProtocol | None = None  # None: unknown (a table that says none)
    # family -> task -> number, for the families compare does not draw itself (a plugin's
    # pair classification): ``bench.compare.tables.family_tables`` shows them
    families: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def protocols(self) -> list[Protocol]:
        return [s.protocol for s in self.stored]

    @property
    def has_sts(self) -> bool:
        return bool(self.stored) or bool(self.report and self.report.sts_tasks())

    @property
    def has_pairs(self) -> bool:
        return self.report is not None and self.report.has_pairs

    @property
    def seed_count(self) -> int | None:
        """Training seeds behind the row's numbers: 1 for a plain run, None for literature."""
        if self.report is None:
            return None
        return len(self.report.seeds.seeds) if self.report.seeds is not None else 1

    @property
    def seed_pairs(self) -> bool:
        """A multi-seed run whose every seed keeps its per-pair data."""
        seeds = self.report.seeds if self.report is not None else None
        return seeds is not None and all(
            p.sim is not None for r in seeds.runs for t in r.tasks.values()
            if family(t.family).by_protocol for n, p in t.parts.items() if n in t.eval_parts)

    @property
    def sts_tasks(self) -> list[str]:
        present: set[str] = set(self.report.sts_tasks()) if self.report else set()
        for s in self.stored:
            present |= set(s.values)
        return ordered(sorted(present))

    def scores_under(self, protocol: Protocol) -> tuple[ProtocolScores, str] | None:
        """The row's numbers under ``protocol`` and how they were obtained, or None."""
        for s in self.stored:
            if s.protocol.key == protocol.key:
                return s, STORED
        if self.report is not None and protocol.regressor == "none":
            got = self.report.score(protocol)
            if got is not None:
                return got, REAGGREGATED
        return None

    def obtainable(self) -> list[Protocol]:
        """Protocols this row can show: stored ones, then every one its parts allow."""

        out = list(self.protocols)
        if self.report is not None:
            out += [p for p in every_combination() if p.regressor == "none"
                    and all(p.key != q.key for q in out) and self.report.score(p) is not None]
        return out

def _run_rows(report: RunReport, path: Path) -> list[Row]:
    transfer = {k: t.transfer.acc for k, t in report.transfer_tasks().items()}
    sums = report.data.get("sha256")
    sums = {data_key(str(k)): str(v) for k, v in sums.items()} if isinstance(sums, dict) else {}
    files = ({name: list(t.files) for name, t in report.tasks.items()}
             if any(t.files for t in report.tasks.values()) else None)
    verified = report.data.get("verified")
    return [Row(label=report.model.name or report.model.requested or path.stem, path=path,
                kind="run", stored=list(report.scores), report=report, transfer=transfer,
                transfer_average=report.transfer_average, source=path.name,
                note=report.created, data_sha256=sums, data_files=files,
                verified=verified if isinstance(verified, bool) else None,
                transfer_protocol=report.transfer_protocol,
                families=family_values(report))]


def family_values(report: RunReport) -> dict[str, dict[str, float]]:
    """Each registered family's numbers for the report's tasks (``Family.values``), for the
    families whose tables compare does not draw itself."""
    out = {}
    for name, owner in FAMILIES.items():
        if not owner.own_table:
            values = owner.values({k: t for k, t in report.tasks.items() if t.family == name})
            if values:
                out[name] = values
    return out


def _literature_rows(report: LiteratureReport, path: Path) -> list[Row]:
    return [Row(label=str(r.model.get("name", f"row {i}")), path=path, kind="literature",
                stored=list(r.scores), transfer=dict(r.transfer),
                transfer_average=r.transfer_average, source=r.source, note=r.note,
                group=str(r.model.get("group", "")), transfer_protocol=r.transfer_protocol)
            for i, r in enumerate(report.rows)]


def rows_from_report(report: RunReport | LiteratureReport, path: Path) -> list[Row]:
    if isinstance(report, LiteratureReport):
        return _literature_rows(report, path)
    if not report.tasks:
        raise ReportError(f"{path}: run report has no task results")
    return _run_rows(report, path)


def _load_all(paths: list[Path]) -> list[tuple[Path, RunReport | LiteratureReport]]:
    """bench reports, and MTEB result files and folders read together (a literature report
    per model and revision, whatever files it came from), in the place of the first of them."""

    mteb = [p for p in paths if looks_like_mteb(p)]
    out: list[tuple[Path, RunReport | LiteratureReport]] = []
    for path in paths:
        if path not in mteb:
            out.append((path, load(path)))
        elif path == mteb[0]:
            out.extend(read_mteb(mteb))
    return out


def load_rows(paths: Sequence[Path]) -> list[Row]:
    """Read every report (one-line ReportError for a bad one) and disambiguate run labels."""
    if not paths:
        raise ReportError("no reports given: name at least one report JSON file")
    rows = [row for p, report in _load_all([Path(p) for p in paths])
            for row in rows_from_report(report, p)]
    seen: dict[str, int] = {}
    for row in rows:
        seen[row.label] = seen.get(row.label, 0) + 1
    for row in rows:
        if row.kind == "run" and seen[row.label] > 1:
            row.label = f"{row.label} ({row.path.stem})"
    return rows
