"""One self-contained HTML page from a set of reports (``bench report ... --html``).

Everything is inline (CSS, a few lines of JavaScript, plots as base64 PNG), so the page opens
from a file with no network. It holds, for every STS protocol the reports can show: the
paper-style table with 95% intervals and significance marks (each row against the first;
one family over every protocol and task tested, corrected as ``--correction`` says); a
protocol switcher that shows one protocol's table at a time; the protocol-robust summary;
the transfer table; and the plots of the analysis reports among the inputs. The numbers come
from the same functions as ``bench compare`` (rows, guard, uncertainty, seed tests), so the
page and the terminal table never disagree.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.analysis_report import AnalysisReport
from bench.compare.guard import place, place_transfer
from bench.compare.render import cell_text
from bench.compare.rows import Row
from bench.compare.seedtests import apply_correction, seed_tests, seed_values
from bench.compare.sensitivity import _key_order, by_model, robust_table
from bench.compare.stats import CORRECTIONS
from bench.compare.tables import Table, sts_table, transfer_table
from bench.compare.uncertainty import paired_tests, row_intervals, same_pairs
from bench.errors import warn
from bench.pathsafe import is_name, show
from bench.protocols import Protocol, parse_one
from bench.tasks.registry import ordered
from bench.textsafe import printable

ALPHA = 0.05


def _esc(text: object) -> str:
    """File-given text for the page: controls and bidi overrides shown as escapes, then
    HTML-escaped (quotes too: the text also goes into attribute values)."""
    return html.escape(printable(text))

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:80em}
table{border-collapse:collapse;margin:.5em 0 1em}
th,td{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th.label,td.label{text-align:left}
.wide{overflow-x:auto}
td.bold .v{font-weight:bold}
.ci{color:#777;font-size:.8em}
.sig{color:#b00;font-weight:bold}
.notes{color:#555;font-size:.85em;margin:0 0 1.5em;padding-left:1.2em}
h2{margin-top:1.6em;border-bottom:2px solid #444}
img{max-width:100%}
"""

_JS = """
(function(){
  var sel = document.getElementById('protocol');
  function show(){
    var all = document.querySelectorAll('section.protocol');
    for (var i = 0; i < all.length; i++) all[i].hidden = all[i].dataset.protocol !== sel.value;
  }
  sel.addEventListener('change', show); show();
})();
"""


@dataclass
class ProtocolView:
    protocol: Protocol
    table: Table
    labels: list[str]  # the row label behind each table row
    sources: list[str]  # the report file behind each table row
    tasks: list[str]  # the task behind each number column, then "avg"
    left_out: list[str] = field(default_factory=list)
    tests: list[tuple[int, str, Any]] = field(default_factory=list)  # (row, task, test)


def _testable(row: Row, protocol: Protocol) -> bool:
    return protocol.regressor == "none" and (row.has_pairs or row.seed_pairs)


def protocol_view(rows: list[Row], protocol: Protocol, resamples: int, seed: int) -> ProtocolView:
    """One protocol's table (rows that can show it), intervals and the tests vs the first."""
    shown = [r for r in rows if r.scores_under(protocol) is not None]
    placement = place(shown, protocol, allow_mixed=True)
    placed = placement.placed
    cis = {}
    if resamples:
        cis = {i: row_intervals(p.row, list(p.values), protocol, resamples, seed)
               for i, p in enumerate(placed) if _testable(p.row, protocol)}
    tasks = ordered(sorted({t for p in placed for t in p.values}))  # as sts_table orders them
    view = ProtocolView(protocol, sts_table(placement, cis), [p.row.label for p in placed],
                        [p.row.path.name for p in placed], [*tasks, "avg"], [r.label for r in rows if r not in shown])
    can = [i for i, p in enumerate(placed) if _testable(p.row, protocol)]
    if resamples and len(can) > 1:
        ref, names = placed[can[0]].row, list(placed[can[0]].values)
        for i in can[1:]:
            other = placed[i].row
            if list(placed[i].values) != names or (ref.seed_count > 1) != (other.seed_count > 1):
                continue
            if ref.seed_count > 1:
                found = seed_tests(seed_values(ref.report, protocol, names),
                                   seed_values(other.report, protocol, names))
            elif same_pairs(ref.report.tasks, other.report.tasks, names) is None:
                found = paired_tests(ref.report.tasks, other.report.tasks, names, protocol,
                                     resamples, seed)
            else:
                continue
            view.tests += [(i, t.task, t) for t in found]
    return view


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_PLOT_BYTES = 20 * 1024 * 1024


def plot_bytes(path: Path, plot: object) -> tuple[bytes | None, str]:
    """The PNG an analysis report's ``plot`` field names (read once), or None and why not.

    Only a PNG file (by its first bytes) beside the report, by a plain name: the page inlines
    the file, so a downloaded report naming ``../../.ssh/id_rsa`` or a link to a private file
    would carry that file into a page the user may publish."""
    if not is_name(plot):
        return None, f"plot field {show(plot)} is not a file name beside the report"
    folder = path.parent.resolve()
    target = (folder / str(plot)).resolve()
    if target.parent != folder:
        return None, f"plot {show(plot)} resolves outside the report's folder"
    if not target.is_file():
        return None, f"plot {show(plot)} not found beside the report"
    try:
        with open(target, "rb") as fh:
            data = fh.read(MAX_PLOT_BYTES + 1)
    except OSError as exc:
        return None, f"plot {show(plot)} not readable ({exc.strerror or exc})"
    if not data.startswith(PNG_MAGIC):
        return None, f"plot {show(plot)} is not a PNG file"
    if len(data) > MAX_PLOT_BYTES:
        return None, f"plot {show(plot)} is over {MAX_PLOT_BYTES // 2**20} MiB"
    return data, ""


def _analysis_section(path: Path, report: AnalysisReport) -> str:
    """An analysis report's plot (the PNG beside it, inlined) and its scalar numbers."""
    out = [f"<h3>{_esc(report.analysis)} ({_esc(path.name)})</h3>"]
    if report.plot:
        plot, why = plot_bytes(path, report.plot)
        if plot is None:
            warn(f"{printable(path)}: {why}; plot left out of the page")
            out.append(f"<p class='notes'>plot not shown: {_esc(why)}</p>")
        else:
            encoded = base64.b64encode(plot).decode("ascii")
            out.append(f'<img alt="{_esc(report.analysis)} plot" '
                       f'src="data:image/png;base64,{encoded}">')
    models = report.models
    keys = [k for k in dict.fromkeys(k for m in models for k in m) if k != "label"
            and all(isinstance(m.get(k), (int, float)) and not isinstance(m.get(k), bool)
                    for m in models)]
    if keys:
        head = "".join(f"<th>{_esc(k)}</th>" for k in keys)
        body = "".join("<tr><td class='label'>" + _esc(m["label"]) + "</td>"
                       + "".join(f"<td>{m[k]:.4f}</td>" for k in keys) + "</tr>"
                       for m in models)
        out.append(f"<table><tr><th>model</th>{head}</tr>{body}</table>")
    return "\n".join(out)


def _table_html(table: Table, cell_attrs=None, marks=None) -> str:
    """A compare Table as HTML; number cells hold their text in ``.v``, the interval in
    ``.ci``, and ``data-model`` / ``data-task`` attributes when ``cell_attrs`` gives them."""
    head = "".join(f"<th class='label'>{_esc(c)}</th>" if i < table.label_columns
                   else f"<th>{_esc(c)}</th>" for i, c in enumerate(table.columns))
    rows = []
    for r, cells in enumerate(table.rows):
        tds = []
        for c, (cell, col) in enumerate(zip(cells, table.columns)):
            if c < table.label_columns or isinstance(cell.value, str) or cell.value is None:
                text = cell_text(cell, col, "plain")
                tds.append(f"<td class='label'>{_esc(text)}</td>")
                continue
            value = cell_text(type(cell)(cell.value, None, False, cell.mark), col, "plain")
            ci = ""
            if cell.ci is not None and all(np.isfinite(cell.ci)):
                ci = f" <span class='ci'>[{cell.ci[0]:.2f}, {cell.ci[1]:.2f}]</span>"
            mark = (marks or {}).get((r, c), "")
            attrs = (cell_attrs or {}).get((r, c), "")
            cls = "num bold" if cell.bold else "num"
            tds.append(f"<td class='{cls}'{attrs}><span class='v'>{_esc(value)}</span>"
                       f"{mark}{ci}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    notes = "".join(f"<li>{_esc(n)}</li>" for n in table.notes)
    return (f"<p><b>{_esc(table.title)}</b></p><div class='wide'><table><thead><tr>"
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            f"<ul class='notes'>{notes}</ul>")


def build_page(rows: list[Row], analyses: list[tuple[Path, AnalysisReport]],
               protocols: list[str] | None = None, resamples: int = 1000, seed: int = 1111,
               correction: str = "holm", title: str = "bench report") -> str:
    """The whole page as one string (see the module doc)."""
    if correction not in CORRECTIONS:
        raise ValueError(correction)
    sts_rows = [r for r in rows if r.has_sts]
    keys = protocols or _key_order({p.key for r in sts_rows for p in r.obtainable()})
    views = [protocol_view(sts_rows, parse_one(k), resamples, seed) for k in keys]
    family = [t for v in views for _, _, t in v.tests]
    size = apply_correction(family, correction)
    parts = [f"<h1>{_esc(title)}</h1>",
             "<p>Sources: " + ", ".join(_esc(p) for p in
                                        dict.fromkeys(r.path.name for r in rows)) + "</p>"]
    if views:
        options = "".join(f'<option value="{_esc(v.protocol.key)}">'
                          f'{_esc(v.protocol.key)}</option>' for v in views)
        parts.append("<h2>STS</h2><label>Protocol <select id='protocol'>" + options
                     + "</select></label>")
        family_text = (f"significance: each row against the first under each protocol "
                       f"(paired bootstrap, {resamples} resamples, seed {seed}; multi-seed rows: "
                       f"permutation test over seeds); one family of {size} tests over "
                       f"{len(keys)} protocol(s) x the tasks and Avg. (regressor protocols are not "
                       f"tested: no per-pair data); * marks p < {ALPHA} after {correction} "
                       f"correction (the smallest bootstrap p is 2 / (resamples + 1))")
        for v in views:
            tasks = {v.table.label_columns + j: t for j, t in enumerate(v.tasks)}
            attrs = {(r, c): f' data-model="{_esc(v.labels[r])}" data-source='
                             f'"{_esc(v.sources[r])}" data-task="{_esc(t)}"'
                     for r in range(len(v.table.rows)) for c, t in tasks.items()}
            marks = {}
            for i, task, test in v.tests:
                col = next(c for c, t in tasks.items() if t == task)
                if np.isfinite(test.p_adjusted) and test.p_adjusted < ALPHA:
                    marks[(i, col)] = (f"<sup class='sig' title='p adj {test.p_adjusted:.3g}'"
                                       ">*</sup>")
            v.table.notes.append(family_text)
            if v.left_out:
                v.table.notes.append("cannot show this protocol: " + ", ".join(v.left_out))
            parts.append(f'<section class="protocol" data-protocol="{_esc(v.protocol.key)}">'
                         + _table_html(v.table, attrs, marks) + "</section>")
    models = by_model(sts_rows)
    if len(models) > 1:
        parts.append("<h2>Protocol-robust summary</h2>" + _table_html(robust_table(models)))
    transfer = transfer_table(place_transfer(rows, allow_mixed=True))  # marked, never hidden
    if transfer is not None:
        parts.append("<h2>Transfer</h2>" + _table_html(transfer))
    seeds = [r for r in rows if (r.seed_count or 1) > 1]
    for r in seeds:
        parts.append(f"<h2>Seeds: {_esc(r.label)}</h2>" + _seed_html(r))
    if analyses:
        parts.append("<h2>Analyses</h2>" + "\n".join(_analysis_section(p, d) for p, d in analyses))
    body = "\n".join(parts)
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>\n{body}\n"
            f"<script>{_JS}</script></body></html>\n")


def _seed_html(row: Row) -> str:
    section = row.report.seeds
    out = []
    for key, stats in section.summary.items():
        cols = list(stats)
        head = "".join(f"<th>{'Avg.' if t == 'avg' else _esc(t)}</th>" for t in cols)
        lines = [f"<tr><td class='label'>seed {s}</td>"
                 + "".join(f"<td>{stats[t].values[i]:.2f}</td>" for t in cols) + "</tr>"
                 for i, s in enumerate(section.seeds)]
        lines.append("<tr><td class='label'>mean</td>"
                     + "".join(f"<td>{stats[t].mean:.2f}</td>" for t in cols) + "</tr>")
        lines.append("<tr><td class='label'>sd</td>"
                     + "".join(f"<td>{stats[t].sd:.2f}</td>" for t in cols) + "</tr>")
        lines.append("<tr><td class='label'>95% seed-and-test-set interval</td>" + "".join(
            f"<td>[{stats[t].ci[0]:.2f}, {stats[t].ci[1]:.2f}]</td>" if stats[t].ci else "<td>-</td>"
            for t in cols) + "</tr>")
        out.append(f"<p><b>{_esc(key)}</b></p><table><tr><th></th>{head}</tr>"
                   + "".join(lines) + "</table>")
    return "\n".join(out)
