"""The ``bench ...`` lines of the documentation (docs/*.md), and how a test runs them.

Every line that starts with ``bench `` inside a fenced ``bash`` block of a page in
``mkdocs.yml``'s nav is a command (``torchrun ...``, ``pip ...`` and lines that set variables
first are not: they are shown, not run). Pages are read in nav order and lines in page order,
and they run in that order in one folder, as a reader would type them, so a line may use what
an earlier one wrote (``bench export mteb`` the report of the ``--protocol mteb`` run).

Each line runs in-process (``bench.cli.main``) in a temporary folder holding a copy of
``reports/`` (so ``reports index`` and new run reports never touch the checkout) and of the
example data under ``tests/data`` the pages name, with the SentEval data, a shared embedding
cache, no model hub and no internet. A line's trailing comment says what to expect:

- ``# needs a hub``, ``# needs a GPU``, ``# needs a trained run``, ``# needs the internet``
  (joined by ``or``): the line must fail with ONE ``bench: error:`` line that gives every
  reason named (``hub``, ``CUDA``, ``bench train simcse``, ``internet``); on a machine with
  a GPU a line that needs only a GPU must run;
- ``# slow ...``: minutes of work (training, whole suites): the line must succeed when run
  in full, which ``nox -s long`` does (pytest marker ``long``); ``nox -s tests`` checks that
  it parses (``bench``'s own argument parser) and that what it names exists;
- anything else: the line must succeed.

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

import torch
import yaml

from bench.cli import build_parser, main
from bench.commands.common import split_list
from bench.errors import BenchError
from bench.protocols import parse_protocols, parse_transfer
from bench.recipes import load_recipes
from bench.tasks.registry import select
from tests.sts_files import unregister_task_files

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
# what each reason must make the error line say
REASONS = {"a hub": "hub", "a gpu": "CUDA", "a trained run": "bench train simcse",
           "the internet": "internet"}
FENCE = re.compile(r"^\s*```")


@dataclass(frozen=True)
class Line:
    where: str  # "docs/how-to/evaluate.md:17"
    argv: tuple[str, ...]  # after "bench"
    needs: tuple[str, ...]  # the reasons it must fail with; empty: it must succeed
    slow: bool

    def __str__(self) -> str:
        return f"{self.where}: bench {' '.join(self.argv)}"


def parse_line(text: str, where: str) -> Line:
    """One ``bench ...`` line: its arguments and the expectation its comment states."""
    command, _, comment = text.partition(" #")
    comment = comment.strip().lower()
    needs: tuple[str, ...] = ()
    if comment.startswith("needs "):
        needs = tuple(r.strip() for r in comment.removeprefix("needs ").split(" or "))
        unknown = [r for r in needs if r not in REASONS]
        if unknown:
            raise ValueError(f"{where}: unknown reason {unknown[0]!r}; "
                             f"known: {', '.join(REASONS)}")
    words = shlex.split(command)
    assert words[0] == "bench", f"{where}: not a bench command"
    return Line(where, tuple(words[1:]), needs, comment.startswith("slow"))


def code_blocks(text: str, language: str) -> Iterator[tuple[int, list[str]]]:
    """(line number of the first line, lines) of each fenced block in ``language``; indented
    fences (a block inside a list item) count, their indentation removed."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            indent = len(lines[i]) - len(lines[i].lstrip())
            lang = lines[i].strip().removeprefix("```").strip()
            end = next(j for j in range(i + 1, len(lines)) if FENCE.match(lines[j]))
            if lang == language:
                yield i + 2, [x[indent:] for x in lines[i + 1:end]]
            i = end
        i += 1


def command_lines(text: str, name: str) -> list[Line]:
    """Every ``bench`` line of the page's bash blocks."""
    return [parse_line(line, f"{name}:{first + k}")
            for first, block in code_blocks(text, "bash")
            for k, line in enumerate(block) if line.startswith("bench ")]


def nav_pages() -> list[Path]:
    """The pages of mkdocs.yml's nav that are files in docs/ (not the generated ones), in
    order."""
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))

    def walk(node) -> Iterator[str]:
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)

    return [DOCS / p for p in walk(config["nav"]) if (DOCS / p).is_file()]


def doc_lines() -> list[Line]:
    return [line for page in nav_pages()
            for line in command_lines(page.read_text(encoding="utf-8"),
                                      str(page.relative_to(REPO)))]


def _no_internet(*args, **kwargs):
    raise urllib.error.URLError("network is unreachable (cut by tests/doc_commands.py)")


def make_folder(folder: Path) -> Path:
    """A folder like the checkout's root: a copy of reports/ and of the example data under
    tests/data that the pages name."""
    shutil.copytree(REPO / "reports", folder / "reports")
    for sub in ("tasks", "mteb", "neighbors"):
        shutil.copytree(REPO / "tests" / "data" / sub, folder / "tests" / "data" / sub)
    return folder


def enter(folder: Path, data_dir: Path, monkeypatch) -> None:
    """The folder as the working directory, with the data, runs/ inside it and no internet
    (cut here, so a test is the same on any machine; tests/conftest.py cuts the hub)."""
    monkeypatch.chdir(folder)
    monkeypatch.setenv("BENCH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("BENCH_RUNS_DIR", str(folder / "runs"))
    monkeypatch.setattr(urllib.request, "urlopen", _no_internet)


def leave() -> None:
    unregister_task_files()  # a --task-file line registers its task for this process only


def available(reason: str) -> bool:
    """Whether this machine has what a line needs (then the line must run)."""
    return reason == "a gpu" and torch.cuda.is_available()


def expand(argv: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for word in argv:
        out += sorted(glob.glob(word)) if any(c in word for c in "*?[") else [word]
    return out


def check(line: Line, capsys) -> None:
    """Run the line; fail with the line's position unless it behaves as documented."""
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
    assert rc != 0, f"{line} succeeded, but the docs say it needs {' or '.join(line.needs)}"
    assert len(errors) == 1 and err.endswith(errors[0]), f"{line}: not one error line: {err}"
    for reason in line.needs:
        assert REASONS[reason].lower() in errors[0].lower(), (
            f"{line} failed, but not for the documented reason ({reason}): {errors[0]}")


@functools.cache
def _recipes() -> dict:
    return load_recipes()


def check_slow(line: Line) -> None:
    """What ``nox -s tests`` checks of a slow line without its minutes of work: bench's parser
    takes it as written, and every recipe, training recipe or recipe set, protocol, transfer
    protocol and task it names exists (a model under runs/ is made by an earlier slow line)."""
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
    if recipe is not None and "/" in recipe:  # SET/NAME: one recipe of a recipe set
        folder, _, name = recipe.partition("/")
        found = load_recipes(REPO / "baselines" / folder).get(name)
        assert found is not None and "train" in found.extra, f"{line}: no {recipe!r}"
    elif recipe is not None:
        assert recipe in recipes and "train" in recipes[recipe].extra, (
            f"{line}: no training recipe {recipe!r}")
    recipe_set = getattr(args, "recipe_set", None)
    if recipe_set is not None:
        assert load_recipes(REPO / "baselines" / recipe_set), f"{line}: no set {recipe_set!r}"
    try:
        if getattr(args, "protocol", None):
            parse_protocols(args.protocol)
        if getattr(args, "transfer_protocol", None):
            parse_transfer(args.transfer_protocol)
        if getattr(args, "tasks", None):
            select(split_list(args.tasks))
    except BenchError as exc:
        raise AssertionError(f"{line}: {exc}") from None


# Lines that a test must refuse (the check is not a formality).
BROKEN_SLOW = [
    "bench run --modle minilm-avg --tasks STS-B   # slow",  # the parser refuses it
    "bench run --model minlm-avg --tasks STS-B   # slow",  # no such recipe
    "bench run --model minilm-avg --protocol all-spearmann   # slow",
    "bench run --model minilm-avg --tasks STS-C   # slow",
    "bench run --model minilm-avg --tasks transfer --transfer-protocol senteval-fastest  # slow",
    "bench train simcse --recipe minilm-avg   # slow",  # a recipe, but not a training one
    "bench train simcse --recipe-set figure3-minilm-cpu   # slow",  # no such recipe set
    "bench train simcse --recipe ablations-minilm-cpu/unsup-simcsx   # slow",
]
BROKEN = [
    "bench run --model minilm-avg --tasks STS13 --protocol all-spearmann",  # a typo
    "bench run --model glove-avg --tasks STS13    # needs a hub",  # runs fine offline
    "bench run --model no-such-recipe --tasks STS13   # needs a GPU",  # fails, other reason
    "bench compare reports/minilm-avg-sts-all.json",  # a report that is not there
    "bench run --model glove-avg --tasks STS13 --transfer-protocol senteval-fastest",
]

