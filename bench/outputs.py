"""Output paths: checked before any expensive work starts, and a fallback when the final
write fails anyway (full disk, folder removed meanwhile), so a computed result is never lost."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.errors import BenchError

FALLBACK_FOLDER = "bench-reports"


class OutputError(BenchError):
    """An output path that cannot be written (message names the path and the option)."""


def check_folder(folder: Path, what: str) -> None:
    """Create ``folder`` if needed and prove it writable by creating a file in it (a
    permission check would say yes to root on a read-only mount)."""
    folder = Path(folder)
    blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise OutputError(f"{what} {folder}: {blocker} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".bench-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{what} {folder} is not writable ({exc.strerror or exc})") from None


def check_file(path: Path, what: str) -> None:
    """``path`` can be created or replaced: not a folder, and its folder is writable."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path} is a folder; give a file name")
    check_folder(path.parent, what)


def fallback_path(path: Path) -> Path:
    """Where a result goes when ``path`` cannot be written: the system temp folder."""
    folder = Path(tempfile.gettempdir()) / FALLBACK_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{Path(path).stem}-", suffix=Path(path).suffix or ".json",
                                dir=folder)
    os.close(fd)
    return Path(name)
