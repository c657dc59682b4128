"""``bench page --html``: the page renders in headless Chromium, the protocol switch changes
the numbers shown, and they equal the reports' (read here from the JSON files themselves).

Needs Debian's ``chromium`` and Playwright for Python (no browser download: Playwright drives
the system binary). Skipped when either is missing, unless BENCH_REQUIRE_BROWSER=1 (CI), where
a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from bench.cli import main

REPO = Path(__file__).resolve().parents[1]
KEPT = ["minilm-avg-sts-every.json", "glove-avg-sts-every.json",
        "minilm-avg-transfer-fasttest.json"]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _browser():
    """A Playwright page on the system Chromium, or skip / fail as the module doc says."""
    required = os.environ.get("BENCH_REQUIRE_BROWSER") == "1"
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed"
    if missing is None and not Path(CHROMIUM).is_file():
        missing = f"no chromium at {CHROMIUM}"
    if missing:
        if required:
            pytest.fail(f"BENCH_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    return sync_playwright


def _analysis_report(folder: Path) -> Path:
    """A small analysis report with its PNG plot beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.analysis.report import AnalysisReport, save

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    fig.savefig(folder / "au.png", format="png")
    plt.close(fig)
    report = AnalysisReport("align-uniform", "test", "2026-12-01T00:00:00+00:00", {}, {},
                            [{"label": "model-x", "alignment": 0.25, "uniformity": -2.5}],
                            "au.png")
    return save(report, folder / "au.json")


def _expected(name: str) -> dict[str, dict[str, str]]:
    """protocol key -> task (or "avg") -> the number as the page must print it (2 decimals),
    straight from the report's JSON."""
    data = json.loads((REPO / "reports" / name).read_text(encoding="utf-8"))
    out = {}
    for s in data["scores"]:
        values = {t: f"{v:.2f}" for t, v in s["values"].items()}
        values["avg"] = f"{s['average']['value']:.2f}"
        out[s["protocol"]["key"]] = values
    return out


def _shown(page) -> dict[str, dict[str, str]]:
    """source file -> task -> text of the visible protocol section's number cells."""
    cells = page.query_selector_all("section.protocol:not([hidden]) td[data-task]")
    out: dict[str, dict[str, str]] = {}
    for cell in cells:
        if not cell.is_visible():
            continue
        value = cell.query_selector(".v").inner_text().strip()
        out.setdefault(cell.get_attribute("data-source"), {})[cell.get_attribute("data-task")] \
            = value
    return out


@pytest.mark.slow  # starts a browser
def test_page_renders_and_the_protocol_switch_shows_the_reports_numbers(tmp_path):
    sync_playwright = _browser()
    paths = [REPO / "reports" / n for n in KEPT]
    for p in paths:  # a copy, so that the sidecars stay beside their reports
        shutil.copy(p, tmp_path / p.name)
        side = p.with_name(p.name.removesuffix(".json") + ".pairs.npz")
        if side.is_file():
            shutil.copy(side, tmp_path / side.name)
    analysis = _analysis_report(tmp_path)
    page_path = tmp_path / "page.html"
    assert main(["page", *[str(tmp_path / n) for n in KEPT], str(analysis), "--html",
                 str(page_path), "--resamples", "20"]) == 0
    text = page_path.read_text(encoding="utf-8")
    # self-contained: nothing fetched from elsewhere
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "data:image/png;base64," in text and "Protocol-robust summary" in text
    assert "Transfer" in text and "holm correction" in text
    expected = {n: _expected(n) for n in KEPT[:2]}

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri())
            options = page.eval_on_selector_all("#protocol option", "os => os.map(o => o.value)")
            assert "all-spearman" in options and "wmean-pearson" in options
            seen = {}
            for key in ("wmean-pearson", "all-spearman", "mean-pearson-reg"):
                page.select_option("#protocol", key)
                visible = page.query_selector_all("section.protocol:not([hidden])")
                assert len(visible) == 1 and visible[0].get_attribute("data-protocol") == key
                shown = _shown(page)
                assert set(shown) == set(expected)
                for name, values in expected.items():
                    assert shown[name] == values[key], (key, name)
                seen[key] = shown
            assert seen["wmean-pearson"] != seen["all-spearman"]  # the switch changed them
            assert page.is_visible("img[src^='data:image/png;base64,']")
            assert not errors
        finally:
            browser.close()


# ------------------------------------------------- inline SVG plots (issue 26, item 4)

def _marks(svg: str) -> list[dict[str, str]]:
    """The data-* attributes of every marker of an SVG plot."""
    from html.parser import HTMLParser

    found: list[dict[str, str]] = []

    class Marks(HTMLParser):
        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "g" and a.get("class") == "mark":
                found.append({k[5:]: v for k, v in a.items() if k.startswith("data-")})

    Marks().feed(svg)
    return found


def test_rank_svg_carries_each_models_rank_interval_and_escapes_names():
    from bench.svgplot import rank_svg

    svg = rank_svg([("<b>evil</b>", 2, 1, 3), ("glove-avg", 3, 2, 3), ("minilm", 1, 1, 2)])
    assert "<b>" not in svg and "&lt;b&gt;evil" in svg
    assert _marks(svg) == [{"model": "minilm", "rank": "1", "low": "1", "high": "2"},
                           {"model": "<b>evil</b>", "rank": "2", "low": "1", "high": "3"},
                           {"model": "glove-avg", "rank": "3", "low": "2", "high": "3"}]


def test_forest_svg_carries_each_difference_and_interval():
    from bench.svgplot import ForestPoint, ForestSeries, forest_svg

    series = [ForestSeries("m1", [ForestPoint("STS12", "STS12", -1.234, (-2.5, 0.25)),
                                  ForestPoint("avg", "Avg.", 3.0, None, significant=True)])]
    svg = forest_svg("T", "ref", series)
    assert _marks(svg) == [{"model": "m1", "task": "STS12", "delta": "-1.23", "lo": "-2.50",
                            "hi": "0.25"}, {"model": "m1", "task": "avg", "delta": "3.00"}]
    assert "m1 - ref, Avg.: +3.00 (significant)" in svg


def test_the_kept_figure2_report_is_drawn_as_svg_from_its_own_numbers():
    from bench.analysis_report import load
    from bench.htmlpage import analysis_svg

    path = REPO / "reports" / "figure2-minilm-cpu" / "figure2-minilm-cpu.json"
    models = json.loads(path.read_text(encoding="utf-8"))["models"]
    marks = _marks(analysis_svg(load(path)))
    expected = {(m["checkpoint"]["run"], str(m["checkpoint"]["step"])):
                (f"{m['uniform']:.4f}", f"{m['align']:.4f}") for m in models}
    assert {(k["model"], k["step"]): (k["uniform"], k["align"]) for k in marks} == expected


@pytest.mark.parametrize("bad", [{"align": "0.1", "uniform": -2.0}, {"align": True,
                                                                     "uniform": -2.0},
                                 {"uniform": -2.0}])
def test_an_align_uniform_report_without_numbers_falls_back_to_its_png(bad):
    from bench.analysis.report import AnalysisReport
    from bench.htmlpage import analysis_svg

    report = AnalysisReport("align-uniform", "test", "2026-12-01T00:00:00+00:00", {}, {},
                            [{"label": "ok", "align": 0.1, "uniform": -2.0},
                             {"label": "x", **bad}], "au.png")
    assert analysis_svg(report) == ""


def test_rank_plot_takes_rank_interval_records():
    from types import SimpleNamespace

    from bench.htmlpage import rank_plot

    found = [SimpleNamespace(model="b", rank=2, low=1, high=2, tier=1),
             SimpleNamespace(model="a", rank=1, low=1, high=2, tier=1)]
    assert _marks(rank_plot(found)) == [{"model": "a", "rank": "1", "low": "1", "high": "2"},
                                        {"model": "b", "rank": "2", "low": "1", "high": "2"}]
    assert rank_plot([]) == ""
