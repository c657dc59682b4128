"""The paper's table layout (STS12 ... SICK-R, Avg.; MR ... MRPC, Avg.) for a run report, as
``bench.tablemodel.Table`` objects, so ``bench run`` prints any format ``bench compare`` does
(``report_text``) and the HTML page shows the same seed summary.

A report may come from anyone: its model name, task names and protocol keys reach every
format through the renderers' escaping (``bench.tablerender``), never as markup."""

from __future__ import annotations

import math

from bench.compare.tables import label, report_family_tables
from bench.results import RunReport
from bench.tablemodel import Cell, Table
from bench.tablerender import render, stdout_is_terminal, tables_text, terminal_width
from bench.textsafe import printable

__all__ = ["footer_lines", "print_table", "report_tables", "report_text", "seed_tables", "sts_table",
           "table", "tables_text", "transfer_table"]


def _points(value: float | None) -> Cell:
    return Cell(None if value is None else float(value))


def sts_table(title: str, report: RunReport) -> Table | None:
    """One row per protocol: every STS task in points, then the unweighted average."""
    if not report.scores:
        return None
    columns = list(report.sts_tasks())
    rows = []
    for scores in report.scores:
        avg = scores.average.value if scores.average else None
        rows.append([Cell(scores.protocol.key), *[_points(scores.values.get(t)) for t in columns],
                     _points(avg)])
    headings = ["protocol", *[label(t) for t in columns], "Avg."]
    return _table(title, headings, rows, label_columns=1)


def _table(title: str, columns: list[str], rows: list[list[Cell]], label_columns: int
           ) -> Table:
    """A run table: every number column in points, 2 decimals, whatever its heading."""
    return Table(title, columns, rows, label_columns=label_columns,
                 formats={c: ".2f" for c in columns[label_columns:]})


def transfer_table(title: str, report: RunReport) -> Table | None:
    """SimCSE Table E.1's layout: test accuracy, dev accuracy and MRPC's F1 per task."""
    results = {k: t.transfer for k, t in report.transfer_tasks().items()}
    if not results:
        return None
    key = report.transfer_protocol.key if report.transfer_protocol else "unknown"
    rows = []
    for what in ("acc", "devacc", "f1"):
        values = [getattr(r, what) for r in results.values()]
        if all(v is None for v in values):
            continue
        avg = None
        if what == "acc" and report.transfer_average is not None:
            avg = report.transfer_average.value
        elif what == "devacc":
            avg = sum(values) / len(values)
        rows.append([Cell(what), Cell(key), *[_points(v) for v in values], _points(avg)])
    return _table(title, ["", "protocol", *[label(t) for t in results], "Avg."], rows, 2)


def seed_tables(title: str, report: RunReport) -> list[Table]:
    """A multi-seed report: per protocol, each seed's row, then mean, sd and the pooled
    seed-and-test-set interval (bench.seeds). The one seed summary: ``bench run`` prints it,
    the HTML page shows it."""
    section = report.seeds
    if section is None:
        return []
    out = []
    for key, stats in section.summary.items():
        columns = list(stats)
        rows = [[Cell(f"seed {seed}"), *[_points(stats[t].values[i]) for t in columns]]
                for i, seed in enumerate(section.seeds)]
        rows.append([Cell("mean"), *[_points(stats[t].mean) for t in columns]])
        rows.append([Cell("sd"), *[_points(stats[t].sd) for t in columns]])
        if any(stats[t].ci for t in columns):
            rows.append([Cell("95% CI"), *[Cell(None, tuple(stats[t].ci) if stats[t].ci
                                                else None) for t in columns]])
        headings = ["", *["Avg." if t == "avg" else label(t) for t in columns]]
        out.append(_table(f"{title}: {key} over seeds", headings, rows, 1))
    return out


def report_tables(report: RunReport, title: str | None = None) -> list[Table]:
    """Every table of a run report: STS, transfer, then the seed summaries."""
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
    out += report_family_tables(report)  # registered families beyond STS and transfer
    out += seed_tables(name, report)
    return [x for x in out if x is not None]


def report_text(report: RunReport, fmt: str = "terminal", title: str | None = None,
                width: int | None = None) -> str:
    """What ``bench run --format FMT`` prints: the run's tables in ``fmt`` (terminal, md,
    latex, csv: the first table, json, html). ``title``: the model as named on the command
    line (default: as the report requested it); ``width``: the terminal format's (default:
    the terminal's, at least 120 columns when piped). The footer lines are apart
    (``footer_lines``), so a json or csv output stays one parseable document."""
    tables = report_tables(report, title or report.model.requested or report.model.name)
    if fmt == "terminal" and width is None and not stdout_is_terminal():
        fmt = "plain"
    return render(tables, fmt, width or terminal_width())


def table(report: RunReport, title: str | None = None) -> str:
    """The paper-style tables of ``report`` as text (what ``bench run`` prints);
    ``bench.table(report)``."""
    return tables_text(report_tables(report, title))


def print_table(table: Table) -> None:
    """Print one table fitted to the terminal's width (piped: plain, at its natural width)."""
    print(tables_text([table], terminal_width(), plain=not stdout_is_terminal()), end="")


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
