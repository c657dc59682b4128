"""Every output format of a ``bench.tablemodel.Table``, in one place: rich for the terminal,
Markdown and LaTeX via tabulate, CSV via pandas, JSON, and HTML for the report page.

Model names, sources, task names and notes come from report files: every format shows them
through ``bench.textsafe`` (controls escaped; Markdown cells escaped; HTML escaped, quotes
too), and the terminal table takes them as rich ``Text``, never as markup."""

from __future__ import annotations

import html
import io
import json
import math
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text
from tabulate import tabulate

from bench.tablemodel import Cell, Table
from bench.textsafe import md_cell, printable

FORMATS = ("terminal", "md", "latex", "csv", "json")  # what --format offers (html: the page)
_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                  "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "\\": r"\textbackslash{}"}
MIN_PIPED_WIDTH = 120  # a piped table is not squeezed to the 80 columns rich assumes


def number(value: float, column: str, spec: str | None = None) -> str:
    """A number as its column prints it: ``spec`` (``Table.formats``) if given, else by the
    heading: p-values to 3 decimals, pair counts whole, Delta signed, points to 2 decimals."""
    spec = spec or ("p" if column.startswith("p ") else "count" if column == "n pairs"
                    else "+.2f" if column == "Delta" else ".2f")
    if spec == "p":
        return "<0.001" if value < 0.001 else f"{value:.3f}"
    if spec == "count":
        return str(int(value))
    return format(value, spec)


def _interval(ci: tuple[float, float] | None, column: str, spec: str | None) -> str | None:
    """``[lo, hi]``, or None for no interval (or an undefined one)."""
    if ci is None or any(math.isnan(c) for c in ci):
        return None
    lo, hi = (number(c, column, spec) for c in ci)
    return f"[{lo}, {hi}]"


def cell_text(cell: Cell, column: str, fmt: str, spec: str | None = None) -> str:
    """One cell as text; an interval follows the number in brackets (a cell with only an
    interval, such as a seed-and-test-set interval row, is the interval)."""
    value = cell.value
    if isinstance(value, str):
        return _text(value, fmt)
    interval = _interval(cell.ci, column, spec)
    if value is None:  # not computed / not in the report
        return interval or "-"
    if isinstance(value, float) and math.isnan(value):  # computed, but not a number
        return "nan"
    text = number(float(value), column, spec)
    if cell.mark:
        text += "$^\\dagger$" if fmt == "latex" else "\u2020"
    if cell.flag:
        text += f"$^{{{latex_escape(cell.flag)}}}$" if fmt == "latex" else cell.flag
    if interval is not None:
        text += (f"\\,{{\\scriptsize{interval}}}" if fmt == "latex" else f" {interval}")
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
    return [[cell_text(c, col, fmt, table.formats.get(col)) for c, col in zip(row, table.columns)]
            for row in table.rows]


def _align(table: Table) -> list[str]:
    return ["left"] * table.label_columns + ["right"] * (len(table.columns) - table.label_columns)


def to_markdown(table: Table) -> str:
    body = tabulate(_body(table, "md"), headers=[md_cell(c) for c in table.columns],
                    tablefmt="pipe", colalign=_align(table), disable_numparse=True)
    notes = "".join(f"\n- {md_cell(n)}" for n in table.notes)
    return f"**{md_cell(table.title)}**\n\n{body}\n{notes}\n"


def to_latex(table: Table) -> str:
    headers = [latex_escape(c) for c in table.columns]
    body = tabulate(_body(table, "latex"), headers=headers, tablefmt="latex_raw",
                    colalign=_align(table), disable_numparse=True)
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
        out.add_row(*[Text(cell_text(c, col, "plain", table.formats.get(col)),
                           style="bold green" if c.bold else "")
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


def to_csv(table: Table) -> str:
    buf = io.StringIO()
    frame = table.frame()
    frame.columns = [printable(c) for c in frame.columns]
    frame.map(lambda v: printable(v) if isinstance(v, str) else v).to_csv(buf, index=False)
    return buf.getvalue()


def esc(text: object) -> str:
    """File-given text for HTML: controls and bidi overrides shown as escapes, then
    HTML-escaped (quotes too: the text also goes into attribute values)."""
    return html.escape(printable(text))


def _html_cell(cell: Cell, column: str, spec: str | None) -> str:
    """A number cell: its text in ``.v``, a flag as a superscript, the interval in ``.ci``;
    ``Cell.attrs`` become data-* attributes, ``Cell.flag_title`` the tooltip."""
    interval = _interval(cell.ci, column, spec)
    if cell.value is None:  # an interval alone (a seed summary's row) is the cell's value
        value, interval = interval or "-", None
    else:
        value = cell_text(Cell(cell.value, mark=cell.mark), column, "plain", spec)
    ci = f" <span class='ci'>{esc(interval)}</span>" if interval else ""
    title = f" title='{esc(cell.flag_title)}'" if cell.flag_title else ""
    flag = f"<sup class='sig'{title}>{esc(cell.flag)}</sup>" if cell.flag else ""
    attrs = "".join(f' data-{esc(k)}="{esc(v)}"' for k, v in cell.attrs.items())
    cls = "num bold" if cell.bold else "num"
    return f"<td class='{cls}'{attrs}><span class='v'>{esc(value)}</span>{flag}{ci}</td>"


def to_html(table: Table) -> str:
    """The table as an HTML fragment (title, table, notes), styled by the page's CSS."""
    head = "".join(f"<th class='label'>{esc(c)}</th>" if i < table.label_columns
                   else f"<th>{esc(c)}</th>" for i, c in enumerate(table.columns))
    rows = []
    for cells in table.rows:
        tds = []
        for i, (cell, col) in enumerate(zip(cells, table.columns)):
            spec = table.formats.get(col)
            if i < table.label_columns or isinstance(cell.value, str) or (
                    cell.value is None and cell.ci is None):
                tds.append(f"<td class='label'>{esc(cell_text(cell, col, 'plain', spec))}</td>")
            else:
                tds.append(_html_cell(cell, col, spec))
        rows.append("<tr>" + "".join(tds) + "</tr>")
    title = f"<p><b>{esc(table.title)}</b></p>" if table.title else ""
    notes = "".join(f"<li>{esc(n)}</li>" for n in table.notes)
    return (f"{title}<div class='wide'><table><thead><tr>{head}</tr></thead><tbody>"
            f"{''.join(rows)}</tbody></table></div>"
            + (f"<ul class='notes'>{notes}</ul>" if notes else ""))


def tables_text(tables: list[Table], width: int = 160) -> str:
    """The tables as plain terminal text (no colour), ``width`` columns wide at most."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    for table in tables:
        console.print(to_rich(table))
    return buffer.getvalue()


def terminal_width() -> int:
    """The terminal's width, or at least ``MIN_PIPED_WIDTH`` when stdout is not a terminal."""
    console = Console()
    return console.width if console.is_terminal else max(console.width, MIN_PIPED_WIDTH)


def render(tables: list[Table], fmt: str, width: int = 240) -> str:
    """All tables in one format as one string (CSV holds one table: the first; ``width``:
    the terminal format's)."""
    if fmt == "json":
        return to_json(tables)
    if fmt == "md":
        return "\n".join(to_markdown(t) for t in tables)
    if fmt == "latex":
        return "\n".join(to_latex(t) for t in tables)
    if fmt == "csv":
        return to_csv(tables[0])
    if fmt == "html":
        return "\n".join(to_html(t) for t in tables)
    if fmt == "terminal":
        return tables_text(tables, width)
    raise ValueError(f"unknown table format {fmt!r}; one of {', '.join(FORMATS)}, html")


def print_terminal(tables: list[Table], console: Console | None = None) -> None:
    """Print in colour to a terminal (bold best numbers); piped: 240 columns, never 80."""
    if console is None:
        console = Console()
        if not console.is_terminal:
            console.width = 240  # piped: never squeeze the table to 80 columns
    for t in tables:
        console.print(to_rich(t))
