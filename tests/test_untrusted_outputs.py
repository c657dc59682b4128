"""Files made by others (reports, sidecars, analysis JSON, result folders) can neither make bench
write outside its output, inline a private file into a page, drive the terminal, forge rows of
a Markdown table, nor have an output option overwrite them.

Each attack is a harmless proof of concept on files made here (a tiny STS-B generated in
``tmp_path``, a hash encoder, no model); expectations are written by hand, never produced by
the code under test.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import HashEncoder, write_tiny_stsb

import bench
from bench.cli import main

ESC, BEL, RLO = "\x1b", "\x07", "\u202e"
HOSTILE_NAME = f"evil{ESC}[2J{ESC}]0;pwned{BEL}|x\n| forged | <img src=x onerror=alert(1)> {RLO}cba"
PNG = bytes.fromhex("89504e470d0a1a0a") + b"\x00\x00\x00\rIHDR" + b"\x00" * 17  # magic + IHDR


@pytest.fixture(scope="module")
def run_report(tmp_path_factory) -> Path:
    """A run under --protocol mteb on a tiny generated STS-B (with its pairs sidecar)."""
    root = tmp_path_factory.mktemp("untrusted")
    data = write_tiny_stsb(root / "data", pairs=8)
    path = root / "reports" / "hash.json"
    bench.evaluate(HashEncoder(dim=8), tasks=["STSBenchmark"], protocols="mteb", data_dir=data,
                   use_cache=False, verify_data=False, name="hash-8", out=path)
    return path


def _variant(run_report: Path, folder: Path, name: str, edit) -> Path:
    """A copy of the run report (with its sidecar) whose JSON ``edit`` changed in place."""
    folder.mkdir(parents=True, exist_ok=True)
    data = json.loads(run_report.read_text(encoding="utf-8"))
    edit(data)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    shutil.copy(run_report.with_name("hash.pairs.npz"), folder / f"{name}.pairs.npz")
    if isinstance(data.get("pairs"), dict):
        data["pairs"]["file"] = f"{name}.pairs.npz"
        path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: error: "), err
    return err[0]


# ----------------------------------------------------------- 1. export paths from reports

@pytest.mark.parametrize("revision", ["../../../../escaped", "ABSOLUTE", "main/../..",
                                      "bench-x/../../y", "0123abcd\n", f"{ESC}]0;t{BEL}"])
def test_export_revision_from_report_writes_nothing_outside_out(run_report, tmp_path, capsys,
                                                                revision):
    if revision == "ABSOLUTE":
        revision = str(tmp_path / "absolute")
    report = _variant(run_report, tmp_path / "in", "evil",
                      lambda d: d["model"].update(revision=revision))
    before = _tree(tmp_path)
    assert main(["export", "mteb", str(report), "--out", str(tmp_path / "a" / "b" / "out")]) == 2
    line = _error_line(capsys)
    assert "evil.json" in line and "model.revision" in line
    assert ESC not in line and BEL not in line and "\n" not in line
    assert _tree(tmp_path) == before  # nothing written anywhere, inside --out or outside


def test_export_model_name_cannot_leave_out(run_report, tmp_path, capsys):
    out = tmp_path / "deep" / "out"
    before = _tree(tmp_path)
    assert main(["export", "mteb", str(run_report), "--out", str(out), "--name", ".."]) == 2
    assert "--name" in _error_line(capsys)
    assert _tree(tmp_path) == before


def test_export_through_a_symlinked_model_folder_is_refused(run_report, tmp_path, capsys):
    """A planted link inside --out must not carry the files elsewhere."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "bench__hash-8")
    assert main(["export", "mteb", str(run_report), "--out", str(out)]) == 2
    assert "outside" in _error_line(capsys)
    assert list(elsewhere.iterdir()) == []


def test_export_task_name_with_a_slash_is_one_line(run_report, tmp_path, capsys):
    def edit(d):
        d["scores"][0]["values"]["../../x"] = 50.0

    report = _variant(run_report, tmp_path / "in", "slash", edit)
    assert main(["export", "mteb", str(report), "--out", str(tmp_path / "out")]) == 2
    assert "../../x" in _error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_export_still_writes_a_good_report_below_out(run_report, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["export", "mteb", str(run_report), "--out", str(out)]) == 0
    fingerprint = json.loads(run_report.read_text())["model"]["fingerprint"]
    folder = out / "bench__hash-8" / f"bench-{fingerprint[:12]}"
    assert sorted(p.name for p in folder.iterdir()) == ["STSBenchmark.json", "model_meta.json"]


# ------------------------------------------------------------- 2. plots inlined in a page

def _analysis(folder: Path, plot: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"schema_version": 2, "kind": "analysis", "analysis": "align-uniform",
            "bench_version": "test", "created": "2026-12-01T00:00:00+00:00", "options": {},
            "data": {}, "models": [{"label": "m", "alignment": 0.25}], "plot": plot}
    path = folder / "au.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _secret_in(page: str, secret: bytes) -> bool:
    return base64.b64encode(secret).decode() in page


@pytest.mark.parametrize("case", ["text-beside", "link-beside", "parent", "absolute", "missing"])
def test_page_inlines_only_a_png_beside_the_report(tmp_path, capsys, case):
    secret = PNG + b"PRIVATE KEY"  # a real PNG head: only its place may refuse it
    private = tmp_path / "private"
    private.mkdir()
    (private / "id.png").write_bytes(secret)
    folder = tmp_path / "downloaded"
    folder.mkdir()
    plot = {"text-beside": "notes.png", "link-beside": "plot.png", "parent": "../private/id.png",
            "absolute": str(private / "id.png"), "missing": "gone.png"}[case]
    if case == "text-beside":
        secret = b"PRIVATE KEY, not a PNG"
        (folder / "notes.png").write_bytes(secret)
    if case == "link-beside":
        os.symlink(private / "id.png", folder / "plot.png")
    report = _analysis(folder, plot)
    page_path = tmp_path / "page.html"
    assert main(["page", str(report), "--html", str(page_path)]) == 0
    page = page_path.read_text(encoding="utf-8")
    assert not _secret_in(page, secret) and "data:image/png" not in page
    assert "plot not shown" in page
    warnings = [w for w in capsys.readouterr().err.splitlines() if "warning" in w]
    assert len(warnings) == 1 and "au.json" in warnings[0]


def test_page_still_inlines_the_png_beside_the_report(tmp_path, capsys):
    report = _analysis(tmp_path / "a", "au.png")
    (tmp_path / "a" / "au.png").write_bytes(PNG)
    page_path = tmp_path / "page.html"
    assert main(["page", str(report), "--html", str(page_path)]) == 0
    page = page_path.read_text(encoding="utf-8")
    assert f"data:image/png;base64,{base64.b64encode(PNG).decode()}" in page
    assert "plot not shown" not in page


# ------------------------------------------------- 3. terminal control sequences, HTML text

def test_printable_escapes_controls_and_bidi_and_keeps_text():
    from bench.textsafe import printable

    assert printable("caf\u00e9 \u03b1-STS 12") == "caf\u00e9 \u03b1-STS 12"
    assert printable(f"a{ESC}[2Jb") == "a\\x1b[2Jb"
    assert printable(f"{ESC}]0;t{BEL}\r\n\t\x7f\x9b{RLO}\u2066") == \
        "\\x1b]0;t\\x07\\x0d\\x0a\\x09\\x7f\\x9b\\u202e\\u2066"


@pytest.mark.parametrize("fmt", ["terminal", "md", "csv", "latex", "json"])
def test_compare_prints_no_control_characters_from_a_report(run_report, tmp_path, capsys, fmt):
    report = _variant(run_report, tmp_path, "ctl",
                      lambda d: d["model"].update(name=HOSTILE_NAME, requested=HOSTILE_NAME))
    assert main(["compare", str(report), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert ESC not in out and BEL not in out and RLO not in out
    assert "pwned" in out  # the name is shown, escaped, not dropped


def test_run_tables_show_markup_and_controls_as_text(run_report):
    from bench.render import report_tables, tables_text
    from bench.reports import load

    report = load(run_report)
    report.model.name = f"[/bold][link=file:///etc/passwd]x[/link]{ESC}[2J"
    text = tables_text(report_tables(report))
    flat = "".join(text.split())  # the title wraps at the table's width
    assert "[/bold][link=file:///etc/passwd]x[/link]\\x1b[2J" in flat
    assert ESC not in text


def test_error_line_quoting_a_file_has_no_control_characters(run_report, tmp_path, capsys):
    def edit(d):
        d["scores"][0]["values"][f"T{ESC}]0;title{BEL}"] = 50.0

    report = _variant(run_report, tmp_path, "ctl", edit)
    assert main(["export", "mteb", str(report), "--out", str(tmp_path / "out")]) == 2
    line = _error_line(capsys)
    assert ESC not in line and BEL not in line and "title" in line


def test_html_page_escapes_script_and_bidi_in_a_model_name(run_report, tmp_path):
    report = _variant(run_report, tmp_path, "ctl",
                      lambda d: d["model"].update(name=HOSTILE_NAME, requested=HOSTILE_NAME))
    page_path = tmp_path / "page.html"
    assert main(["page", str(report), "--html", str(page_path), "--resamples", "0"]) == 0
    page = page_path.read_text(encoding="utf-8")
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert RLO not in page and ESC not in page and "\\u202ecba" in page


# --------------------------------------------------------- 4. Markdown tables (index, md)

def test_md_cell_escapes_pipes_newlines_html_and_controls():
    from bench.textsafe import md_cell

    assert md_cell("a|b\nc <b>&") == "a\\|b c &lt;b&gt;&amp;"
    assert md_cell(f"x{ESC}y") == "x\\x1by"
    assert md_cell("![px](https://t.example/p.png) m [3 seeds]") == \
        "![px]\\(https://t.example/p.png) m [3 seeds]"


def _table_rows(markdown: str, section: str) -> list[str]:
    """The body lines of the first pipe table after ``section``'s heading."""
    lines = markdown.split(section, 1)[1].splitlines()
    table = [ln for ln in lines[1:] if ln.strip()]
    body = []
    for ln in table[2:]:  # after the header and the rule
        if not ln.startswith("|"):
            break
        body.append(ln)
    return body


def test_reports_index_cannot_be_forged_by_a_model_name(run_report, tmp_path):
    folder = tmp_path / "reports"
    _variant(run_report, folder, "ctl",
             lambda d: d["model"].update(name=HOSTILE_NAME, requested=HOSTILE_NAME))
    assert main(["reports", "index", "--dir", str(folder)]) == 0
    readme = (folder / "README.md").read_text(encoding="utf-8")
    rows = _table_rows(readme, "## Runs")
    assert len(rows) == 1  # one report, one row
    assert rows[0].count(" | ") == 7  # eight cells: the name's pipes are escaped
    assert "<img" not in readme and "&lt;img" in readme
    assert ESC not in readme and BEL not in readme and RLO not in readme


def test_reports_index_links_cannot_be_chosen_by_the_plot_field(tmp_path):
    folder = tmp_path / "reports"
    _analysis(folder / "fig", "x.png) [click](https://example.com/phish")
    assert main(["reports", "index", "--dir", str(folder), "--exclude"]) == 0
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "](https://example.com" not in readme


# ------------------------------------------------------- 5. an output that is an input

@pytest.mark.parametrize("target", ["report", "sidecar", "hardlink"])
@pytest.mark.parametrize("command", ["compare", "report"])
def test_output_option_naming_an_input_is_refused_before_work(run_report, tmp_path, capsys,
                                                              command, target):
    report = _variant(run_report, tmp_path, "r", lambda d: None)
    out = {"report": report, "sidecar": tmp_path / "r.pairs.npz",
           "hardlink": tmp_path / "alias.json"}[target]
    if target == "hardlink":
        os.link(report, out)
    before = _tree(tmp_path)
    option = "--out" if command == "compare" else "--html"
    assert main([command, str(report), option, str(out)]) == 2
    line = _error_line(capsys)
    assert option in line and "input" in line
    assert _tree(tmp_path) == before


def test_page_output_naming_the_analysis_plot_is_refused(tmp_path, capsys):
    report = _analysis(tmp_path, "au.png")
    (tmp_path / "au.png").write_bytes(PNG)
    assert main(["page", str(report), "--html", str(tmp_path / "au.png")]) == 2
    assert "input" in _error_line(capsys)
    assert (tmp_path / "au.png").read_bytes() == PNG


def test_export_target_naming_an_input_is_refused(run_report, tmp_path, capsys):
    """The input report sits where the export would write its task file."""
    fingerprint = json.loads(run_report.read_text())["model"]["fingerprint"]
    folder = tmp_path / "out" / "bench__hash-8" / f"bench-{fingerprint[:12]}"
    report = _variant(run_report, folder, "STSBenchmark", lambda d: None)
    before = _tree(tmp_path)
    assert main(["export", "mteb", str(report), "--out", str(tmp_path / "out")]) == 2
    assert "input" in _error_line(capsys)
    assert _tree(tmp_path) == before


def test_run_out_naming_its_task_file_is_refused(tmp_path, capsys):
    task_file = tmp_path / "mine.toml"
    task_file.write_text("# my task file\n", encoding="utf-8")
    assert main(["run", "--model", "glove-avg", "--task-file", str(task_file),
                 "--out", str(task_file)]) == 2
    line = _error_line(capsys)
    assert "--out" in line and "input" in line
    assert task_file.read_text(encoding="utf-8") == "# my task file\n"


def test_reports_index_escapes_a_hostile_file_name(run_report, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(run_report, folder / "a|b) [x](https:evil)\n| z.json")
    assert main(["reports", "index", "--dir", str(folder)]) == 0
    rows = _table_rows((folder / "README.md").read_text(encoding="utf-8"), "## Runs")
    assert len(rows) == 1 and rows[0].count(" | ") == 7
    assert "](https:evil)" not in rows[0]
