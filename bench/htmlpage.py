"""One self-contained HTML page from a set of reports (``bench page ... --html``).

Everything is inline (CSS, a few lines of JavaScript, plots as SVG drawn from the reports'
numbers by ``bench.svgplot``, or an analysis report's own PNG as base64), so the page opens
from a file with no network. Tables take the window's width (a number's interval goes below
it when the window is narrow) and plots scale with it, so nothing is clipped at 1280 px. It holds, for every STS protocol the reports can show: the
paper-style table with 95% intervals and significance marks (each row against the first;
one family over every protocol and task tested, corrected as ``--correction`` says); a
protocol switcher that shows one protocol's table at a time; the protocol-robust summary;
a forest plot per protocol (each row's difference to the first, with its interval, per task
and Avg.); the transfer table; the seed summaries of multi-seed runs; and the plots of the
analysis reports among the inputs. The numbers come from the same functions as ``bench compare`` (rows,
guard, uncertainty, the test plan ``bench.compare.plan``) and the tables are the same
``bench.tablemodel.Table`` objects, rendered by ``bench.tablerender.to_html``, so the page and
the terminal table never disagree.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.analysis_report import AnalysisReport
from bench.compare.guard import Placement, place, place_transfer
from bench.compare.plan import ProtocolTests, significance, testable_rows
from bench.compare.ranking import placement_ranks, rank_table
from bench.compare.rows import Row
from bench.compare.seedtests import raw_p, unreachable
from bench.compare.sensitivity import by_model, key_order, robust_table
from bench.compare.stats import CORRECTIONS
from bench.compare.tables import family_tables, label, sts_table, transfer_table
from bench.compare.uncertainty import row_intervals
from bench.errors import warn
from bench.pathsafe import is_name, show
from bench.protocols import Protocol, parse_one
from bench.render import seed_tables
from bench.svgplot import (
    ForestPoint,
    ForestSeries,
    align_uniform_svg,
    forest_svg,
    rank_svg,
    spectrum_svg,
)
from bench.tablemodel import Cell, Table
from bench.tablerender import esc as _esc
from bench.tablerender import to_html
from bench.tasks.registry import ordered
from bench.textsafe import printable

ALPHA = 0.05


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em}
th,td{padding:.25em .5em;border-bottom:1px solid #ddd;text-align:right}
th.label,td.label{text-align:left;overflow-wrap:anywhere;min-width:5em}
th{white-space:nowrap}
.wide{overflow-x:auto;max-width:100%}
td.bold .v{font-weight:bold}
.v,.ci{white-space:nowrap}
.ci{color:#777;font-size:.8em;display:block}
.plot-title{font-weight:bold;margin:.8em 0 0}
svg.plot{display:block;max-width:100%;height:auto;margin:.5em 0 1.5em}
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
    placement: Placement
    table: Table
    tasks: list[str]  # the task behind each number column, then "avg"
    left_out: list[str]  # rows that cannot show this protocol


def protocol_view(rows: list[Row], protocol: Protocol, resamples: int, seed: int) -> ProtocolView:
    """One protocol's table (rows that can show it) with intervals; every number cell says
    which model, report and task it is (data-* attributes, read by the page's tests)."""
    shown = [r for r in rows if r.scores_under(protocol) is not None]
    placement = place(shown, protocol, allow_mixed=True)
    placed = placement.placed
    cis = {}
    if resamples:
        cis = {i: row_intervals(placed[i].row, list(placed[i].values), protocol, resamples, seed)
               for i in testable_rows(placement)}
    tasks = [*ordered(sorted({t for p in placed for t in p.values})), "avg"]  # as sts_table
    table = sts_table(placement, cis)
    for r, cells in enumerate(table.rows):
        for cell, task in zip(cells[table.label_columns:], tasks):
            cell.attrs.update(model=placed[r].row.label, source=placed[r].row.path.name,
                              task=task)
    return ProtocolView(protocol, placement, table, tasks,
                        [r.label for r in rows if r not in shown])


def mark_tests(view: ProtocolView, plan: ProtocolTests) -> None:
    """Each tested number gets its p-values (data-p, data-p-adj) and, when significant after
    the family's correction, a star whose tooltip gives the adjusted p."""
    for comparison in plan.comparisons:
        cells = view.table.rows[comparison.index]
        for test in comparison.tests:
            cell = cells[view.table.label_columns + view.tasks.index(test.task)]
            cell.attrs.update({"p": repr(raw_p(test)), "p-adj": repr(float(test.p_adjusted))})
            if np.isfinite(test.p_adjusted) and test.p_adjusted < ALPHA:
                cell.flag, cell.flag_title = "*", f"p adj {test.p_adjusted:.3g}"


def forest(view: ProtocolView, plan: ProtocolTests) -> str:
    """The forest plot of one protocol: every tested row's difference to the reference row
    per task and Avg., with the paired bootstrap interval (none for a test over seeds); empty
    when nothing was tested."""
    series = []
    for comparison in plan.comparisons:
        points = []
        for test in comparison.tests:
            ci = getattr(test, "delta_ci", None)
            points.append(ForestPoint(test.task, "Avg." if test.task == "avg" else label(test.task),
                                      float(test.delta), tuple(ci) if ci is not None else None,
                                      bool(np.isfinite(test.p_adjusted)
                                           and test.p_adjusted < ALPHA)))
        series.append(ForestSeries(comparison.label, points))
    if not series:
        return ""
    title = (f"Difference to {plan.reference} under {view.protocol.key}, with 95% intervals "
             f"(filled: significant after correction)")
    return f"<p class='plot-title'>{_esc(title)}</p>" + forest_svg(title, plan.reference, series)


def rank_plot(intervals: Sequence[Any], title: str = "Rank intervals") -> str:
    """Rank intervals (objects with ``model``, ``rank``, ``low``, ``high``, such as
    ``bench.compare.ranking.RankInterval``) as a titled SVG plot for the page; empty for none."""
    rows = [(str(r.model), int(r.rank), int(r.low), int(r.high)) for r in intervals]
    if not rows:
        return ""
    return f"<p class='plot-title'>{_esc(title)}</p>" + rank_svg(rows, title)


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
    drawn = analysis_svg(report)
    if drawn:
        out.append(f"<p class='plot-title'>{_esc(_analysis_title(report))}</p>{drawn}")
    elif report.plot:
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
        rows = [[Cell(m["label"]), *[Cell(float(m[k])) for k in keys]] for m in models]
        out.append(to_html(Table("", ["model", *keys], rows, label_columns=1,
                                 formats={k: ".4f" for k in keys})))
    return "\n".join(out)


MAX_SPECTRUM = 4096  # values drawn per model (a report's list may be any length)


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(
        np.isfinite(value))


def _analysis_title(report: AnalysisReport) -> str:
    what = {"align-uniform": "l_align against l_uniform (SimCSE Figures 2 and 3)",
            "spectrum": "normalised singular spectrum (SimCSE Figure F.1)"}
    return f"{what.get(report.analysis, report.analysis)}, {len(report.models)} model(s)"


def analysis_svg(report: AnalysisReport) -> str:
    """The plot of an align-uniform or spectrum report as SVG, from its own numbers; empty
    when the report is of another kind or a model lacks the numbers (the PNG is shown)."""
    models = report.models
    if not models or not all(isinstance(m, dict) and isinstance(m.get("label"), str)
                             for m in models):
        return ""
    title = _analysis_title(report)
    if report.analysis == "align-uniform":
        if not all(_finite(m.get("align")) and _finite(m.get("uniform")) for m in models):
            return ""
        points, runs = [], {}
        for m in models:
            where = m.get("checkpoint")
            if (isinstance(where, dict) and isinstance(where.get("run"), str)
                    and isinstance(where.get("step"), int)):
                runs.setdefault(where["run"], []).append(
                    (where["step"], float(m["uniform"]), float(m["align"])))
            else:
                points.append((m["label"], float(m["uniform"]), float(m["align"])))
        return align_uniform_svg(title, points, {k: sorted(v) for k, v in runs.items()})
    if report.analysis == "spectrum":
        values = [m.get("singular_values") for m in models]
        if not all(isinstance(v, list) and v and all(_finite(x) for x in v) for v in values):
            return ""
        return spectrum_svg(title, [(m["label"], [float(x) for x in v[:MAX_SPECTRUM]])
                                    for m, v in zip(models, values)])
    return ""


def build_page(rows: list[Row], analyses: list[tuple[Path, AnalysisReport]],
               protocols: list[str] | None = None, resamples: int = 1000, seed: int = 1111,
               correction: str = "holm", title: str = "bench report") -> str:
    """The whole page as one string (see the module doc)."""
    if correction not in CORRECTIONS:
        raise ValueError(correction)
    sts_rows = [r for r in rows if r.has_sts]
    keys = protocols or key_order({p.key for r in sts_rows for p in r.obtainable()})
    views = [protocol_view(sts_rows, parse_one(k), resamples, seed) for k in keys]
    size = 0
    if resamples:  # the plan of bench compare --significance, lenient: untestable rows shown
        plans, size = significance([v.placement for v in views], correction, resamples, seed,
                                   strict=False)
        for view, plan in zip(views, plans):
            mark_tests(view, plan)
            view.table.notes += [f"not tested, single-seed vs multi-seed: {u}"
                                 for u in plan.untested]
    parts = [f"<h1>{_esc(title)}</h1>",
             "<p>Sources: " + ", ".join(_esc(p) for p in
                                        dict.fromkeys(r.path.name for r in rows)) + "</p>"]
    forests = {v.protocol.key: "" for v in views}
    if resamples:
        forests.update({v.protocol.key: forest(v, plan) for v, plan in zip(views, plans)})
    if views:
        options = "".join(f'<option value="{_esc(v.protocol.key)}">'
                          f'{_esc(v.protocol.key)}</option>' for v in views)
        parts.append("<h2>STS</h2><label>Protocol <select id='protocol'>" + options
                     + "</select></label>")
        family_text = (f"significance: each row against the first under each protocol "
                       f"(normal-approximation paired bootstrap, {resamples} resamples, seed "
                       f"{seed}; multi-seed rows: permutation test over seeds); family: the "
                       f"{size} tests (comparisons x tasks and Avg.) under the primary protocol "
                       f"{keys[0]}, every other protocol a sensitivity view corrected over its "
                       f"own cells (regressor protocols are not tested: no per-pair data); * "
                       f"marks p < {ALPHA} after {correction} correction")
        why = unreachable(plans[0].tests(), size, correction) if resamples else None
        if why:
            warn(why)
            family_text += f"; {why}"
        for v in views:
            v.table.notes.append(family_text)
            if v.left_out:
                v.table.notes.append("cannot show this protocol: " + ", ".join(v.left_out))
            parts.append(f'<section class="protocol" data-protocol="{_esc(v.protocol.key)}">'
                         + to_html(v.table) + forests[v.protocol.key] + "</section>")
    if views and resamples:  # rank intervals and tiers under the primary protocol
        found, left = placement_ranks(views[0].placement, resamples, seed, correction)
        if found:
            parts.append("<h2>Rank intervals</h2>" + to_html(
                rank_table(found, views[0].protocol.key, resamples, seed, left))
                + rank_plot(found, f"Rank intervals ({views[0].protocol.key})"))
    models = by_model(sts_rows)
    if len(models) > 1:
        parts.append("<h2>Protocol-robust summary</h2>" + to_html(robust_table(models)))
    transfer = transfer_table(place_transfer(rows, allow_mixed=True))  # marked, never hidden
    if transfer is not None:
        parts.append("<h2>Transfer</h2>" + to_html(transfer))
    for table in family_tables(rows):  # registered families beyond STS and transfer
        parts.append(f"<h2>{_esc(table.title)}</h2>" + to_html(table))
    for r in rows:
        if (r.seed_count or 1) > 1:
            parts.append(f"<h2>Seeds: {_esc(r.label)}</h2>"
                         + "\n".join(to_html(t) for t in seed_tables(r.label, r.report)))
    if analyses:
        parts.append("<h2>Analyses</h2>" + "\n".join(_analysis_section(p, d) for p, d in analyses))
    return _document(title, "\n".join(parts), _JS)


def _document(title: str, body: str, script: str = "") -> str:
    """A self-contained page: the CSS inline, an optional inline script, nothing fetched."""
    tail = f"<script>{script}</script>" if script else ""
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>\n{body}\n"
            f"{tail}</body></html>\n")


def tables_page(title: str, tables: list[Table]) -> str:
    """A page of tables alone (``bench neighbors --html``), styled as the report page."""
    return _document(title, f"<h1>{_esc(title)}</h1>\n" + "\n".join(to_html(t) for t in tables))
