"""The HTML page at 1280 and 1920 px in headless Chromium (issue 26, item 4): no table or plot
is clipped (each element's scroll width against its client width, its box against the
window), the forest plot is there, and its numbers equal the reports' (read here from the
JSON files themselves). Skipped without a browser unless BENCH_REQUIRE_BROWSER=1, as
tests/test_html_report.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.analysis.report import AnalysisReport, save
from bench.cli import main
from tests.test_html_report import CHROMIUM, _browser

REPO = Path(__file__).resolve().parents[1]
KEPT = ["minilm-avg-sts-every.json", "glove-avg-sts-every.json",
        "simcse-unsup-minilm-cpu-3seeds-sts.json", "minilm-avg-transfer-fasttest.json"]
PROTOCOLS = ["all-spearman", "wmean-pearson"]
LONG = "sentence-transformers/a-rather-long-model-name-that-must-wrap-or-fit"

# Every visible table, table container and plot whose content is wider than its box, or
# whose box leaves the window; and the page's own horizontal overflow.
CLIPPED = """() => {
  const out = [];
  for (const el of document.querySelectorAll('table, .wide, svg.plot, img')) {
    if (!el.getClientRects().length) continue;
    const box = el.getBoundingClientRect();
    if (el.scrollWidth > el.clientWidth + 1 && el.tagName !== 'svg')
      out.push([el.tagName, el.className.baseVal ?? el.className, 'scroll', el.scrollWidth,
                el.clientWidth]);
    if (box.left < -1 || box.right > window.innerWidth + 1)
      out.push([el.tagName, 'box', box.left, box.right, window.innerWidth]);
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    out.push(['page', document.documentElement.scrollWidth, window.innerWidth]);
  return out;
}"""


def _values(name: str, key: str) -> dict[str, float]:
    """task (or "avg") -> the report's number under protocol ``key``, from its JSON."""
    data = json.loads((REPO / "reports" / name).read_text(encoding="utf-8"))
    scores = next(s for s in data["scores"] if s["protocol"]["key"] == key)
    return {**scores["values"], "avg": scores["average"]["value"]}


def _analyses(folder: Path) -> list[Path]:
    """A spectrum report (two models, a long name) and the kept Figure 2 report."""
    models = [{"label": LONG, "singular_values": [1.0, 0.5, 0.25, 0.1]},
              {"label": "glove-avg", "singular_values": [1.0, 0.8, 0.6, 0.4, 0.2]}]
    spectrum = save(AnalysisReport("spectrum", "test", "2026-12-01T00:00:00+00:00", {}, {},
                                   models, ""), folder / "spectrum.json")
    figure2 = REPO / "reports" / "figure2-minilm-cpu"
    for f in figure2.iterdir():
        shutil.copy(f, folder / f.name)
    return [spectrum, folder / "figure2-minilm-cpu.json"]


@pytest.mark.slow  # bootstraps and starts a browser
def test_page_fits_1280_and_1920_px_and_the_forest_plot_shows_the_reports_differences(tmp_path):
    sync_playwright = _browser()
    for name in KEPT:
        shutil.copy(REPO / "reports" / name, tmp_path / name)
        side = (REPO / "reports" / name.removesuffix(".json")).with_suffix(".pairs.npz")
        if side.is_file():
            shutil.copy(side, tmp_path / side.name)
    page_path = tmp_path / "page.html"
    assert main(["page", *[str(tmp_path / n) for n in KEPT],
                 *map(str, _analyses(tmp_path)), "--html", str(page_path), "--resamples", "20",
                 "--protocol", ",".join(PROTOCOLS)]) == 0
    reference, other = KEPT[0], KEPT[1]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                           "--disable-background-networking"])
        try:
            for width in (1280, 1920):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(page_path.as_uri())
                for key in PROTOCOLS:
                    page.select_option("#protocol", key)
                    assert page.evaluate(CLIPPED) == [], (width, key)
                    section = f"section.protocol[data-protocol='{key}']"
                    marks = page.query_selector_all(
                        f"{section} svg.plot[data-plot='forest'] g.mark[data-model='glove-avg']")
                    shown = {m.get_attribute("data-task"): m.get_attribute("data-delta")
                             for m in marks}
                    ref, oth = _values(reference, key), _values(other, key)
                    assert set(shown) == set(ref)
                    for task, delta in shown.items():  # the plot's 2 decimals
                        assert abs(float(delta) - (oth[task] - ref[task])) <= 0.005 + 1e-9
                    assert page.is_visible(f"{section} svg.plot[data-plot='forest']")
                for kind in ("spectrum", "align-uniform"):
                    assert page.is_visible(f"svg.plot[data-plot='{kind}']"), kind
                page.close()
        finally:
            browser.close()
