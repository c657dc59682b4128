"""STS readers: SentEval's counts on the real data, and one clear line for each kind of bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.data.locate import locate
from bench.data.manifest import checksums
from bench.data.sts import read_sts_subset
from bench.errors import DataError
from bench.tasks.registry import load_sts_task

# Pair counts SentEval keeps (issue 2; shared/data/senteval/README.md).
EXPECTED = {
    "STS12": 3108, "STS13": 1500, "STS14": 3750, "STS15": 3000, "STS16": 1186,
}
SPLITS = {"STSBenchmark": (5749, 1500, 1379), "SICKRelatedness": (4500, 500, 4927)}


@pytest.mark.parametrize("task,count", EXPECTED.items())
def test_sts_year_counts(data_dir, task, count):
    assert sum(len(p) for p in load_sts_task(data_dir, task).parts.values()) == count


@pytest.mark.parametrize("task,counts", SPLITS.items())
def test_split_counts(data_dir, task, counts):
    parts = load_sts_task(data_dir, task).parts
    assert tuple(len(parts[s]) for s in ("train", "dev", "test")) == counts


def test_text_is_given_as_senteval_joins_tokens(data_dir):
    stsb = load_sts_task(data_dir, "sts-b").parts["test"]
    raw = (data_dir / "STS/STSBenchmark/sts-test.csv").read_text(encoding="utf-8").splitlines()[0]
    assert stsb.sent1[0] == " ".join(raw.split("\t")[5].split())
    assert stsb.gold[0] == float(raw.split("\t")[4])
    sick = load_sts_task(data_dir, "SICKRelatedness").parts["test"]
    assert all("\r" not in s for s in sick.sent1[:50])  # CRLF file read as SentEval does


def _subset(tmp_path: Path, inputs: str, gold: str) -> Path:
    (tmp_path / "STS.input.x.txt").write_text(inputs, encoding="utf-8")
    (tmp_path / "STS.gs.x.txt").write_text(gold, encoding="utf-8")
    return tmp_path


def test_empty_gold_line_drops_the_pair(tmp_path):
    folder = _subset(tmp_path, "a b\tc d\ne f\tg h\ni j\tk l\n", "1.0\n\n3.5\n")
    pairs = read_sts_subset(folder, "x")
    assert pairs.sent1 == ("a b", "i j") and list(pairs.gold) == [1.0, 3.5]


@pytest.mark.parametrize("inputs, gold, message", [
    ("a b\tc d\nonly one column\n", "1\n2\n", r"STS\.input\.x\.txt:2: expected 2 tab-separated"),
    ("a\tb\nc\td\n", "1\nhigh\n", r"STS\.gs\.x\.txt:2: gold score 'high' is not a number"),
    ("a\tb\n  \td\n", "1\n2\n", r"STS\.input\.x\.txt:2: empty sentence in column 1"),
], ids=["one-column", "non-numeric-gold", "empty-sentence"])
def test_bad_line_names_file_and_line(tmp_path, inputs, gold, message):
    folder = _subset(tmp_path, inputs, gold)
    with pytest.raises(DataError, match=message):
        read_sts_subset(folder, "x")


def test_gold_and_input_lengths_must_agree(tmp_path):
    folder = _subset(tmp_path, "a\tb\nc\td\n", "1\n")
    with pytest.raises(DataError, match="1 gold lines but"):
        read_sts_subset(folder, "x")


def test_missing_data_folder(tmp_path):
    with pytest.raises(DataError, match="data folder not found: .*nowhere"):
        locate(tmp_path / "nowhere")


def test_data_dir_may_be_downstream_or_its_parent(data_dir):
    assert locate(data_dir).downstream == data_dir
    assert locate(data_dir.parent).downstream == data_dir


def test_checksum_mismatch_is_reported(tmp_path, data_dir):
    root = tmp_path / "copy"
    target = root / "downstream/STS/STSBenchmark"
    target.mkdir(parents=True)
    shutil.copy(data_dir / "STS/STSBenchmark/sts-test.csv", target / "sts-test.csv")
    good = checksums(root / "downstream", [target / "sts-test.csv"])
    assert list(good.sha256) == ["STS/STSBenchmark/sts-test.csv"] and good.verified
    with open(target / "sts-test.csv", "a", encoding="utf-8") as fh:
        fh.write("x\tx\tx\tx\t1.0\tone\ttwo\n")
    with pytest.raises(DataError, match=r"checksum mismatch: .*sts-test\.csv"):
        checksums(root / "downstream", [target / "sts-test.csv"])
