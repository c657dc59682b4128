"""The one table model (``bench.tablemodel``) and its renderers (``bench.tablerender``): each
format of one small table against text written out here by hand; ``bench run``'s tables
through them (``bench.render.report_text``); and the significance plan shared by ``bench
compare`` and the HTML page (the same p-values in both)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench.cli import main
from bench.tablemodel import Cell, Table
from bench.tablerender import render, to_html

REPO = Path(__file__).resolve().parents[1]
NAME = "x_1 <b>|"  # a file-given name: Markdown, LaTeX and HTML must each escape it


def _demo() -> Table:
    """Bold number with an interval, a missing one, an undefined one, a dagger and a flag."""
    rows = [[Cell(NAME), Cell(72.346, (70.0, 74.5), bold=True, attrs={"task": "STS12"}),
             Cell(None)],
            [Cell("m2"), Cell(float("nan")), Cell(61.0, mark=True, flag="*",
                                                  flag_title="p adj 0.01")]]
    return Table("Demo", ["Model", "STS12", "Avg."], rows, ["a note"], label_columns=1)


def _squeeze(text: str) -> list[str]:
    """Lines with runs of blanks and of rule dashes collapsed: padding is not content."""
    return [re.sub(r"-{2,}", "-", re.sub(r"[ \t]+", " ", ln)).strip() for ln in text.splitlines()]


TERMINAL = """\
Demo
┏━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━┓
┃ Model    ┃                STS12 ┃    Avg. ┃
┡━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━┩
│ x_1 <b>| │ 72.35 [70.00, 74.50] │       - │
│ m2       │                  nan │ 61.00\u2020* │
└──────────┴──────────────────────┴─────────┘
a note
"""

MARKDOWN = """\
**Demo**

| Model | STS12 | Avg. |
|:-|-:|-:|
| x_1 &lt;b&gt;\\| | **72.35 [70.00, 74.50]** | - |
| m2 | nan | 61.00\u2020* |

- a note
"""

LATEX = r"""\begin{table*}[t]
\centering\small
\begin{tabular}{lrr}
\hline
Model & STS12 & Avg. \\
\hline
x\_1 <b>| & \textbf{72.35\,{\scriptsize[70.00, 74.50]}} & - \\
m2 & nan & 61.00$^\dagger$$^{*}$ \\
\hline
\end{tabular}
\caption{Demo. a note.}
\end{table*}
"""

CSV = """\
Model,STS12,STS12 lo,STS12 hi,Avg.
x_1 <b>|,72.346,70.0,74.5,
m2,,,,61.0
"""

JSON = {"tables": [{"title": "Demo", "columns": ["Model", "STS12", "Avg."],
                    "rows": [{"Model": NAME, "STS12": {"value": 72.346, "ci": [70.0, 74.5]},
                              "Avg.": None},
                             {"Model": "m2", "STS12": None, "Avg.": 61.0}],
                    "notes": ["a note"]}]}

HTML = ("<p><b>Demo</b></p><div class='wide'><table><thead><tr><th class='label'>Model</th>"
        "<th>STS12</th><th>Avg.</th></tr></thead><tbody><tr>"
        "<td class='label'>x_1 &lt;b&gt;|</td>"
        "<td class='num bold' data-task=\"STS12\"><span class='v'>72.35</span> "
        "<span class='ci'>[70.00, 74.50]</span></td>"
        "<td class='label'>-</td></tr><tr><td class='label'>m2</td>"
        "<td class='num'><span class='v'>nan</span></td>"
        "<td class='num'><span class='v'>61.00\u2020</span>"
        "<sup class='sig' title='p adj 0.01'>*</sup></td></tr></tbody></table></div>"
        "<ul class='notes'><li>a note</li></ul>")


def test_terminal():
    text = render([_demo()], "terminal", width=80)
    assert [ln.rstrip() for ln in text.splitlines()] == TERMINAL.splitlines()


@pytest.mark.parametrize("fmt, expected", [("md", MARKDOWN), ("latex", LATEX)])
def test_markdown_and_latex(fmt, expected):
    assert _squeeze(render([_demo()], fmt)) == _squeeze(expected)


def test_csv_holds_numbers_and_interval_columns():
    assert render([_demo()], "csv") == CSV


def test_json_holds_numbers_intervals_and_null_for_undefined():
    assert json.loads(render([_demo()], "json")) == JSON


def test_html():
    assert to_html(_demo()) == HTML
    assert render([_demo()], "html") == HTML


def test_a_column_format_overrides_the_heading_rule():
    """A task heading such as "p x" (a user's task file) is points, not a p-value, when
    the table says so; without ``formats`` the heading rule applies."""
    rows = [[Cell("m"), Cell(0.0004)]]
    assert "0.00" in render([Table("T", ["Model", "p x"], rows, label_columns=1,
                                   formats={"p x": ".2f"})], "md")
    assert "<0.001" in render([Table("T", ["Model", "p x"], rows, label_columns=1)], "md")


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown table format"):
        render([_demo()], "docx")


# ----------------------------------------------------------------- bench run --format

@pytest.fixture(scope="module")
def glove_run(data_dir, tmp_path_factory) -> Path:
    """A glove-avg run of STS13 under every no-regressor protocol, saved as a report."""
    out = tmp_path_factory.mktemp("run") / "glove.json"
    assert main(["run", "--model", "glove-avg", "--tasks", "STS13", "--protocol",
                 "every-cosine", "--data-dir", str(data_dir), "--out", str(out),
                 "--quiet"]) == 0
    return out


def test_run_json_equals_the_reports_numbers(glove_run):
    from bench.render import report_text
    from bench.reports import load

    stored = json.loads(glove_run.read_text(encoding="utf-8"))["scores"]
    data = json.loads(report_text(load(glove_run), "json"))
    rows = data["tables"][0]["rows"]
    assert [r["protocol"] for r in rows] == [s["protocol"]["key"] for s in stored]
    assert len(rows) == 6
    for row, scores in zip(rows, stored):
        assert row["STS13"] == scores["values"]["STS13"]
        assert row["Avg."] == scores["average"]["value"]


def test_run_terminal_text_shows_the_same_numbers_as_md(glove_run):
    """Every format of a run shows the report's numbers to 2 decimals."""
    from bench.render import report_text
    from bench.reports import load

    stored = json.loads(glove_run.read_text(encoding="utf-8"))["scores"]
    report = load(glove_run)
    for fmt in ("terminal", "md", "latex", "html"):
        text = report_text(report, fmt)
        for scores in stored:
            assert f"{scores['values']['STS13']:.2f}" in text, fmt
            assert scores["protocol"]["key"] in text, fmt
    assert report_text(report, "csv").splitlines()[0] == "protocol,STS13,Avg."


# ---------------------------------------- one significance plan: compare and the page

class _Cells(HTMLParser):
    """(protocol, model, task) -> (p, p adj) of every tested number cell of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.protocol = None
        self.found: dict[tuple[str, str, str], tuple[float, float]] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.protocol = a.get("data-protocol")
        if tag == "td" and "data-p" in a:
            self.found[(self.protocol, a["data-model"], a["data-task"])] = (
                float(a["data-p"]), float(a["data-p-adj"]))


@pytest.mark.slow  # bootstraps over two kept reports, twice (several seconds)
@pytest.mark.parametrize("correction, resamples", [("holm", 20), ("none", 60)])
def test_page_shows_the_p_values_of_compare(tmp_path, capsys, correction, resamples):
    """The page's p-values (data-p, data-p-adj of each tested number, and its stars) equal
    compare --significance's, corrected over the same family (two protocols x 8 cells)."""
    from bench.tasks.registry import find

    reports = [str(REPO / "reports" / n) for n in ("minilm-avg-sts-every.json",
                                                   "glove-avg-sts-every.json")]
    keys = ["all-spearman", "wmean-pearson"]
    common = ["--protocol", ",".join(keys), "--resamples", str(resamples), "--seed", "7",
              "--correction", correction]
    assert main(["compare", *reports, "--significance", *common, "--format", "json"]) == 0
    tables = [t for t in json.loads(capsys.readouterr().out)["tables"]
              if t["title"] == "Paired significance"]
    assert len(tables) == len(keys)  # one per protocol, in the order asked
    expected = {}
    for key, table in zip(keys, tables):
        for row in table["rows"]:
            p, adj = row["p (paired bootstrap)"], row[f"p adj ({correction})"]
            expected[(key, row["Model"], row["Task"])] = (p, adj)
    page = tmp_path / "page.html"
    assert main(["page", *reports, "--html", str(page), *common]) == 0
    parser = _Cells()
    parser.feed(page.read_text(encoding="utf-8"))
    shown = {(k, model, "Avg." if task == "avg" else find(task).label): p
             for (k, model, task), p in parser.found.items()}
    assert len(expected) == 2 * 8 and shown == expected
    if correction == "none":  # 2 / 61 < 0.05: some cells are significant, so starred
        assert any(adj < 0.05 for _, adj in expected.values())
    stars = len(re.findall(r"<sup class='sig'", page.read_text(encoding="utf-8")))
    assert stars == sum(adj < 0.05 for _, adj in expected.values())
