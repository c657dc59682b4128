"""Where the declarative files (baselines/, protocols/) live.

In a source checkout (editable install) they are the top-level folders of the
repository; in a wheel they are shipped under ``bench/_resources``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder ``baselines`` or ``protocols``, preferring the checkout's copy."""
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_resources" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bench resource folder {name!r} is missing from the installation")


def repo_root() -> Path | None:
    """The source checkout's root when bench runs from one, else None."""
    root = _PACKAGE.parent
    return root if (root / "pyproject.toml").is_file() else None
