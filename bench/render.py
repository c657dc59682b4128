"""The paper's table layout (STS12 ... SICK-R, Avg.) for the terminal (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from bench.data.sts import DISPLAY_NAMES, STS_TASKS


def sts_columns(scores: dict[str, dict[str, float]]) -> list[str]:
    present = {t for row in scores.values() for t in row}
    return [t for t in STS_TASKS if t in present]


def sts_table(title: str, scores: dict[str, dict[str, float]],
              protocols: dict[str, dict[str, Any]] | None = None) -> Table:
    """One row per protocol: every STS task in points, then the unweighted average."""
    columns = sts_columns(scores)
    table = Table(title=title, title_justify="left")
    table.add_column("protocol", style="bold")
    for task in columns:
        table.add_column(DISPLAY_NAMES[task], justify="right")
    table.add_column("Avg.", justify="right", style="bold")
    for key, row in scores.items():
        cells = [f"{row[t]:.2f}" if t in row else "-" for t in columns]
        table.add_row(key, *cells, f"{row['avg']:.2f}" if "avg" in row else "-")
    return table


def print_table(table: Table) -> None:
    Console().print(table)
