"""The documentation site: every ``bench`` command in its pages works as written (how lines
are found, ordered and judged: ``tests/doc_commands.py``), the pages generated from the
registries say what the registries hold, and the site builds with warnings as errors."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.options import RunOptions, flag_of
from bench.protocols import load_presets
from bench.recipes import load_recipes
from bench.tasks.registry import tasks
from tests import doc_commands as dc

LINES = dc.doc_lines()
sys.path.insert(0, str(dc.DOCS))  # docs/hooks.py, the generator of the reference pages
import hooks  # noqa: E402


@pytest.fixture(scope="module")
def docs_folder(tmp_path_factory) -> Path:
    """One folder for the lines of a module run, in order, as a reader would type them."""
    return dc.make_folder(tmp_path_factory.mktemp("docs"))


@pytest.fixture
def workdir(docs_folder, data_dir, monkeypatch) -> Iterator[Path]:
    dc.enter(docs_folder, data_dir, monkeypatch)
    yield docs_folder
    dc.leave()


def test_the_pages_are_found_and_cover_every_command():
    pages = {Path(line.where.partition(":")[0]).name for line in LINES}
    assert {"tutorial.md", "evaluate.md", "compare.md", "training.md", "mteb.md"} <= pages
    assert len(LINES) >= 50
    commands = {line.argv[0] for line in LINES}
    assert {"list", "run", "train", "analyze", "compare", "page", "reports", "data", "cache",
            "perf", "export", "neighbors"} <= commands
    assert any(line.needs for line in LINES) and any(line.slow for line in LINES)


def test_every_page_in_docs_is_in_the_nav():
    # a page left out of the nav would be neither shown in order nor its commands run
    pages = {str(p.relative_to(dc.DOCS)) for p in dc.DOCS.rglob("*.md")}
    nav = {str(p.relative_to(dc.DOCS)) for p in dc.nav_pages()}
    assert sorted(pages - nav) == [] and len(nav) >= 20


def test_a_block_inside_a_list_item_and_other_languages():
    text = ("x\n```bash\nbench list tasks\necho hi\n```\n- item\n\n  ```bash\n"
            "  bench data where   # needs the internet\n  ```\n```python\nbench = 1\n```\n")
    lines = dc.command_lines(text, "page.md")
    assert [(x.where, x.argv, x.needs) for x in lines] == [
        ("page.md:3", ("list", "tasks"), ()),
        ("page.md:9", ("data", "where"), ("the internet",))]


@pytest.mark.slow  # each line runs a real command end to end (encodes, compares): seconds to a minute
@pytest.mark.parametrize("line", [x for x in LINES if not x.slow], ids=str)
def test_doc_line(line, workdir, capsys):
    dc.check(line, capsys)


@pytest.mark.parametrize("line", [x for x in LINES if x.slow], ids=str)
def test_slow_doc_line_parses(line):
    dc.check_slow(line)


@pytest.mark.parametrize("text", dc.BROKEN_SLOW)
def test_a_broken_slow_line_fails_the_test(text):
    with pytest.raises(AssertionError, match=re.escape("page.md:1: bench ")):
        dc.check_slow(dc.parse_line(text, "page.md:1"))


@pytest.mark.long
@pytest.mark.parametrize("line", LINES, ids=str)
def test_doc_line_in_full(line, workdir, capsys):
    dc.check(line, capsys)


@pytest.mark.slow  # runs a few real commands
@pytest.mark.parametrize("text", dc.BROKEN)
def test_a_broken_line_fails_the_test(text, workdir, capsys):
    with pytest.raises(AssertionError, match=re.escape("page.md:1: bench ")):
        dc.check(dc.parse_line(text, "page.md:1"), capsys)


def test_an_unknown_reason_is_refused():
    with pytest.raises(ValueError, match="unknown reason 'a fast machine'"):
        dc.parse_line("bench perf sts   # needs a fast machine", "page.md:3")


# The generated reference pages, against the registries they are made from (an independent
# reading: names looked up in the registries here, found in the page text).

def test_the_tasks_page_lists_every_task_and_alias():
    page = hooks.tasks_page()
    for meta in tasks().values():
        assert f"| `{meta.name}` |" in page
        for alias in meta.aliases:
            assert f"`{alias}`" in page
    assert "\\*SEM" in page  # a citation's "*SEM" is escaped, not an italic


def test_the_protocols_page_lists_every_preset_with_its_protocols():
    page = hooks.protocols_page()
    for name, preset in load_presets().items():
        row = next(r for r in page.splitlines() if r.startswith(f"| `{name}` |"))
        assert all(f"`{p.key}`" in row for p in preset.protocols)
    assert "`senteval-fasttest`" in page


def test_the_recipes_page_lists_every_recipe():
    page = hooks.recipes_page()
    assert all(f"| `{name}` |" in page for name in load_recipes())


def test_the_options_page_gives_every_option_its_flag_and_keyword():
    page = hooks.options_page()
    for f in dataclasses.fields(RunOptions):
        assert f"| `{flag_of(f)}` | `{f.name}` |" in page


def test_the_commands_page_has_every_command_once_under_its_new_name():
    page = hooks.commands_page()
    assert "## bench page" in page and "## bench report\n" not in page
    assert "## bench reports" in page and "## bench run" in page


@pytest.mark.long  # mkdocs build: about 14 s; CI builds the site in nox -s docs anyway
def test_the_site_builds_with_warnings_as_errors(tmp_path):
    try:
        import mkdocs  # noqa: F401  # heavy: mkdocs (the docs extra, not the test extra)
    except ImportError:
        pytest.skip("mkdocs is not installed (pip install 'sentbench[docs]'; nox -s docs)")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=dc.REPO, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "tasks" / "index.html").is_file()
