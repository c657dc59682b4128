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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.sts import PairSet, StsTask, _read_text
from bench.errors import DataError

FORMATS = ("tsv", "csv", "jsonl")
Column = str | int  # a header name, or a 0-based index in a file without header


def _rows(path: Path, fmt: str, header: bool) -> Iterator[tuple[int, dict[Column, Any]]]:
    """(line number, row) per record; a row maps column name (or index) to its raw value."""
    text = _read_text(path)
    if fmt == "jsonl":
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: invalid JSON ({exc.msg}, column "
                                f"{exc.colno})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object, got "
                                f"{type(row).__name__}")
            yield lineno, row
        return
    delimiter = "\t" if fmt == "tsv" else ","
    # tsv: no quoting (STS sentences contain bare quotes, as SentEval's files do)
    quoting = csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    names: list[str] | None = None
    width: int | None = None
    for cols in reader:
        lineno = reader.line_num
        if not cols or (len(cols) == 1 and not cols[0].strip()):
            continue  # a blank line (a trailing newline) is no record
        if header and names is None:
            names = [c.strip() for c in cols]
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
                texts.append(" ".join(str(self._get(row, column, path, lineno)).split()))
                if not texts[-1]:
                    raise DataError(f"{_where(path, lineno, column)}: empty sentence")
            raw = self._get(row, self.score, path, lineno)
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise DataError(f"{_where(path, lineno, self.score)}: score {raw!r} is not a "
                                f"number") from None
            if not (np.isfinite(value) and lo <= value <= hi):
                raise DataError(f"{_where(path, lineno, self.score)}: score {raw!r} outside the "
                                f"declared range [{lo:g}, {hi:g}]")
            s1.append(texts[0])
            s2.append(texts[1])
            gold.append(value)
        if not gold:
            raise DataError(f"{path}: no sentence pairs (empty file)")
        return PairSet(part, tuple(s1), tuple(s2), np.asarray(gold, dtype=np.float64), path)

    @staticmethod
    def _get(row: dict[Column, Any], column: Column, path: Path, lineno: int) -> Any:
        if column not in row or row[column] is None:
            have = ", ".join(repr(k) for k in row) if isinstance(column, str) else len(row)
            raise DataError(f"{_where(path, lineno, column)}: missing (the row has {have})")
        return row[column]
