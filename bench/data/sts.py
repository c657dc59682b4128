"""STS readers that reproduce SentEval's loaders (``senteval/sts.py``, ``senteval/sick.py``)
and SimCSE's fork of them exactly.

What matters for comparability (SentEval ``sts.py``, ``sick.py``):
- STS12-16: ``STS.input.<subset>.txt`` (two tab-separated sentences) and
  ``STS.gs.<subset>.txt``; a pair whose gold line is the empty string is dropped.
- STS-B: ``sts-{train,dev,test}.csv``, score in column 5, sentences in columns 6-7.
- SICK-R: header line skipped; sentences in columns 2-3, relatedness in column 4;
  the trial file is the dev split.
- SICK-R as MTEB scores it (``SickrSTS``, dataset ``mteb/sickr-sts``): every pair of the
  corpus, train + trial + test (9,927), as one part (``PooledColumnsReader``).
- SentEval splits every sentence on white space and the batcher joins the tokens
  with one space, so that is the text an encoder sees.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.reading import read_text
from bench.errors import DataError


@dataclass(frozen=True)
class PairSet:
    """Sentence pairs with gold scores: one STS subset or one split of STS-B / SICK-R."""

    name: str
    sent1: tuple[str, ...]
    sent2: tuple[str, ...]
    gold: np.ndarray
    source: Path

    def __len__(self) -> int:
        return len(self.gold)


@dataclass(frozen=True)
class StsTask:
    """One STS task: its parts (subsets of a year, or train/dev/test splits) and its record."""

    name: str
    parts: dict[str, PairSet]
    files: tuple[Path, ...] = field(default=())
    meta: Any = None  # the registry's TaskMetadata

    def sentences(self) -> list[str]:
        out: list[str] = []
        for part in self.parts.values():
            out.extend(part.sent1)
            out.extend(part.sent2)
        return out

    def sides(self) -> tuple[list[str], list[str]]:
        """The first and the second sentences of every pair (side a, side b of a prompt)."""
        return ([s for p in self.parts.values() for s in p.sent1],
                [s for p in self.parts.values() for s in p.sent2])


def _read_text(path: Path) -> str:
    """The file's text, from bytes read once and recorded (``bench.data.reading``)."""
    return read_text(path, "UTF-8")


def _sentence(tokens: str, path: Path, lineno: int, column: int) -> str:
    text = " ".join(tokens.split())
    if not text:
        raise DataError(f"{path}:{lineno}: empty sentence in column {column}")
    return text


def _score(raw: str, path: Path, lineno: int) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise DataError(f"{path}:{lineno}: gold score {raw!r} is not a number") from None
    if not np.isfinite(value):
        raise DataError(f"{path}:{lineno}: gold score {raw!r} is not finite")
    return value


def read_sts_subset(folder: Path, subset: str) -> PairSet:
    """Read one STS12-16 subset, dropping pairs whose gold line is empty (as SentEval)."""
    inp = folder / f"STS.input.{subset}.txt"
    gs = folder / f"STS.gs.{subset}.txt"
    in_lines = _read_text(inp).splitlines()
    gs_lines = _read_text(gs).splitlines()
    if len(in_lines) != len(gs_lines):
        raise DataError(
            f"{gs}: {len(gs_lines)} gold lines but {inp.name} has {len(in_lines)} sentence pairs"
        )
    s1: list[str] = []
    s2: list[str] = []
    gold: list[float] = []
    for lineno, (line, raw) in enumerate(zip(in_lines, gs_lines), start=1):
        cols = line.split("\t")
        if len(cols) != 2:
            raise DataError(
                f"{inp}:{lineno}: expected 2 tab-separated sentences, found {len(cols)} column(s)"
            )
        if raw == "":  # SentEval's mask is raw != '', so only the empty string is dropped
            continue
        gold.append(_score(raw, gs, lineno))
        s1.append(_sentence(cols[0], inp, lineno, 1))
        s2.append(_sentence(cols[1], inp, lineno, 2))
    return PairSet(subset, tuple(s1), tuple(s2), np.asarray(gold, dtype=np.float64), inp)


def read_columns(path: Path, skip_header: bool, s1_col: int, s2_col: int, y_col: int,
                 name: str) -> PairSet:
    """One split in a tab-separated file; ``*_col`` are 0-based column indices."""
    need = max(s1_col, s2_col, y_col) + 1
    s1: list[str] = []
    s2: list[str] = []
    gold: list[float] = []
    lines = io.StringIO(_read_text(path))  # universal newlines, like SentEval's file iteration
    for lineno, line in enumerate(lines, start=1):
        if skip_header and lineno == 1:
            continue
        cols = line.strip().split("\t")
        if len(cols) < need:
            raise DataError(
                f"{path}:{lineno}: expected at least {need} tab-separated columns, found {len(cols)}"
            )
        s1.append(_sentence(cols[s1_col], path, lineno, s1_col + 1))
        s2.append(_sentence(cols[s2_col], path, lineno, s2_col + 1))
        gold.append(_score(cols[y_col], path, lineno))
    if not gold:
        raise DataError(f"{path}: no sentence pairs")
    return PairSet(name, tuple(s1), tuple(s2), np.asarray(gold, dtype=np.float64), path)


@dataclass(frozen=True)
class StsYearReader:
    """STS12-16 as SentEval lays them out: ``STS.input.<subset>.txt`` (two tab-separated
    sentences) and ``STS.gs.<subset>.txt`` (gold) per subset, in one folder."""

    folder: str  # relative to the data folder
    subsets: tuple[str, ...]

    def files(self) -> tuple[str, ...]:
        return tuple(f"{self.folder}/STS.{kind}.{s}.txt" for s in self.subsets
                     for kind in ("input", "gs"))

    def load(self, data_dir: Path, meta: Any) -> StsTask:
        folder = data_dir / self.folder
        if not folder.is_dir():
            raise DataError(f"missing data folder for {meta.name}: {folder}")
        parts = {s: read_sts_subset(folder, s) for s in self.subsets}
        return StsTask(meta.name, parts, tuple(data_dir / f for f in self.files()), meta)


@dataclass(frozen=True)
class ColumnsReader:
    """One tab-separated file per split, sentences and score in fixed columns (0-based)."""

    split_files: tuple[tuple[str, str], ...]  # (split, path relative to the data folder)
    s1: int
    s2: int
    score: int
    header: bool = False

    def files(self) -> tuple[str, ...]:
        return tuple(path for _, path in self.split_files)

    def load(self, data_dir: Path, meta: Any) -> StsTask:
        parts = {split: read_columns(data_dir / path, self.header, self.s1, self.s2,
                                     self.score, split)
                 for split, path in self.split_files}
        return StsTask(meta.name, parts, tuple(data_dir / f for f in self.files()), meta)


@dataclass(frozen=True)
class PooledColumnsReader:
    """Several tab-separated files with the same columns, concatenated into one part (in file
    order): MTEB's SICK-R scores all SICK pairs at once where SentEval keeps the splits."""

    files_in_order: tuple[str, ...]  # relative to the data folder
    s1: int
    s2: int
    score: int
    header: bool = False
    part: str = "all"

    def files(self) -> tuple[str, ...]:
        return self.files_in_order

    def load(self, data_dir: Path, meta: Any) -> StsTask:
        sets = [read_columns(data_dir / path, self.header, self.s1, self.s2, self.score,
                             self.part) for path in self.files_in_order]
        pooled = PairSet(self.part, tuple(s for p in sets for s in p.sent1),
                         tuple(s for p in sets for s in p.sent2),
                         np.concatenate([p.gold for p in sets]), sets[0].source)
        return StsTask(meta.name, {self.part: pooled},
                       tuple(data_dir / f for f in self.files()), meta)
