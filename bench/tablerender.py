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
import re
import sys
import textwrap
from typing import Any

from rich.cells import cell_len
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
    spec = _spec(column, spec)
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


def text_columns(table: Table) -> set[int]:
    """Columns after the label columns whose every cell is a text (the sentences of ``bench
    neighbors``): left-aligned like the labels, and wrapped between words on a terminal."""
    return {i for i in range(table.label_columns, len(table.columns))
            if table.rows and all(isinstance(r[i].value, str) for r in table.rows)}


def _align(table: Table) -> list[str]:
    text = text_columns(table)
    return ["left" if i < table.label_columns or i in text else "right"
            for i in range(len(table.columns))]


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


def _spec(column: str, spec: str | None) -> str:
    return spec or ("p" if column.startswith("p ") else "count" if column == "n pairs"
                    else "+.2f" if column == "Delta" else ".2f")


def compact_interval(ci: tuple[float, float] | None, column: str, spec: str | None
                     ) -> str | None:
    """The narrow form of an interval, ``[77.7,80.1]``: no blank, and one decimal fewer for
    a fixed-point column (its number itself keeps every decimal); None for no interval."""
    if ci is None or any(math.isnan(c) for c in ci):
        return None
    full = _spec(column, spec)
    short = re.sub(r"\.(\d+)f$", lambda m: f".{max(int(m.group(1)) - 1, 0)}f", full)
    lo, hi = (number(c, column, short) for c in ci)
    return f"[{lo},{hi}]"


# ------------------------------------------------------------------ terminal and piped text
# Rules (issue 26): a label column with one value on every row moves into the caption; no
# label (a model name) and no heading is ever cut; intervals take a narrower form, then a
# second line in the cell, then the number columns split over several tables, rather than
# wrap; piped output is plain text at its natural width (no box drawing, no wrapping).

def terminal_view(table: Table) -> Table:
    """``table`` with every label column after the first whose text is the same on every row
    moved into the notes (``Protocol: all-spearman``)."""
    if not table.rows:
        return table
    keep = []
    moved = []
    for i, col in enumerate(table.columns):
        values = {c.value if isinstance(c.value, str) else None for c in (r[i] for r in table.rows)}
        constant = (0 < i < table.label_columns and col.strip() and len(values) == 1
                    and None not in values)
        if constant:
            moved.append(f"{col}: {next(iter(values))}")
        else:
            keep.append(i)
    if not moved:
        return table
    rows = [[r[i] for i in keep] for r in table.rows]
    return Table(table.title, [table.columns[i] for i in keep], rows, [*moved, *table.notes],
                 table.label_columns - len(moved), table.data, table.formats)


def _cell_lines(cell: Cell, column: str, spec: str | None, level: int) -> str:
    """A cell's terminal text at compaction ``level``: 0 as every format, 1 the compact
    interval, 2 the compact interval on a second line."""
    if level == 0 or cell.ci is None or isinstance(cell.value, str):
        return cell_text(cell, column, "plain", spec)
    interval = compact_interval(cell.ci, column, spec)
    head = cell_text(Cell(cell.value, None, mark=cell.mark, flag=cell.flag), column, "plain",
                     spec)
    if cell.value is None:
        return interval or head
    if interval is None:
        return head
    return f"{head}\n{interval}" if level == 2 else f"{head} {interval}"


def _grid(table: Table, level: int) -> list[list[str]]:
    return [[printable(c.value) if i < table.label_columns and isinstance(c.value, str)
             else _cell_lines(c, col, table.formats.get(col), level)
             for i, (c, col) in enumerate(zip(row, table.columns))] for row in table.rows]


def _widths(table: Table, grid: list[list[str]]) -> list[int]:
    return [max([cell_len(printable(col))]
                + [cell_len(line) for row in grid for line in row[i].split("\n")])
            for i, col in enumerate(table.columns)]


def _boxed_width(widths: list[int], edge: bool = True) -> int:
    """The width rich's boxed table takes: each column padded by one blank a side, plus one
    rule between the columns and, with ``edge``, one at each side."""
    return sum(w + 2 for w in widths) + len(widths) - 1 + (2 if edge else 0)


def _chunks(widths: list[int], labels: int, width: int) -> list[list[int]]:
    """The number columns split into as few runs as fit ``width`` beside the label columns
    (at least one number column per run), balanced so that no run is a lone leftover."""
    base = _boxed_width(widths[:labels], edge=False)
    numbers = list(range(labels, len(widths)))

    def fits(run: list[int]) -> bool:
        return len(run) == 1 or base + sum(widths[i] + 3 for i in run) <= width

    for count in range(1, len(numbers) + 1):
        size = -(-len(numbers) // count)
        runs = [numbers[i:i + size] for i in range(0, len(numbers), size)]
        if all(fits(r) for r in runs):
            return runs
    return [[i] for i in numbers]


def _rich(table: Table, grid: list[list[str]], widths: list[int], columns: list[int],
          edge: bool = True) -> RichTable:
    out = RichTable(show_edge=edge)
    text = text_columns(table)
    for i in columns:
        col = table.columns[i]
        if i in text:  # sentences wrap between words (a word longer than the column folds)
            out.add_column(Text(printable(col)), justify="left", overflow="fold")
            continue
        out.add_column(Text(printable(col)), justify="left" if i < table.label_columns
                       else "right", style="bold" if i == 0 else None, no_wrap=True,
                       width=widths[i])
    for row, cells in zip(table.rows, grid):
        out.add_row(*[Text(cells[i], style="bold green" if row[i].bold else "")
                      for i in columns])
    return out


_UNIT = re.compile(r"(?<=\d) (?=(?:s|ms|%|MiB|GiB)\b)")


def wrap(text: str, width: int) -> list[str]:
    """A title or note wrapped at word boundaries, never inside a word nor between a number
    and its unit (``14.2 s``); a word longer than the width stays whole."""
    glued = _UNIT.sub("\x00", printable(text))
    lines = textwrap.wrap(glued, max(width, 20), break_long_words=False,
                          break_on_hyphens=False) or [""]
    return [line.replace("\x00", " ") for line in lines]


COMPACT_NOTE = ("intervals to one decimal fewer to fit {width} columns (full in --format md, "
                "json, csv or piped output)")


def fitted(table: Table, width: int) -> list[RichTable]:
    """The boxed terminal form of ``table`` within ``width`` columns when it can be: the
    first compaction level (and then without the outer rules) that fits, else the number
    columns split over several tables."""
    return _fit(table, width)[0]


def _fit(table: Table, width: int) -> tuple[list[RichTable], int]:
    """``fitted``'s tables and the compaction level they use."""
    view = terminal_view(table)
    everything = list(range(len(view.columns)))
    if text_columns(view):  # rich shares the width out among the wrapping text columns
        return [_rich(view, _grid(view, 0), _widths(view, _grid(view, 0)), everything)], 0
    levels = (0, 1, 2) if any(c.ci for r in view.rows for c in r) else (0,)
    for level in levels:
        grid = _grid(view, level)
        widths = _widths(view, grid)
        for edge in (True, False):
            if _boxed_width(widths, edge) <= width:
                return [_rich(view, grid, widths, everything, edge)], level
    labels = list(range(view.label_columns))
    return [_rich(view, grid, widths, labels + chunk, edge=False)
            for chunk in _chunks(widths, view.label_columns, width)], level


def to_rich(table: Table, width: int = 240) -> RichTable:
    """The first boxed table of ``fitted`` (title and notes are printed apart, wrapped by
    ``wrap``)."""
    return fitted(table, width)[0]


def boxed_text(tables: list[Table], width: int, console: Console | None = None) -> str | None:
    """Tables boxed and fitted to ``width``, each with its title above and notes below, wrapped
    at word boundaries; printed on ``console`` (colour) when given, else returned as text."""
    buffer = io.StringIO()
    out = console or Console(file=buffer, width=width, force_terminal=False, color_system=None)
    for table in tables:
        view = terminal_view(table)
        if table.title:
            out.print(Text("\n".join(wrap(table.title, width))), soft_wrap=True)
        parts, level = _fit(table, width)
        for part in parts:
            need = _boxed_width([c.width or 8 for c in part.columns], part.show_edge)
            out.print(part, width=max(width, need), crop=False)
        notes = [*view.notes, *([COMPACT_NOTE.format(width=width)] if level else [])]
        if notes:
            out.print(Text("\n".join(line for n in notes for line in wrap(n, width))),
                      soft_wrap=True)
    return None if console else buffer.getvalue()


def plain_text(tables: list[Table]) -> str:
    """Piped output: each table as plain aligned columns at its natural width (no box drawing,
    no wrapping: one row is one line, for grep and cut), its title above, its notes below."""
    parts = []
    for table in tables:
        view = terminal_view(table)
        body = tabulate(_grid(view, 0), headers=[printable(c) for c in view.columns],
                        tablefmt="simple", colalign=_align(view), disable_numparse=True)
        lines = ([printable(view.title)] if view.title else []) + [body]
        lines += [printable(n) for n in view.notes]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


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
    text = text_columns(table)
    head = "".join(f"<th class='label'>{esc(c)}</th>" if i < table.label_columns or i in text
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


def tables_text(tables: list[Table], width: int = 160, plain: bool = False) -> str:
    """The tables as terminal text (no colour), boxed and fitted to ``width`` columns, or
    ``plain`` (what piped output prints)."""
    return plain_text(tables) if plain else boxed_text(tables, width) or ""


def stdout_is_terminal() -> bool:
    return Console().is_terminal


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
    if fmt == "plain":
        return plain_text(tables)
    raise ValueError(f"unknown table format {fmt!r}; one of {', '.join(FORMATS)}, html")


def print_terminal(tables: list[Table], console: Console | None = None) -> None:
    """Print in colour to a terminal, fitted to its width (bold best numbers); piped: plain
    text at its natural width."""
    if console is None:
        console = Console()
        if not console.is_terminal:
            sys.stdout.write(plain_text(tables))
            return
    boxed_text(tables, console.width, console)
