"""Find the SentEval ``downstream`` folder: --data-dir, then $BENCH_DATA_DIR, then a cache folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bench.errors import DataError
from bench.paths import user_cache_root

ENV_VAR = "BENCH_DATA_DIR"


def default_data_root() -> Path:
    """Per-user cache folder that ``bench data download`` fills."""
    return user_cache_root() / "senteval"


@dataclass(frozen=True)
class DataLocation:
    downstream: Path  # the folder holding STS/, SICK/, MR/, ... (any name; manifest keys are
    #                   relative to it)
    source: str  # "--data-dir", "$BENCH_DATA_DIR" or "default cache"


def _as_downstream(path: Path) -> Path:
    """Accept either the ``downstream`` folder itself or the folder that contains it."""
    return path / "downstream" if (path / "downstream").is_dir() else path


def candidate(data_dir: str | os.PathLike | None = None) -> DataLocation:
    """Where data would be looked for, without checking that it exists."""
    if data_dir:
        return DataLocation(_as_downstream(Path(data_dir).expanduser()), "--data-dir")
    env = os.environ.get(ENV_VAR)
    if env:
        return DataLocation(_as_downstream(Path(env).expanduser()), "$" + ENV_VAR)
    return DataLocation(_as_downstream(default_data_root()), "default cache")


def locate(data_dir: str | os.PathLike | None = None) -> DataLocation:
    """Resolve the data folder or fail with one line saying where it looked and what to do."""
    loc = candidate(data_dir)
    if not loc.downstream.is_dir():
        raise DataError(
            f"data folder not found: {loc.downstream} (from {loc.source}); pass --data-dir, "
            f"set ${ENV_VAR}, or run 'bench data download'"
        )
    return loc
