"""The paper's table layout (STS12 ... SICK-R, Avg.) for the terminal (rich)."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.data.sts import DISPLAY_NAMES, STS_TASKS
from bench.tasks.transfer import DISPLAY_NAMES as TRANSFER_NAMES
from bench.tasks.transfer import TRANSFER_TASKS


def sts_columns(scores: dict[str, dict[str, float]]) -> list[str]:
    present = {t for row in scores.values() for t in row}
    return [t for t in STS_TASKS if t in present]


def sts_table(title: str, scores: dict[str, dict[str, float]],
              protocols: dict[str, dict[str, Any]] | None = None) -> Table:
    """One row per protocol: every STS task in points, then the unweighted average."""
    columns = sts_columns(scores)
    table = Table(title=title, title_justify="left")
    table.add_column("protocol", style="bold", no_wrap=True)
    for task in columns:
        table.add_column(DISPLAY_NAMES[task], justify="right")
    table.add_column("Avg.", justify="right", style="bold")
    for key, row in scores.items():
        cells = [f"{row[t]:.2f}" if t in row else "-" for t in columns]
        table.add_row(key, *cells, f"{row['avg']:.2f}" if "avg" in row else "-")
    return table


def transfer_table(title: str, transfer: dict[str, dict[str, Any]]) -> Table:
    """SimCSE Table E.1's layout: MR ... MRPC, Avg. (test accuracy); devacc and MRPC F1 below."""
    columns = [t for t in TRANSFER_TASKS if t in transfer]
    table = Table(title=title, title_justify="left")
    table.add_column("", style="bold")
    for task in columns:
        table.add_column(TRANSFER_NAMES[task], justify="right")
    table.add_column("Avg.", justify="right", style="bold")
    for key in ("acc", "devacc", "f1"):
        if not any(key in transfer[t] for t in columns):
            continue
        values = [transfer[t].get(key) for t in columns]
        cells = [f"{v:.2f}" if v is not None else "-" for v in values]
        avg = "-"
        if key != "f1" and all(v is not None for v in values):
            avg = f"{sum(values) / len(values):.2f}"
        table.add_row(key, *cells, avg)
    return table


def print_table(table: Table) -> None:
    """Print at least 120 columns wide, so a piped table is not squeezed to 80."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 120))
    console.print(table)


def footer_lines(report: dict[str, Any]) -> list[str]:
    """What the numbers above cannot show: unverified data, zero vectors, undefined values."""
    lines = []
    data = report.get("data", {})
    status = data.get("status", {})
    unverified = {k: v for k, v in status.items() if v != "verified"}
    if unverified:
        kinds = sorted(set(unverified.values()))
        first = next(iter(unverified))
        lines.append(f"data: UNVERIFIED, {len(unverified)} of {len(status)} files not checked "
                     f"against the manifest or differing from it ({', '.join(kinds)}; first: "
                     f"{first}); numbers may not be comparable with published ones")
    zero = report.get("run", {}).get("zero_vectors", 0)
    if zero:
        unique = report.get("timings", {}).get("sentences_unique", "?")
        lines.append(f"zero vectors: {zero} of {unique} distinct sentences (no known word); "
                     "their cosine counts as 0, as in SentEval")
    undefined = [f"{key}/{task}" for key, row in report.get("scores", {}).items()
                 for task, v in row.items() if isinstance(v, float) and math.isnan(v)]
    if undefined:
        lines.append(f"nan: {len(undefined)} value(s) undefined (constant similarities), e.g. "
                     f"{undefined[0]}; stored as null in the report")
    return lines
