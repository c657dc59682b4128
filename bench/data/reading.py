"""Read each data file once and remember the sha256 of exactly the bytes that were parsed.

A run's report says which files its numbers come from (``data.sha256``) and whether they
match the manifest. Hashing the files in a second pass, after parsing, would vouch for
whatever lies on disk at that moment: a file swapped in between is parsed as one thing and
reported as another. So readers take their text from ``read_text``, which reads the bytes
once, records their digest in the active ``recording()`` log, and decodes those same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from bench.errors import DataError

_LOG: ContextVar[dict[Path, str] | None] = ContextVar("bench_data_read_log", default=None)


@contextmanager
def recording() -> Iterator[dict[Path, str]]:
    """Collect ``resolved path -> sha256 of the bytes read`` for every file read inside."""
    log: dict[Path, str] = {}
    token = _LOG.set(log)
    try:
        yield log
    finally:
        _LOG.reset(token)


def read_bytes(path: Path) -> bytes:
    """A data file's bytes, read once; their digest goes into the active log. A file read
    twice with different contents in one recording is an error (it changed under the run)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing data file: {path}")
    data = path.read_bytes()
    log = _LOG.get()
    if log is not None:
        key = path.resolve()
        digest = hashlib.sha256(data).hexdigest()
        if log.setdefault(key, digest) != digest:
            raise DataError(f"{path} changed while it was being read (two reads gave different "
                            f"bytes); is another process writing it?")
    return data


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """``open(path, encoding=...).read()`` on the recorded bytes: same decoding, same
    universal-newline translation, so parsers see exactly what they always saw."""
    data = read_bytes(path)
    try:
        return io.TextIOWrapper(io.BytesIO(data), encoding=encoding).read()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid {encoding} ({exc.reason} at byte {exc.start})"
                        ) from None


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json``'s ``object_pairs_hook`` for files others made: with a repeated key, viewers and
    parsers disagree about which value counts (Python keeps the last), so it is an error."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (bench writes null for a number that is not one)")


# Larger than any JSON file bench writes or reads (reports are tens of kilobytes; schema-1
# reports with inline pairs a few megabytes; an MTEB result file less).
MAX_JSON_BYTES = 256 * 1024 * 1024


def strict_json(path: Path, max_bytes: int | None = None) -> Any:
    """The JSON value in ``path``, read as a file someone else made: bounded in size, strict
    (no ``NaN``/``Infinity``, no key given twice, no nesting deep enough to exhaust the
    stack). Raises ``ValueError`` with the reason (OSError when it cannot be read)."""
    max_bytes = MAX_JSON_BYTES if max_bytes is None else max_bytes
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{size:,} bytes, more than the {max_bytes:,} read at most")
    try:
        return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=unique_keys,
                          parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
