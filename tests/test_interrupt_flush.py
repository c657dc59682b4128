"""What was encoded survives an interrupt (issue 27): the cache is written on Ctrl-C and
SIGTERM, and at least every ``FLUSH_SECONDS`` while encoding goes on (what a SIGKILL keeps)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import bench
import bench.embed as embed
from bench.cache import EmbeddingCache
from tests.helpers import HashEncoder

REPO = Path(__file__).resolve().parents[1]
BATCH = 8

# The child encodes slowly and says after each finished batch how many sentences it has
# encoded, so the parent can interrupt it in the middle of the encoding.
CHILD = """
import sys, time
import bench
from tests.helpers import HashEncoder

class Slow(HashEncoder):
    def encode(self, sentences, batch_size=64):
        out = super().encode(sentences, batch_size)
        time.sleep(0.05)
        print("encoded", self.encoded, flush=True)
        return out

bench.evaluate(Slow(dim=8), tasks=["STSBenchmark"], protocols="simcse", data_dir=sys.argv[1],
               cache_dir=sys.argv[2], verify_data=False, batch_size=int(sys.argv[3]))
"""


def _stsb(root: Path, pairs: int) -> Path:
    """A generated STS-B whose test split has ``2 * pairs`` distinct sentences."""
    folder = root / "STS" / "STSBenchmark"
    folder.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (folder / f"sts-{split}.csv").write_text("".join(
            f"g\tf\t2012\t{i}\t{i % 5}.00\t{split} first {i}\t{split} second {i}\n"
            for i in range(pairs)))
    return root


@pytest.mark.slow  # a child process interrupted mid-encoding (~4 s)
def test_after_sigint_the_rerun_encodes_at_most_one_batch_more_than_was_left(tmp_path):
    pairs = 100
    total = 2 * pairs
    data, cache = _stsb(tmp_path / "data", pairs), tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get(
        "PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(data), str(cache), str(BATCH)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=REPO)
    done = 0
    try:
        for line in proc.stdout:
            done = int(line.split()[1])
            if done >= 6 * BATCH:  # well inside the encoding: 48 of 200 sentences
                proc.send_signal(signal.SIGINT)
                break
        for line in proc.stdout:  # a batch may finish between the signal and its handler
            done = int(line.split()[1])
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0 and 0 < done < total
    rerun = HashEncoder(dim=8)
    report = bench.evaluate(rerun, tasks=["STSBenchmark"], protocols="simcse", data_dir=data,
                            cache_dir=cache, verify_data=False, batch_size=BATCH)
    left = total - done
    assert left <= report.timings["sentences_encoded"] <= left + BATCH
    assert report.timings["sentences_cached"] == total - report.timings["sentences_encoded"]


class Watcher(HashEncoder):
    """Counts, before each batch, the sentences already in the cache folder on disk."""

    def __init__(self, folder: Path) -> None:
        super().__init__(dim=4)
        self.folder = folder
        self.on_disk: list[int] = []

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.on_disk.append(len(EmbeddingCache(self.folder.parent, self.folder.name)))
        return super().encode(sentences, batch_size)


def test_the_cache_is_written_every_flush_seconds_not_only_every_flush_every(tmp_path,
                                                                             monkeypatch):
    """A SIGKILL keeps what was written: with the clock past ``FLUSH_SECONDS`` after every
    batch, each finished batch is on disk before the next one starts."""
    monkeypatch.setattr(embed, "FLUSH_SECONDS", 0.0)
    enc = Watcher(tmp_path)
    enc.folder = tmp_path / enc.fingerprint
    cache = EmbeddingCache(tmp_path, enc.fingerprint, enc.describe())
    sentences = [f"sentence {i}" for i in range(5 * 3)]
    embed.embed(enc, sentences, cache=cache, batch_size=3, show_progress=False)
    assert enc.on_disk == [0, 3, 6, 9, 12]
    assert len(EmbeddingCache(tmp_path, enc.fingerprint)) == 15


@pytest.mark.parametrize("how", ["sigterm", "error"])
def test_sigterm_or_a_failing_batch_keeps_the_batches_before_it(tmp_path, how):
    class Failing(HashEncoder):
        def encode(self, sentences, batch_size=64):
            if self.calls == 3:
                if how == "error":
                    raise RuntimeError("out of memory")
                os.kill(os.getpid(), signal.SIGTERM)  # handled at once, in this thread
            return super().encode(sentences, batch_size)

    enc = Failing(dim=4)
    cache = EmbeddingCache(tmp_path, enc.fingerprint, enc.describe())
    with pytest.raises(KeyboardInterrupt if how == "sigterm" else RuntimeError):
        embed.embed(enc, [f"s{i}" for i in range(12)], cache=cache, batch_size=2,
                    show_progress=False)
    assert len(EmbeddingCache(tmp_path, enc.fingerprint)) == 6  # three batches of two
