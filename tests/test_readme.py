"""The README's "Using it" commands work as written.

Every ``bench ...`` line of that code block is run in-process (``bench.cli.main``) in a
temporary folder holding a copy of ``reports/`` (so ``reports index`` and new run reports
never touch the checkout), with the SentEval data, a shared embedding cache and no model hub.
A line's trailing comment says what to expect:

- ``# needs a hub``, ``# needs a GPU``, ``# needs a trained run``, ``# needs the internet``
  (joined by ``or``): the line must fail with ONE ``bench: error:`` line that gives every
  reason named (``hub``, ``CUDA``, ``bench train simcse``, ``internet``); on a machine with
  a GPU a line that needs only a GPU must run;
- ``# slow ...``: minutes of work (training, whole suites): the line must succeed when run
  in full, which ``nox -s long`` does (pytest marker ``long``); ``nox -s tests`` only checks
  that it parses (``bench``'s own argument parser);
- anything else: the line must succeed, in the fast test.

The lines run in order in one folder, as a user would type them, so a line may use what an
earlier line wrote (``bench export mteb`` the report of the ``--protocol mteb`` run).

Shell globs (``reports/*.json``) are expanded against the folder, as a shell would.
"""

from __future__ import annotations

import functools
import glob
import re
import shlex
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from bench.cli import build_parser, main
from bench.commands.common import split_list
from bench.errors import BenchError
from bench.protocols import parse_protocols, parse_transfer
from bench.recipes import load_recipes
from bench.tasks.registry import select
from tests.sts_files import unregister_task_files

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SECTION = "## Using it"
# what each README reason must make the error line say
REASONS = {"a hub": "hub", "a gpu": "CUDA", "a trained run": "bench train simcse",
           "the internet": "internet"}


@dataclass(frozen=True)
class Line:
    number: int  # in README.md
    argv: tuple[str, ...]  # after "bench"
    needs: tuple[str, ...]  # the reasons it must fail with; empty: it must succeed
    slow: bool

    def __str__(self) -> str:
        return f"README.md:{self.number}: bench {' '.join(self.argv)}"


def parse_line(text: str, number: int) -> Line:
    """One ``bench ...`` line: its arguments and the expectation its comment states."""
    command, _, comment = text.partition(" #")
    comment = comment.strip().lower()
    needs: tuple[str, ...] = ()
    if comment.startswith("needs "):
        needs = tuple(r.strip() for r in comment.removeprefix("needs ").split(" or "))
        unknown = [r for r in needs if r not in REASONS]
        if unknown:
            raise ValueError(f"README.md:{number}: unknown reason {unknown[0]!r}; "
                             f"known: {', '.join(REASONS)}")
    words = shlex.split(command)
    assert words[0] == "bench", f"README.md:{number}: not a bench command"
    return Line(number, tuple(words[1:]), needs, comment.startswith("slow"))


def usage_lines(text: str) -> list[Line]:
    """Every ``bench`` line of the first code block after the "Using it" heading."""
    lines = text.splitlines()
    start = lines.index(SECTION)
    opening = next(i for i in range(start, len(lines)) if lines[i].startswith("```"))
    closing = next(i for i in range(opening + 1, len(lines)) if lines[i].startswith("```"))
    return [parse_line(lines[i], i + 1) for i in range(opening + 1, closing)
            if lines[i].startswith("bench ")]


LINES = usage_lines(README.read_text(encoding="utf-8"))


def _no_internet(*args, **kwargs):
    raise urllib.error.URLError("network is unreachable (cut by tests/test_readme.py)")


@pytest.fixture(scope="module")
def readme_folder(tmp_path_factory) -> Path:
    """A folder like the checkout's root, shared by the lines of one module run: a copy of
    reports/ and of the example data under tests/data the README names."""
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(REPO / "reports", folder / "reports")
    for sub in ("tasks", "mteb"):
        shutil.copytree(REPO / "tests" / "data" / sub, folder / "tests" / "data" / sub)
    return folder


@pytest.fixture
def workdir(readme_folder, data_dir, monkeypatch) -> Iterator[Path]:
    """The README folder as the working directory, with the data, runs/ inside it, no hub
    (tests/conftest.py) and no internet (cut here, so the test is the same on any machine)."""
    monkeypatch.chdir(readme_folder)
    monkeypatch.setenv("BENCH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("BENCH_RUNS_DIR", str(readme_folder / "runs"))
    monkeypatch.setattr(urllib.request, "urlopen", _no_internet)
    yield readme_folder
    unregister_task_files()  # a --task-file line registers its task for this process only


def available(reason: str) -> bool:
    """Whether this machine has what a README line needs (then the line must run)."""
    return reason == "a gpu" and torch.cuda.is_available()


def expand(argv: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for word in argv:
        out += sorted(glob.glob(word)) if any(c in word for c in "*?[") else [word]
    return out


def check(line: Line, capsys) -> None:
    """Run the line; fail with the line's README position unless it behaves as documented."""
    capsys.readouterr()
    try:
        rc = main(expand(line.argv))
    except SystemExit as exc:  # argparse rejects the line
        rc = exc.code
    err = capsys.readouterr().err.strip()
    if not line.needs or all(available(r) for r in line.needs):
        assert rc == 0, f"{line} failed (exit {rc}): {err[-500:]}"
        return
    errors = [e for e in err.splitlines() if e.startswith("bench: error:")]
    assert rc != 0, f"{line} succeeded, but the README says it needs {' or '.join(line.needs)}"
    assert len(errors) == 1 and err.endswith(errors[0]), f"{line}: not one error line: {err}"
    for reason in line.needs:
        assert REASONS[reason].lower() in errors[0].lower(), (
            f"{line} failed, but not for the README's reason ({reason}): {errors[0]}")


def test_the_usage_section_is_found_and_covers_every_command():
    assert len(LINES) >= 20
    commands = {line.argv[0] for line in LINES}
    assert {"list", "run", "train", "analyze", "compare", "reports", "data", "cache",
            "perf"} <= commands
    assert any(line.needs for line in LINES) and any(line.slow for line in LINES)


@pytest.mark.slow  # each line runs a real command end to end (encodes, compares): seconds to a minute
@pytest.mark.parametrize("line", [x for x in LINES if not x.slow], ids=str)
def test_readme_line(line, workdir, capsys):
    check(line, capsys)


@functools.cache
def _recipes() -> dict:
    return load_recipes()


def check_slow(line: Line) -> None:
    """What ``nox -s tests`` checks of a slow line without its minutes of work: bench's parser
    takes it as written, and every recipe, training recipe, protocol, transfer protocol and task
    it names exists (a model under runs/ is made by an earlier slow line)."""
    try:
        args = build_parser().parse_args(line.argv)
    except SystemExit as exc:
        raise AssertionError(f"{line}: bench's parser refuses it (exit {exc.code})") from None
    assert args.command == line.argv[0], f"{line}: parsed as {args.command!r}"
    recipes = _recipes()
    model = getattr(args, "model", None)
    for name in (model if isinstance(model, list) else [model] if model else []):
        assert name.startswith("runs/") or name in recipes, f"{line}: no recipe {name!r}"
    recipe = getattr(args, "recipe", None)
    if recipe is not None:
        assert recipe in recipes and "train" in recipes[recipe].extra, (
            f"{line}: no training recipe {recipe!r}")
    try:
        if getattr(args, "protocol", None):
            parse_protocols(args.protocol)
        if getattr(args, "transfer_protocol", None):
            parse_transfer(args.transfer_protocol)
        if getattr(args, "tasks", None):
            select(split_list(args.tasks))
    except BenchError as exc:
        raise AssertionError(f"{line}: {exc}") from None


@pytest.mark.parametrize("line", [x for x in LINES if x.slow], ids=str)
def test_slow_readme_line_parses(line):
    check_slow(line)


@pytest.mark.parametrize("text", [
    "bench run --modle minilm-avg --tasks STS-B   # slow",  # the parser refuses it
    "bench run --model minlm-avg --tasks STS-B   # slow",  # no such recipe
    "bench run --model minilm-avg --protocol all-spearmann   # slow",
    "bench run --model minilm-avg --tasks STS-C   # slow",
    "bench run --model minilm-avg --tasks transfer --transfer-protocol senteval-fastest  # slow",
    "bench train simcse --recipe minilm-avg   # slow",  # a recipe, but not a training one
])
def test_a_broken_slow_line_fails_the_test(text):
    with pytest.raises(AssertionError, match=re.escape("README.md:1: bench ")):
        check_slow(parse_line(text, 1))


@pytest.mark.long
@pytest.mark.parametrize("line", LINES, ids=str)
def test_readme_line_in_full(line, workdir, capsys):
    check(line, capsys)


@pytest.mark.parametrize("text", [
    "bench run --model minilm-avg --tasks STS13 --protocol all-spearmann",  # a typo
    "bench run --model glove-avg --tasks STS13    # needs a hub",  # runs fine offline
    "bench run --model no-such-recipe --tasks STS13   # needs a GPU",  # fails, other reason
    "bench compare reports/minilm-avg-sts-all.json",  # a report that is not there
    "bench run --model glove-avg --tasks STS13 --transfer-protocol senteval-fastest",
])
def test_a_broken_line_fails_the_test(text, workdir, capsys):
    with pytest.raises(AssertionError, match=re.escape("README.md:1: bench ")):
        check(parse_line(text, 1), capsys)


def test_an_unknown_reason_is_refused():
    with pytest.raises(ValueError, match="unknown reason 'a fast machine'"):
        parse_line("bench perf sts   # needs a fast machine", 3)
