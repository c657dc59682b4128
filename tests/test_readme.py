"""The README as a new user reads it: short, its two commands are the ones CI and nox run, its
Python example runs as written, and its links lead to pages that exist. The rest of what the
README used to say lives in docs/, whose commands tests/test_docs.py runs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests import doc_commands as dc

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
DEMO = "python3 -m pip install nox && python3 -m nox -s demo"
TESTS = "python3 -m pip install nox && python3 -m nox -s tests"


def _sessions() -> set[str]:
    """The nox sessions noxfile.py defines (functions decorated with nox.session)."""
    tree = ast.parse((REPO / "noxfile.py").read_text(encoding="utf-8"))
    return {f.name for f in tree.body if isinstance(f, ast.FunctionDef)
            and any(ast.unparse(d).startswith("nox.session") for d in f.decorator_list)}


def test_the_two_commands_are_there_and_ci_runs_the_tests_one():
    (block,) = [b for _, b in dc.code_blocks(README, "bash")]
    assert [x for x in block if x and not x.startswith("#")] == [DEMO, TESTS]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    prefix = TESTS.removesuffix("tests")
    (run,) = [x for x in ci if x.startswith(prefix)]
    assert "tests" in run.removeprefix(prefix).split() and "docs" in run.split()
    assert {"demo", "tests", "docs", "lint"} <= _sessions()
    assert set(run.removeprefix(prefix).split()) <= _sessions()


def test_the_readme_is_short_and_every_link_leads_somewhere():
    assert len(README.splitlines()) <= 80  # what and why, two commands, an example, read on
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert len(links) >= 10
    assert [x for x in links if not (REPO / x).is_file()] == []
    pages = {str(p.relative_to(REPO)) for p in dc.nav_pages()}
    assert {x for x in links if x.startswith("docs/")} <= pages


def test_the_python_example_is_ten_lines_at_most():
    (example,) = [b for _, b in dc.code_blocks(README, "python")]
    assert len(example) <= 10


@pytest.mark.slow  # encodes STS16 with the packaged MiniLM: seconds
def test_the_python_example_runs_as_written(tmp_path, data_dir, monkeypatch, capsys):
    (example,) = [b for _, b in dc.code_blocks(README, "python")]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_DATA_DIR", str(data_dir))
    exec(compile("\n".join(example), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "STS16" in out and "wmean-pearson" in out  # the table, every cosine protocol
    key, value = out.strip().splitlines()[-1].split()
    assert key == "all-spearman" and float(value) > 0
    assert list(tmp_path.iterdir()) == []  # nothing written without out=
