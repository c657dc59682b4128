"""Tables as text: rich for the terminal, Markdown and LaTeX via tabulate, CSV via pandas.

Model names, sources, task names and notes come from report files: every format shows them
through ``bench.textsafe`` (controls escaped; Markdown cells escaped), and the terminal table
takes them as rich ``Text``, never as markup."""

from __future__ import annotations

import io
import json
import math
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text
from tabulate import tabulate

from bench.compare.tables import Cell, Table
from bench.textsafe import md_cell, printable

FORMATS = ("terminal", "md", "latex", "csv", "json")
_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                  "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "\\": r"\textbackslash{}"}


def _number(value: float, column: str) -> str:
    if column.startswith("p "):
        return "<0.001" if value < 0.001 else f"{value:.3f}"
    if column == "n pairs":
        return str(int(value))
    return f"{value:+.2f}" if column == "Delta" else f"{value:.2f}"


def cell_text(cell: Cell, column: str, fmt: str) -> str:
    """One cell as text; an interval follows the number in brackets."""
    value = cell.value
    if value is None:  # not computed / not in the report
        return "-"
    if isinstance(value, str):
        return _text(value, fmt)
    if isinstance(value, float) and math.isnan(value):  # computed, but not a number
        return "nan"
    text = _number(float(value), column)
    if cell.mark:
        text += "$^\\dagger$" if fmt == "latex" else "\u2020"
    if cell.ci is not None and not any(math.isnan(c) for c in cell.ci):
        lo, hi = (_number(c, column) for c in cell.ci)
        text += (f"\\,{{\\scriptsize[{lo}, {hi}]}}" if fmt == "latex" else f" [{lo}, {hi}]")
    if cell.bold:
        text = {"md": f"**{text}**", "latex": f"\\textbf{{{text}}}"}.get(fmt, text)
    return text


def _text(text: str, fmt: str) -> str:
    """A file-given string in ``fmt``: escaped for LaTeX or a Markdown cell, else printable."""
    if fmt == "latex":
        return latex_escape(text)
    return md_cell(text) if fmt == "md" else printable(text)


def latex_escape(text: str) -> str:
    """Escape LaTeX specials; keep command-line dashes as typed and typeset "x 100" as a times."""
    out = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in printable(text))
    return out.replace("--", "-{}-").replace(" x 100", " $\\times$ 100")


def _body(table: Table, fmt: str) -> list[list[str]]:
    return [[cell_text(c, col, fmt) for c, col in zip(row, table.columns)] for row in table.rows]


def to_markdown(table: Table) -> str:
    align = ["left"] * table.label_columns + ["right"] * (len(table.columns) - table.label_columns)
    body = tabulate(_body(table, "md"), headers=[md_cell(c) for c in table.columns],
                    tablefmt="pipe", colalign=align, disable_numparse=True)
    notes = "".join(f"\n- {md_cell(n)}" for n in table.notes)
    return f"**{md_cell(table.title)}**\n\n{body}\n{notes}\n"


def to_latex(table: Table) -> str:
    align = ["left"] * table.label_columns + ["right"] * (len(table.columns) - table.label_columns)
    headers = [latex_escape(c) for c in table.columns]
    body = tabulate(_body(table, "latex"), headers=headers, tablefmt="latex_raw", colalign=align,
                    disable_numparse=True)
    caption = latex_escape(table.title + ". " + " ".join(n.rstrip(".") + "." for n in table.notes))
    return ("\\begin{table*}[t]\n\\centering\\small\n" + body
            + f"\n\\caption{{{caption}}}\n\\end{{table*}}\n")


def to_rich(table: Table) -> RichTable:
    # Text, not markup: a note such as "[lo, hi]: ..." must print as written
    out = RichTable(title=Text(printable(table.title)), title_justify="left",
                    caption=Text("\n".join(printable(n) for n in table.notes)),
                    caption_justify="left")
    for i, col in enumerate(table.columns):
        out.add_column(Text(printable(col)), justify="left" if i < table.label_columns else "right",
                       style="bold" if i == 0 else None)
    for row in table.rows:
        out.add_row(*[Text(cell_text(c, col, "plain"), style="bold green" if c.bold else "")
                      for c, col in zip(row, table.columns)])
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON, as bench's reports store an undefined number
    return value


def to_json(tables: list[Table]) -> str:
    """Every table with its cells as numbers (an interval as [lo, hi]) and its structured
    extras (``Table.data``: the protocol-robust summary)."""
    out = []
    for t in tables:
        rows = [{col: ({"value": _json_value(c.value),
                        "ci": [_json_value(x) for x in c.ci]} if c.ci else _json_value(c.value))
                 for col, c in zip(t.columns, row)} for row in t.rows]
        out.append({"title": t.title, "columns": t.columns, "rows": rows, "notes": t.notes,
                    **t.data})
    data = {"tables": out}
    for t in tables:
        data.update(t.data)
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def render(tables: list[Table], fmt: str) -> str:
    """All tables in one format as one string (CSV: the caller passes a single table)."""
    if fmt == "json":
        return to_json(tables)
    if fmt == "md":
        return "\n".join(to_markdown(t) for t in tables)
    if fmt == "latex":
        return "\n".join(to_latex(t) for t in tables)
    if fmt == "csv":
        buf = io.StringIO()
        frame = tables[0].frame()
        frame.columns = [printable(c) for c in frame.columns]
        frame.map(lambda v: printable(v) if isinstance(v, str) else v).to_csv(buf, index=False)
        return buf.getvalue()
    console = Console(record=True, width=240, file=io.StringIO())
    print_terminal(tables, console)
    return console.export_text()


def print_terminal(tables: list[Table], console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:
            console.width = 240  # piped: never squeeze the table to 80 columns
    for t in tables:
        console.print(to_rich(t))
