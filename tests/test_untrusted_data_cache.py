"""Untrusted data files, data archives and embedding caches (issue 23): what bench reads
can neither attack it nor make it report a number its evidence does not support."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench import runner
from bench.errors import DataError
from bench.protocols import parse_protocols
from bench.runner import RunConfig, run
from tests.helpers import HashEncoder

STSB = "STS/STSBenchmark"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def stsb_copy(data_dir, tmp_path) -> Path:
    """A data folder holding only STS-B (copied: the tests rewrite its files)."""
    root = tmp_path / "downstream"
    shutil.copytree(data_dir / STSB, root / STSB)
    return root


def _tampered(genuine: bytes) -> bytes:
    """STS-B's test split with its gold scores reversed: parses fine, scores nonsense."""
    lines = genuine.decode("utf-8").splitlines(keepends=True)
    cols = [line.split("\t") for line in lines]
    scores = [c[4] for c in cols][::-1]
    return "".join("\t".join(c[:4] + [s] + c[5:]) for c, s in zip(cols, scores)).encode()


def _swap_after_parsing(monkeypatch, path: Path, parsed: bytes) -> bytes:
    """Put ``parsed`` on disk while the tasks are read, the genuine bytes back right after:
    the file a second pass would hash is not the one the numbers come from."""
    genuine = path.read_bytes()
    original = runner.load_tasks

    def load_then_swap(metas, downstream):
        path.write_bytes(parsed)
        try:
            return original(metas, downstream)
        finally:
            path.write_bytes(genuine)

    monkeypatch.setattr(runner, "load_tasks", load_then_swap)
    return genuine


def _stsb_config(root: Path, cache: Path, verify: bool) -> RunConfig:
    return RunConfig(model="hash", protocols=parse_protocols("all-spearman"),
                     tasks=["STSBenchmark"], data_dir=str(root), cache_dir=str(cache),
                     show_progress=False, verify_data=verify)


def test_a_file_swapped_after_parsing_is_refused_not_verified(stsb_copy, tmp_path, monkeypatch):
    test_csv = stsb_copy / STSB / "sts-test.csv"
    _swap_after_parsing(monkeypatch, test_csv, _tampered(test_csv.read_bytes()))
    with pytest.raises(DataError, match="checksum mismatch: .*sts-test.csv"):
        run(_stsb_config(stsb_copy, tmp_path / "cache", verify=True), encoder=HashEncoder())


def test_the_report_carries_the_digest_of_the_bytes_parsed(stsb_copy, tmp_path, monkeypatch):
    test_csv = stsb_copy / STSB / "sts-test.csv"
    parsed = _tampered(test_csv.read_bytes())
    genuine = _swap_after_parsing(monkeypatch, test_csv, parsed)
    report = run(_stsb_config(stsb_copy, tmp_path / "cache", verify=False),
                 encoder=HashEncoder())
    key = f"{STSB}/sts-test.csv"
    assert report.data["sha256"][key] == _sha256(parsed) != _sha256(genuine)
    assert report.data["status"][key] == "mismatch"
    assert report.data["verified"] is False
