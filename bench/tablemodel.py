"""The one table model of every bench output: a title, columns, rows of cells (a number with
its interval and marks, or a text), notes and structured extras.

``bench run``, ``bench compare`` (STS, transfer, significance, sensitivity, seeds) and the HTML
page all build these; ``bench.tablerender`` turns any of them into terminal text, Markdown,
LaTeX, CSV, JSON or HTML, so a new output format is one renderer there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Cell:
    value: float | str | None  # None: not computed / not in the report ("-")
    ci: tuple[float, float] | None = None  # 95% interval, shown after the number
    bold: bool = False
    mark: bool = False  # measured on other data than the reference row (``--allow-mixed``)
    flag: str = ""  # a short mark after the number, e.g. "*" for a significant difference
    flag_title: str = ""  # what the flag means for this number (the HTML tooltip)
    attrs: dict[str, str] = field(default_factory=dict)  # what the number is (model, task...):
    # the HTML page's data-* attributes, so a reader or a test can find a number by its meaning


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)
    label_columns: int = 3  # leading text columns (model, protocol, source)
    data: dict[str, Any] = field(default_factory=dict)  # structured extras for --format json
    # how a column's numbers print: a format spec (".4f", "+.2f"), "p" (3 decimals, "<0.001")
    # or "count"; a column not named here follows its heading (bench.tablerender.number)
    formats: dict[str, str] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """Numbers as numbers (CSV); an interval becomes ``<col> lo`` / ``<col> hi`` columns."""
        records = []
        for cells in self.rows:
            rec: dict[str, Any] = {}
            for col, cell in zip(self.columns, cells):
                rec[col] = cell.value
                if any(r[self.columns.index(col)].ci for r in self.rows):
                    rec[f"{col} lo"], rec[f"{col} hi"] = cell.ci or (np.nan, np.nan)
            records.append(rec)
        return pd.DataFrame.from_records(records)
