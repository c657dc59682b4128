"""Writing an analysis report (``bench analyze``); the schema and its reader are
``bench.analysis_report``, below ``bench.reports`` (which reads every report kind)."""

from __future__ import annotations

from pathlib import Path

from bench.analysis_report import AnalysisReport, load
from bench.reports import write_report

__all__ = ["AnalysisReport", "load", "save"]


def save(report: AnalysisReport, path: Path) -> Path:
    """Write the report atomically (``bench.reports.write_report``)."""
    return write_report(report.to_dict(), path)
