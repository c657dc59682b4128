"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename.

The temporary file is removed on any exception, on Ctrl-C and on SIGTERM (turned into an
exception, ``Terminated``, for the duration of the write). Only SIGKILL can leave one behind; its unique dot-name
(``.<name>.<random>.tmp``) is never read as a report, and the next write to the same target
removes those older than an hour (``remove_stale_temporaries``).
"""

from __future__ import annotations

import glob
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

# Tests only: when set, a write stops after its data reached the temporary file and before
# the rename, prints "bench-atomic-paused <tmp>" on stdout and blocks reading one line from
# stdin, so a test can send SIGTERM at exactly that point without sleeping.
PAUSE_ENV = "BENCH_TEST_PAUSE_ATOMIC_WRITE"
STALE_AFTER_S = 3600.0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once: os.umask is process-wide, so never toggled while threads write


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived during an atomic write. A KeyboardInterrupt, so every cleanup on the
    way out runs (a report's sidecar written just before its JSON is removed again) and the
    command line ends as interrupted, as on Ctrl-C."""


@contextmanager
def sigterm_raises(enabled: bool = True) -> Iterator[None]:
    """During the block, SIGTERM raises ``Terminated`` (main thread only: signal handlers
    cannot be set elsewhere), so the cleanups on the way out run as on Ctrl-C (an atomic
    write's, or the encoder's write of what it encoded); afterwards the previous handler is
    back."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _pause_for_test(tmp: str) -> None:
    if os.environ.get(PAUSE_ENV):
        print(f"bench-atomic-paused {tmp}", flush=True)

        sys.stdin.readline()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary sibling of ``path``; on success it replaces ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, pattern=f".{glob.escape(path.name)}.*.tmp")
    with sigterm_raises():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would make reports private
            with os.fdopen(fd, mode, **kwargs) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            _pause_for_test(tmp)
            os.replace(tmp, path)
        except BaseException:
            _unlink(tmp)
            raise


def _atomic_create(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sigterm_raises():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.chmod(tmp, 0o666 & ~_UMASK)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # atomic and exclusive: fails if path exists
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links: reserve the name, then rename
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                os.replace(tmp, path)
        finally:
            _unlink(tmp)


def atomic_create_text(path: str | os.PathLike, text: str) -> None:
    """Like ``atomic_write_text`` but never replaces an existing file: FileExistsError if
    ``path`` exists (two runs started in the same second get distinct reports)."""
    _atomic_create(path, text.encode("utf-8"))


def atomic_create_bytes(path: str | os.PathLike, data: bytes) -> None:
    """``atomic_create_text`` for binary files (a new report's sidecar)."""
    _atomic_create(path, data)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Binary files (a report's per-pair sidecar), with the same guarantees."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def remove_stale_temporaries(folder: str | os.PathLike, older_than_s: float = STALE_AFTER_S,
                             pattern: str = ".*.tmp") -> int:
    """Delete temporaries that ``atomic_open`` left behind in ``folder`` when its process was
    killed (SIGKILL skips the cleanup). Only files older than ``older_than_s`` go, so another
    process's write in progress is left alone. Returns how many were removed."""
    removed = 0
    cutoff = time.time() - older_than_s
    for tmp in Path(folder).glob(pattern):
        try:
            if tmp.is_file() and tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed += 1
        except FileNotFoundError:
            pass  # another process cleaned it up first
    return removed
