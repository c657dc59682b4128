"""Training data for SimCSE: one sentence per line (unsupervised) or a CSV of pairs/triplets.

The formats are those of the reference ``train.py``: a one-column file means the positive is
the sentence itself; a CSV with ``sent0,sent1`` gives pairs and ``hard_neg`` adds a hard
negative. Bad input fails with one line naming the file (and line).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import DataError

MODES = ("unsup", "sup")


@dataclass(frozen=True)
class TrainingData:
    """Columns of training text; ``columns[0]`` are anchors, then positives, then hard negatives."""

    path: Path
    columns: tuple[tuple[str, ...], ...]

    def __len__(self) -> int:
        return len(self.columns[0])

    @property
    def has_hard_negatives(self) -> bool:
        return len(self.columns) == 3


def _read(path: Path) -> str:
    if not path.is_file():
        raise DataError(f"{path}: training file not found")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_sentences(path: Path) -> TrainingData:
    """One sentence per line; blank lines are skipped. Positive = the sentence itself."""
    lines = tuple(s.strip() for s in _read(path).splitlines())
    sentences = tuple(s for s in lines if s)
    if not sentences:
        raise DataError(f"{path}: empty training file (expected one sentence per line)")
    return TrainingData(path, (sentences,))


def read_pairs(path: Path) -> TrainingData:
    """CSV with a header naming ``sent0,sent1`` and optionally ``hard_neg``."""
    text = _read(path)
    if not text.strip():
        raise DataError(f"{path}: empty training file (expected a CSV with header sent0,sent1"
                        f"[,hard_neg])")
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    missing = [c for c in ("sent0", "sent1") if c not in header]
    if missing:
        raise DataError(f"{path}: line 1: CSV header {','.join(header)!r} lacks column(s) "
                        f"{', '.join(missing)} (expected sent0,sent1[,hard_neg])")
    names = ["sent0", "sent1"] + (["hard_neg"] if "hard_neg" in header else [])
    cols: list[list[str]] = [[] for _ in names]
    for row in reader:
        values = [(row.get(n) or "").strip() for n in names]
        if not any(values):
            continue
        empty = [n for n, v in zip(names, values) if not v]
        if empty:
            raise DataError(f"{path}: line {reader.line_num}: empty {', '.join(empty)}")
        for col, value in zip(cols, values):
            col.append(value)
    if not cols[0]:
        raise DataError(f"{path}: no rows after the header")
    return TrainingData(path, tuple(tuple(c) for c in cols))


def read_training_data(path: str | Path, mode: str) -> TrainingData:
    if mode not in MODES:
        raise DataError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    path = Path(path)
    return read_sentences(path) if mode == "unsup" else read_pairs(path)


def steps_per_epoch(n: int, global_batch: int, path: Path | None = None) -> int:
    """Full global batches per epoch (the incomplete last batch is dropped)."""
    if global_batch < 1:
        raise DataError(f"batch size must be positive, got {global_batch}")
    if global_batch > n:
        raise DataError(f"{path or 'training data'}: batch size {global_batch} is larger than "
                        f"the {n} training examples")
    return n // global_batch


def batch_indices(n: int, global_batch: int, step: int, seed: int) -> np.ndarray:
    """Example indices of global batch ``step`` (0-based, counted across epochs).

    Each epoch is a fresh permutation drawn from ``seed`` and the epoch number, so the order
    is a pure function of (seed, step): a resumed run sees exactly the batches it would have.
    """
    per_epoch = steps_per_epoch(n, global_batch)
    epoch, within = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return order[within * global_batch:(within + 1) * global_batch]
