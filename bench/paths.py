"""Where bench keeps per-user state: one root, ``$XDG_CACHE_HOME/bench`` (``~/.cache/bench``)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_root() -> Path:
    """The folder for the embedding cache, the data download and the file-digest memo."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bench"
