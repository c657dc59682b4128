"""No wasted work (issue 27): only the parts the protocols read are encoded, the same weights
are encoded once whatever folder they are loaded from, and each sentence is tokenized once."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

import bench
from tests.helpers import HashEncoder

SPLITS = ("train", "dev", "test")


class Recorder(HashEncoder):
    """A HashEncoder that remembers every sentence it was asked to encode."""

    def __init__(self) -> None:
        super().__init__(dim=8)
        self.seen: list[str] = []

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.seen.extend(sentences)
        return super().encode(sentences, batch_size)


def split_stsb(root: Path, pairs: int = 12) -> tuple[Path, dict[str, list[tuple[str, str, float]]]]:
    """A small STS-B whose every sentence names its split (no sentence shared by two)."""
    folder = root / "STS" / "STSBenchmark"
    folder.mkdir(parents=True)
    rows: dict[str, list[tuple[str, str, float]]] = {}
    for split in SPLITS:
        rows[split] = [(f"{split} sentence {i} a", f"{split} other {i * 7 % 5} b{i}",
                        round((i * 1.3) % 5.0, 2)) for i in range(pairs)]
        (folder / f"sts-{split}.csv").write_text("".join(
            f"g\tf\t2012\t{i}\t{g:.2f}\t{a}\t{b}\n" for i, (a, b, g) in enumerate(rows[split])))
    return root, rows


def _cosine_spearman(rows: list[tuple[str, str, float]]) -> float:
    """Reference: SentEval's score (Spearman of the cosine with gold, points), by hand."""
    enc = HashEncoder(dim=8)
    u = enc.encode([a for a, _, _ in rows]).astype(np.float64)
    v = enc.encode([b for _, b, _ in rows]).astype(np.float64)
    cos = (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
    return 100 * spearmanr(cos, [g for _, _, g in rows]).statistic


def test_a_cosine_run_encodes_no_train_or_dev_sentence(tmp_path):
    data, rows = split_stsb(tmp_path / "data")
    enc = Recorder()
    report = bench.evaluate(enc, tasks=["STSBenchmark"], protocols="simcse", data_dir=data,
                            use_cache=False, verify_data=False)
    test = {s for a, b, _ in rows["test"] for s in (a, b)}
    assert set(enc.seen) == test and len(enc.seen) == len(test)
    assert list(report.tasks["STSBenchmark"].parts) == ["test"]  # claims no part it skipped
    value = report.scores[0].values["STSBenchmark"]
    assert value == pytest.approx(_cosine_spearman(rows["test"]), abs=1e-9)


def test_a_regressor_run_encodes_train_and_dev(tmp_path):
    data, rows = split_stsb(tmp_path / "data")
    enc = Recorder()
    report = bench.evaluate(enc, tasks=["STSBenchmark"], protocols="all-spearman-reg",
                            data_dir=data, use_cache=False, verify_data=False)
    every = {s for split in SPLITS for a, b, _ in rows[split] for s in (a, b)}
    assert set(enc.seen) == every
    assert set(report.tasks["STSBenchmark"].parts) == set(SPLITS)
    assert report.tasks["STSBenchmark"].regression is not None
