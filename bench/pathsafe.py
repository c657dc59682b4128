"""Paths that input files or output options could turn against the user.

A report, a result folder or an analysis JSON may come from anyone: a path built from its
content must stay one plain name inside the folder it is meant for (``inside``), and an output
option must never name one of the inputs, whose content would be replaced by the output before
anything warns (``check_not_input``). Both are checked before any work starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from bench.errors import BenchError
from bench.pairs import sidecar_path
from bench.textsafe import printable

# one folder or file name: no separator, no control character, not "." or ".." (a drive,
# "C:x" on Windows, is caught where it matters: every target is resolved and checked)
_NAME = re.compile(r"[^/\\\x00-\x1f\x7f]{1,200}")


class UnsafePathError(BenchError):
    """A file's content or an option names a path bench must not write (message: what, where)."""


def show(value: object, limit: int = 60) -> str:
    """A file-given value quoted for an error line: escaped, cut to ``limit`` characters."""
    if not isinstance(value, str):
        text = printable(repr(value))
        return text if len(text) <= limit else text[:limit] + "..."
    return repr(printable(value if len(value) <= limit else value[:limit] + "..."))


def is_name(text: object) -> bool:
    """``text`` is a single harmless file or folder name (no separator, not ``.``/``..``)."""
    return (isinstance(text, str) and _NAME.fullmatch(text) is not None
            and text.strip(". ") != "")


def inside(root: Path, rel: Path, where: str) -> Path:
    """``root / rel``, refused unless it resolves (symbolic links followed) below ``root``."""
    base = Path(root).resolve()
    target = (base / rel).resolve()
    if target == base or base not in target.parents:
        raise UnsafePathError(f"{where}: would write {show(str(rel))}, outside {root}; "
                              f"nothing written")
    return Path(root) / rel


def _same(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_not_input(output: Path, inputs: Iterable[Path], what: str) -> None:
    """Refuse an output that is one of ``inputs`` (or lies in an input folder, where it would
    be read), before anything is read or computed: writing it would destroy the input."""
    output = Path(output)
    for given in inputs:
        given = Path(given)
        if given.is_dir():
            if output.suffix == ".json" and given.resolve() in output.resolve().parents:
                raise UnsafePathError(f"{what} {output}: lies in the input folder {given}, "
                                      f"whose JSON files are read; choose another file")
            continue
        if _same(output, given):
            raise UnsafePathError(f"{what} {output}: is also an input ({given}); writing it "
                                  f"would replace that file; choose another name")


def with_sidecars(paths: Iterable[Path]) -> list[Path]:
    """Report files and the per-pair sidecar (``<report>.pairs.npz``) each may have."""

    out = []
    for p in map(Path, paths):
        out.append(p)
        if p.suffix == ".json":
            out.append(sidecar_path(p))
    return out
