"""The paper's table layout (STS12 ... SICK-R, Avg.; MR ... MRPC, Avg.) for a run report.

A report may come from anyone: its model name, task names and protocol keys reach the
terminal as rich ``Text`` (never markup) with controls escaped (``bench.textsafe``)."""

from __future__ import annotations

import io
import math

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.results import RunReport
from bench.tasks.registry import find
from bench.textsafe import printable


def _label(task: str) -> Text:
    meta = find(task)
    return Text(meta.label if meta else printable(task))


def _text(text: object) -> Text:
    """A file-given string as a table title or cell: plain text, controls escaped."""
    return Text(printable(text))


def sts_table(title: str, report: RunReport) -> Table | None:
    """One row per protocol: every STS task in points, then the unweighted average."""
    if not report.scores:
        return None
    columns = list(report.sts_tasks())
    table = Table(title=_text(title), title_justify="left")
    table.add_column("protocol", style="bold", no_wrap=True)
    for task in columns:
        table.add_column(_label(task), justify="right")
    table.add_column("Avg.", justify="right", style="bold")
    for scores in report.scores:
        cells = [f"{scores.values[t]:.2f}" if t in scores.values else "-" for t in columns]
        avg = f"{scores.average.value:.2f}" if scores.average else "-"
        table.add_row(_text(scores.protocol.key), *cells, avg)
    return table


def transfer_table(title: str, report: RunReport) -> Table | None:
    """SimCSE Table E.1's layout: test accuracy, dev accuracy and MRPC's F1 per task."""
    results = {k: t.transfer for k, t in report.transfer_tasks().items()}
    if not results:
        return None
    table = Table(title=_text(title), title_justify="left")
    table.add_column("", style="bold")
    table.add_column("protocol", no_wrap=True)
    key = report.transfer_protocol.key if report.transfer_protocol else "unknown"
    for task in results:
        table.add_column(_label(task), justify="right")
    table.add_column("Avg.", justify="right", style="bold")
    for what in ("acc", "devacc", "f1"):
        values = [getattr(r, what) for r in results.values()]
        if all(v is None for v in values):
            continue
        cells = [f"{v:.2f}" if v is not None else "-" for v in values]
        avg = "-"
        if what == "acc" and report.transfer_average is not None:
            avg = f"{report.transfer_average.value:.2f}"
        elif what == "devacc":
            avg = f"{sum(values) / len(values):.2f}"
        table.add_row(what, _text(key), *cells, avg)
    return table


def seed_tables(title: str, report: RunReport) -> list[Table]:
    """A multi-seed report: per protocol, each seed's row, then mean, sd and the pooled
    seed-and-test-set interval (bench.seeds)."""
    section = report.seeds
    if section is None:
        return []
    out = []
    for key, stats in section.summary.items():
        table = Table(title=_text(f"{title}: {key} over seeds"), title_justify="left")
        table.add_column("", style="bold", no_wrap=True)
        columns = list(stats)
        for task in columns:
            table.add_column("Avg." if task == "avg" else _label(task), justify="right")
        for i, seed in enumerate(section.seeds):
            table.add_row(f"seed {seed}", *[f"{stats[t].values[i]:.2f}" for t in columns])
        table.add_row("mean", *[f"{stats[t].mean:.2f}" for t in columns])
        table.add_row("sd", *[f"{stats[t].sd:.2f}" for t in columns])
        if any(stats[t].ci for t in columns):
            table.add_row("95% CI", *[f"[{stats[t].ci[0]:.2f}, {stats[t].ci[1]:.2f}]"
                                      if stats[t].ci else "-" for t in columns])
        out.append(table)
    return out


def report_tables(report: RunReport, title: str | None = None) -> list[Table]:
    name = title or report.model.name
    t = report.timings
    head = (f"{name}  (encoded {t.get('sentences_encoded', 0)}, cached "
            f"{t.get('sentences_cached', 0)}, {t.get('total_s', 0):.1f} s)")
    out = [sts_table(head, report)]
    if report.transfer_tasks():
        proto = report.transfer_protocol
        setting = proto.describe() if proto else "unknown protocol"
        out.append(transfer_table(f"{name} transfer (protocol {setting}, "
                                  f"{t.get('transfer_s', 0):.1f} s)", report))
    out += seed_tables(name, report)
    return [x for x in out if x is not None]


def tables_text(tables: list[Table], width: int = 160) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    for table in tables:
        console.print(table)
    return buffer.getvalue()


def table(report: RunReport, title: str | None = None) -> str:
    """The paper-style tables of ``report`` as text (what ``bench run`` prints);
    ``bench.table(report)``."""
    return tables_text(report_tables(report, title))


def print_table(table: Table) -> None:
    """Print at least 120 columns wide, so a piped table is not squeezed to 80."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 120))
    console.print(table)


def footer_lines(report: RunReport) -> list[str]:
    """What the numbers above cannot show: unverified data, zero vectors, undefined values."""
    lines = []
    status = report.data.get("status", {})
    unverified = {k: v for k, v in status.items() if v != "verified"}
    if unverified:
        kinds = sorted(set(unverified.values()))
        first = next(iter(unverified))
        lines.append(f"data: UNVERIFIED, {len(unverified)} of {len(status)} files not checked "
                     f"against the manifest or differing from it ({', '.join(kinds)}; first: "
                     f"{first}); numbers may not be comparable with published ones")
    zero = report.run.get("zero_vectors", 0)
    if zero:
        unique = report.timings.get("sentences_unique", "?")
        lines.append(f"zero vectors: {zero} of {unique} distinct sentences (no known word); "
                     "their cosine counts as 0, as in SentEval")
    undefined = [f"{s.protocol.key}/{task}" for s in report.scores
                 for task, v in s.values.items() if isinstance(v, float) and math.isnan(v)]
    if undefined:
        lines.append(f"nan: {len(undefined)} value(s) undefined (constant similarities), e.g. "
                     f"{undefined[0]}; stored as null in the report")
    return [printable(line) for line in lines]
