"""STS readers that reproduce SentEval's loaders (and SimCSE's fork) exactly.

What matters for comparability (SentEval ``sts.py``, ``sick.py``):
- STS12-16: ``STS.input.<subset>.txt`` (two tab-separated sentences) and
  ``STS.gs.<subset>.txt``; a pair whose gold line is the empty string is dropped.
- STS-B: ``sts-{train,dev,test}.csv``, score in column 5, sentences in columns 6-7.
- SICK-R: header line skipped; sentences in columns 2-3, relatedness in column 4;
  the trial file is the dev split.
- SentEval splits every sentence on white space and the batcher joins the tokens
  with one space, so that is the text an encoder sees.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.errors import DataError

STS_YEARS: dict[str, tuple[str, ...]] = {
    "STS12": ("MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews"),
    "STS13": ("FNWN", "headlines", "OnWN"),
    "STS14": ("deft-forum", "deft-news", "headlines", "images", "OnWN", "tweet-news"),
    "STS15": ("answers-forums", "answers-students", "belief", "headlines", "images"),
    "STS16": ("answer-answer", "headlines", "plagiarism", "postediting", "question-question"),
}
SPLIT_TASKS = ("STSBenchmark", "SICKRelatedness")
STS_TASKS: tuple[str, ...] = (*STS_YEARS, *SPLIT_TASKS)
DISPLAY_NAMES = {
    "STS12": "STS12", "STS13": "STS13", "STS14": "STS14", "STS15": "STS15", "STS16": "STS16",
    "STSBenchmark": "STS-B", "SICKRelatedness": "SICK-R",
}
ALIASES = {"sts-b": "STSBenchmark", "stsb": "STSBenchmark", "sick-r": "SICKRelatedness",
           "sickr": "SICKRelatedness", "sick": "SICKRelatedness"}


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
    """One STS task: per-subset pair sets (STS12-16) or train/dev/test splits (STS-B, SICK-R)."""

    name: str
    parts: dict[str, PairSet]
    files: tuple[Path, ...] = field(default=())

    @property
    def has_splits(self) -> bool:
        return self.name in SPLIT_TASKS

    def sentences(self) -> list[str]:
        out: list[str] = []
        for part in self.parts.values():
            out.extend(part.sent1)
            out.extend(part.sent2)
        return out


def canonical_task_name(name: str) -> str:
    """Map user spellings (sts12, STS-B, sick-r) to SentEval's task names."""
    for task in STS_TASKS:
        if task.lower() == name.lower():
            return task
    if name.lower() in ALIASES:
        return ALIASES[name.lower()]
    raise DataError(f"unknown STS task {name!r}; valid: {', '.join(STS_TASKS)}")


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise DataError(f"missing data file: {path}")
    try:
        return open(path, encoding="utf-8").read()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None


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


def _read_columns(path: Path, skip_header: bool, s1_col: int, s2_col: int, y_col: int,
                  name: str) -> PairSet:
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


def load_sts_task(downstream: Path, name: str) -> StsTask:
    """Load one STS task from a SentEval ``downstream`` folder."""
    name = canonical_task_name(name)
    if name in STS_YEARS:
        folder = downstream / "STS" / f"{name}-en-test"
        if not folder.is_dir():
            raise DataError(f"missing data folder for {name}: {folder}")
        parts = {s: read_sts_subset(folder, s) for s in STS_YEARS[name]}
        files = tuple(p for s in STS_YEARS[name]
                      for p in (folder / f"STS.input.{s}.txt", folder / f"STS.gs.{s}.txt"))
        return StsTask(name, parts, files)
    if name == "STSBenchmark":
        folder = downstream / "STS" / "STSBenchmark"
        parts = {split: _read_columns(folder / f"sts-{split}.csv", False, 5, 6, 4, split)
                 for split in ("train", "dev", "test")}
    else:
        folder = downstream / "SICK"
        files = {"train": "SICK_train.txt", "dev": "SICK_trial.txt",
                 "test": "SICK_test_annotated.txt"}
        parts = {split: _read_columns(folder / fn, True, 1, 2, 3, split)
                 for split, fn in files.items()}
    return StsTask(name, parts, tuple(p.source for p in parts.values()))
