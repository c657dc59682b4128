"""A reader for users' own STS files: tsv, csv or jsonl, columns named or numbered.

SentEval's readers (``bench.data.sts``) stay as they are for the built-in tasks: they
reproduce SentEval's quirks (dropped empty gold lines, extra columns ignored). Files declared
in a task file (``bench.tasks.taskfile``) are read strictly instead: every row must have the
declared columns, every sentence must be non-empty, every score must lie in the declared
range, and an empty file is an error, so a ragged file never becomes a silently short task.
Errors name the file, the line and the column. Sentences are white-space normalised as
SentEval's batcher does (tokens joined with one space), so built-in and user tasks see text
the same way.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.reading import unique_keys
from bench.data.sts import PairSet, StsTask, _read_text
from bench.errors import DataError

FORMATS = ("tsv", "csv", "jsonl")
Column = str | int  # a header name, or a 0-based index in a file without header
# STS data sets are megabytes (SICK, STS-B: about 1 MB a split); a file past this is refused
# before it is read into memory, not read until the machine runs out of it.
MAX_FILE_BYTES = 1 << 30
# Each scored part needs at least this many pairs: with two, any similarity correlates +-1
# with gold (two points always lie on a line; two ranks agree or are reversed), so the score
# says nothing of the model; three is the fewest for which it can say anything.
MIN_PAIRS = 3


def _check_file(path: Path) -> None:
    """A regular file of sane size (not a folder, a device such as /dev/zero, or a FIFO,
    which would block the run)."""
    if path.exists() and not path.is_file():
        raise DataError(f"{path}: not a regular file")
    if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
        raise DataError(f"{path}: {path.stat().st_size} bytes, more than the "
                        f"{MAX_FILE_BYTES >> 20} MiB a task file's data file may have")


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    """Raise csv's per-field limit (128 KiB by default) to ``limit`` while one file is read:
    the text is in memory already, and an over-long sentence is truncated at encoding."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, limit))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _rows(path: Path, fmt: str, header: bool) -> Iterator[tuple[int, dict[Column, Any]]]:
    """(line number, row) per record; a row maps column name (or index) to its raw value."""
    _check_file(path)
    text = _read_text(path).removeprefix("\ufeff")  # a byte-order mark is no column name
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise DataError(f"{path}:{line}: NUL byte (a binary file, or not UTF-8 text)")
    if fmt == "jsonl":
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line, object_pairs_hook=unique_keys)
            except ValueError as exc:
                if not isinstance(exc, json.JSONDecodeError):
                    raise DataError(f"{path}:{lineno}: {exc}") from None
                raise DataError(f"{path}:{lineno}: invalid JSON ({exc.msg}, column "
                                f"{exc.colno})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object, got "
                                f"{type(row).__name__}")
            yield lineno, row
        return
    with _field_limit(len(text) + 1):
        yield from _table_rows(path, text, fmt, header)


def _table_rows(path: Path, text: str, fmt: str, header: bool
                ) -> Iterator[tuple[int, dict[Column, Any]]]:
    delimiter = "\t" if fmt == "tsv" else ","
    # tsv: no quoting (STS sentences contain bare quotes, as SentEval's files do)
    quoting = csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    names: list[str] | None = None
    width: int | None = None
    while True:
        try:
            cols = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{path}:{reader.line_num}: invalid {fmt} ({exc})") from None
        lineno = reader.line_num
        if not cols or (len(cols) == 1 and not cols[0].strip()):
            continue  # a blank line (a trailing newline) is no record
        if header and names is None:
            names = [c.strip() for c in cols]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:  # a row would silently keep the last column of that name
                raise DataError(f"{path}:{lineno}: column {twice[0]!r} appears twice in the "
                                f"header")
            width = len(names)
            continue
        if width is None:
            width = len(cols)
        if len(cols) != width:
            what = "the header's" if header else "the first row's"
            raise DataError(f"{path}:{lineno}: {len(cols)} {fmt} columns, expected {width} "
                            f"({what} count)")
        yield lineno, (dict(zip(names, cols)) if names is not None else dict(enumerate(cols)))


def _where(path: Path, lineno: int, column: Column) -> str:
    what = f"column {column!r}" if isinstance(column, str) else f"column {column + 1}"
    return f"{path}:{lineno}: {what}"


@dataclass(frozen=True)
class RecordsReader:
    """One file per part (split or subset) in ``root``; sentences and score in named or
    numbered columns; scores must lie in ``score_range``."""

    root: Path  # the task file's folder: relative file names are resolved against it
    part_files: tuple[tuple[str, str], ...]  # (part, file as written in the task file)
    format: str
    sentence1: Column
    sentence2: Column
    score: Column
    score_range: tuple[float, float]
    header: bool = True

    def path(self, name: str) -> Path:
        return (self.root / Path(name).expanduser()).resolve()

    def files(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.part_files)

    def load(self, data_dir: Path, meta: Any) -> StsTask:
        """``data_dir`` is not used: a task file's data lives beside the task file."""
        parts = {part: self.read(self.path(name), part) for part, name in self.part_files}
        return StsTask(meta.name, parts, tuple(self.path(n) for _, n in self.part_files), meta)

    def read(self, path: Path, part: str) -> PairSet:
        lo, hi = self.score_range
        s1: list[str] = []
        s2: list[str] = []
        gold: list[float] = []
        for lineno, row in _rows(path, self.format, self.header):
            texts = []
            for column in (self.sentence1, self.sentence2):
                raw_text = self._get(row, column, path, lineno)
                if not isinstance(raw_text, str):  # jsonl: 5 or [..] is no sentence
                    raise DataError(f"{_where(path, lineno, column)}: expected a string, got "
                                    f"{type(raw_text).__name__}")
                texts.append(" ".join(raw_text.split()))
                if not texts[-1]:
                    raise DataError(f"{_where(path, lineno, column)}: empty sentence")
            raw = self._get(row, self.score, path, lineno)
            try:
                if isinstance(raw, bool):  # jsonl: true is no score
                    raise TypeError
                value = float(raw)
            except (TypeError, ValueError):
                raise DataError(f"{_where(path, lineno, self.score)}: score {raw!r} is not a "
                                f"number") from None
            if not np.isfinite(value):
                raise DataError(f"{_where(path, lineno, self.score)}: score {raw!r} is not "
                                f"finite")
            if not lo <= value <= hi:
                raise DataError(f"{_where(path, lineno, self.score)}: score {raw!r} outside the "
                                f"declared range [{lo:g}, {hi:g}]")
            s1.append(texts[0])
            s2.append(texts[1])
            gold.append(value)
        if not gold:
            raise DataError(f"{path}: no sentence pairs (empty file)")
        self._check_scorable(path, gold)
        return PairSet(part, tuple(s1), tuple(s2), np.asarray(gold, dtype=np.float64), path)

    def _check_scorable(self, path: Path, gold: list[float]) -> None:
        """Every part is correlated with gold (the scored parts, and train/dev too): refuse,
        before any encoding, a part on which Pearson and Spearman are undefined (constant
        gold) or can only be +-100 (fewer than ``MIN_PAIRS`` pairs)."""
        what = (f"column {self.score!r}" if isinstance(self.score, str)
                else f"column {self.score + 1}")
        if len(gold) < MIN_PAIRS:
            raise DataError(f"{path}: {len(gold)} sentence pair(s); a part needs at least "
                            f"{MIN_PAIRS} (with 2, any model correlates +-100 with gold)")
        if min(gold) == max(gold):
            raise DataError(f"{path}: {what}: every gold score is {gold[0]:g}; a correlation "
                            f"with constant gold is undefined (at least two different scores "
                            f"are needed)")

    def labels(self) -> dict[str, str]:
        """How a report names each data file: its path relative to the task file's folder,
        or, for a file outside it, its name alone (with the part, when two share a name):
        a report carries no machine path."""
        root = self.root.resolve()
        out: dict[str, str] = {}
        for part, name in self.part_files:
            path = self.path(name)
            label = (path.relative_to(root).as_posix() if path.is_relative_to(root)
                     else path.name)
            taken = {v: k for k, v in out.items()}
            if label in taken and self.path(taken[label]) != path:
                label = f"{part}/{label}"
            out.setdefault(name, label)
        return out

    @staticmethod
    def _get(row: dict[Column, Any], column: Column, path: Path, lineno: int) -> Any:
        if column not in row or row[column] is None:
            have = ", ".join(repr(k) for k in row) if isinstance(column, str) else len(row)
            raise DataError(f"{_where(path, lineno, column)}: missing (the row has {have})")
        return row[column]
