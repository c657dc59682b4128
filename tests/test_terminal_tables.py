"""Terminal tables (issue 26, item 3): fitted to the width without cutting a heading, a model
name or a number; a constant label column moves into the caption; intervals take a compact
form; piped output is plain; titles and notes wrap at word boundaries only.

Expected texts are built here from the inputs (the report's JSON, the intervals given)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.render import report_text
from bench.reports import load
from bench.tablemodel import Cell, Table
from bench.tablerender import plain_text, print_terminal, render, wrap

REPO = Path(__file__).resolve().parents[1]
BOX = set("┃│━─┏┓┗┛┡┩╇┳┻╋┼└┘┌┐")
TASKS = ["STS12", "STS13", "STS14", "STS15", "STS16", "STS-B", "SICK-R", "Avg."]
NAMES = ["sentence-transformers/all-MiniLM-L6-v2", "glove-avg"]


def _compare_table() -> tuple[Table, dict[str, list[tuple[float, float, float]]]]:
    """A compare --ci table: long model names, one protocol on every row, two sources."""
    values = {NAMES[0]: [(72.37 + i, 70.72 + i, 74.23 + i) for i in range(8)],
              NAMES[1]: [(50.2 - i, 47.28 - i, 52.31 - i) for i in range(8)]}
    rows = [[Cell(name), Cell("all-spearman"), Cell(f"{name.split('/')[-1]}.json"),
             *[Cell(v, (lo, hi)) for v, lo, hi in values[name]]] for name in NAMES]
    return Table("STS (Spearman x 100)", ["Model", "Protocol", "Source", *TASKS], rows,
                 ["a note"]), values


def _check_fits(text: str, width: int) -> None:
    assert max(len(line) for line in text.splitlines()) <= width
    assert "\u2026" not in text  # rich's ellipsis: nothing cut


def test_the_run_table_in_80_columns_keeps_every_heading_protocol_and_number():
    path = REPO / "reports" / "minilm-avg-sts-every.json"
    text = report_text(load(path), "terminal", title="minilm-avg", width=80)
    _check_fits(text, 80)
    words = set(text.split())
    assert {"STS12", "STS13", "STS14", "STS15", "STS16", "STS-B", "SICK-R", "Avg."} <= words
    for scores in json.loads(path.read_text(encoding="utf-8"))["scores"]:
        assert scores["protocol"]["key"] in words
        for value in [*scores["values"].values(), scores["average"]["value"]]:
            assert f"{value:.2f}" in words


@pytest.mark.parametrize("width", [80, 120, 160])
def test_compare_with_intervals_fits_and_never_cuts_a_model_name(width):
    table, values = _compare_table()
    text = render([table], "terminal", width=width)
    _check_fits(text, width)
    for name in NAMES:
        assert name in text
        for v, lo, hi in values[name]:
            assert f"{v:.2f}" in text
            assert f"[{lo:.1f},{hi:.1f}]" in text or f"[{lo:.2f}, {hi:.2f}]" in text
    header = next(line for line in text.splitlines() if "Model" in line)
    assert "Protocol" not in header and "Source" in header  # constant: into the caption
    assert "Protocol: all-spearman" in text.splitlines()
    assert "a note" in text.splitlines()


def test_a_column_that_differs_between_rows_stays():
    table, _ = _compare_table()
    table.rows[1][1] = Cell("wmean-pearson")
    text = render([table], "terminal", width=240)
    header = next(line for line in text.splitlines() if "Model" in line)
    assert "Protocol" in header and "Protocol: " not in text


def test_piped_output_is_plain_one_line_per_row_with_full_intervals(capsys):
    table, values = _compare_table()
    print_terminal([table])  # capsys: stdout is not a terminal
    text = capsys.readouterr().out
    assert not BOX & set(text)
    assert text == plain_text([table])
    for name in NAMES:
        line = next(ln for ln in text.splitlines() if ln.startswith(name + " "))
        for v, lo, hi in values[name]:
            assert f"{v:.2f} [{lo:.2f}, {hi:.2f}]" in line


def test_run_text_piped_is_plain(capsys):
    text = report_text(load(REPO / "reports" / "glove-avg-sts-every.json"))
    assert not BOX & set(text) and "wmean-pearson-reg" in text


@pytest.mark.parametrize("width", range(20, 60, 3))
def test_titles_wrap_between_words_never_between_a_number_and_its_unit(width):
    title = "minilm-avg  (encoded 1234, cached 29469, 0.3 s) under protocol all-spearman-reg"
    lines = wrap(title, width)
    assert " ".join(lines).split() == title.split()
    assert all(not ln.startswith("s)") for ln in lines)
    assert all(len(ln) <= width for ln in lines if " " in ln)


def test_a_long_note_is_wrapped_at_the_terminal_width_not_cut():
    note = "[lo, hi]: 95% percentile bootstrap interval, 1000 resamples, seed 1111, " * 3
    table = Table("T", ["Model", "STS12"], [[Cell("m"), Cell(1.0)]], [note], label_columns=1)
    text = render([table], "terminal", width=60)
    _check_fits(text, 60)
    assert " ".join(text.split()).endswith(" ".join(note.split()))


def test_compact_intervals_say_so_and_full_ones_do_not():
    table, _ = _compare_table()
    assert "one decimal fewer to fit 120 columns" in " ".join(
        render([table], "terminal", width=120).split())
    assert "one decimal fewer" not in render([table], "terminal", width=400)
