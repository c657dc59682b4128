"""Where bench keeps per-user state: one root, ``$XDG_CACHE_HOME/bench`` (``~/.cache/bench``)."""

from __future__ import annotations

import os
from pathlib import Path, PurePath


def user_cache_root() -> Path:
    """The folder for the embedding cache, the data download and the file-digest memo."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bench"


def relative_file(path: Path | str, folder: Path | str) -> str:
    """``path`` relative to ``folder`` (POSIX form), or its bare name when it lies elsewhere."""
    path = PurePath(path)
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name


RUNS_ENV = "BENCH_RUNS_DIR"
RUNS_DEFAULT = "runs"


def runs_root() -> Path:
    """The parent of run folders: ``$BENCH_RUNS_DIR``, else ``runs`` (in the current folder)."""
    return Path(os.environ.get(RUNS_ENV) or RUNS_DEFAULT).expanduser()


def recipe_run(run: str) -> Path:
    """A recipe's ``run`` path; ``runs/NAME`` means NAME under ``runs_root()``, so a recipe
    names a run the way ``bench train simcse --name NAME`` writes it."""
    path = Path(run).expanduser()
    if not path.is_absolute() and path.parts[:1] == (RUNS_DEFAULT,):
        return runs_root().joinpath(*path.parts[1:])
    return path
