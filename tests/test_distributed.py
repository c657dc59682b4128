"""Sharded encoding (bench.distributed): the shards' balance, parity of a 2-process gloo run
with a single process, and a rank killed half-way (the others stop naming it; the rerun
reuses the chunks written before the kill)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from tests.helpers import HashEncoder
from tests.sts_files import stsb_rows, write_task

MODEL = "packaged:all-MiniLM-L6-v2"


def test_assign_gives_every_batch_one_rank_and_balances_the_cost():
    from bench.distributed import assign

    rng = np.random.default_rng(3)
    costs = sorted((int(c) for c in rng.integers(1, 400, size=57)), reverse=True)
    for world in (1, 2, 3, 4):
        owner = assign(costs, world)
        assert len(owner) == len(costs) and set(owner) <= set(range(world))
        loads = [sum(c for c, r in zip(costs, owner) if r == k) for k in range(world)]
        assert sum(loads) == sum(costs)
        # greedy on costs sorted longest first: no rank exceeds another by more than a batch
        assert max(loads) - min(loads) <= max(costs)
    assert assign([5, 5, 5, 5], 2) == [0, 1, 0, 1]


def _chunk_vectors(cache: Path) -> dict[bytes, np.ndarray]:
    out: dict[bytes, np.ndarray] = {}
    for path in sorted(cache.glob("*/chunk-*.npz")):
        with np.load(path) as data:
            out.update((k.tobytes(), v) for k, v in zip(data["keys"], data["vectors"]))
    return out


def _env() -> dict[str, str]:
    # torchrun gives each of several workers one thread; the single run gets the same, so
    # both compute every batch with the same kernels
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


@pytest.mark.slow  # three processes load MiniLM (~25 s on two cores)
def test_two_gloo_processes_give_the_vectors_and_numbers_of_one(tmp_path, data_dir):
    from bench.reports import load

    toml = write_task(tmp_path / "tasks", "StsbHead", stsb_rows(data_dir, "test", 0, 160))
    common = ["-m", "bench", "run", "--model", MODEL, "--task-file", str(toml),
              "--protocol", "every-cosine", "--batch-size", "16", "--quiet"]
    one = subprocess.run([sys.executable, *common, "--cache-dir", str(tmp_path / "c1"),
                          "--out", str(tmp_path / "one.json")],
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    logs = tmp_path / "logs"
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node", "2", "--log-dir", str(logs), "--redirects", "3",
                          *common, "--cache-dir", str(tmp_path / "c2"),
                          "--out", str(tmp_path / "two.json")],
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr
    rank1 = [p for p in logs.rglob("*.log") if p.parent.name == "1"]
    assert len(rank1) == 2 and all(p.read_text() == "" for p in rank1)  # silent, no report
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["one.json", "two.json"]

    a, b = _chunk_vectors(tmp_path / "c1"), _chunk_vectors(tmp_path / "c2")
    assert len(a) > 250 and a.keys() == b.keys()
    assert len(list((tmp_path / "c2").glob("*/chunk-*.npz"))) == 2  # one per rank
    worst = max(float(np.abs(a[k] - b[k]).max()) for k in a)
    assert worst <= 1e-6

    ra, rb = load(tmp_path / "one.json"), load(tmp_path / "two.json")
    assert rb.run["world_size"] == 2 and rb.run["devices"] == ["cpu", "cpu"]
    assert "world_size" not in ra.run
    assert [s.values for s in ra.scores] == [s.values for s in rb.scores]
    assert len(ra.scores) == 6
    for name, task in ra.tasks.items():
        other = rb.tasks[name]
        for part, res in task.parts.items():
            assert (res.pearson, res.spearman) == (other.parts[part].pearson,
                                                  other.parts[part].spearman)
    pa = np.load(tmp_path / "one.pairs.npz")
    pb = np.load(tmp_path / "two.pairs.npz")
    assert pa.files == pb.files
    for key in pa.files:
        np.testing.assert_allclose(pa[key], pb[key], rtol=0, atol=1e-6)


class KillingEncoder(HashEncoder):
    """HashEncoder (same spec, so the same cache folder) that SIGKILLs its own process at
    its ``kill_at``-th batch, after the batches before it were flushed to the cache."""

    def __init__(self, kill_at: int | None, delay: float) -> None:
        super().__init__(dim=8, delay=delay)
        self.kill_at = kill_at

    def encode(self, sentences, batch_size=64):
        if self.kill_at is not None and self.calls + 1 == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().encode(sentences, batch_size)


def _worker(rank: int, port: int, toml: str, cache: str, out: str, kill_at: int | None) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "LOCAL_RANK": str(rank), "WORLD_SIZE": "2"})
    import bench
    import bench.embed
    from bench.errors import BenchError

    bench.embed.FLUSH_EVERY = 8  # a chunk per batch: the kill finds finished chunks
    encoder = KillingEncoder(kill_at if rank == 1 else None, delay=0.05)
    try:
        report = bench.evaluate(encoder, task_files=[toml], protocols="all-spearman",
                                cache_dir=cache, batch_size=8)
        result = {"stats": report.timings if report is not None else None}
    except BenchError as exc:
        result = {"error": str(exc)}
    Path(out, f"rank{rank}.json").write_text(json.dumps(result))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(toml: Path, cache: Path, out: Path, kill_at: int | None) -> list[int | None]:
    out.mkdir()
    ctx = multiprocessing.get_context("spawn")
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, str(toml), str(cache), str(out), kill_at))
             for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    codes = [p.exitcode for p in procs]
    for p in procs:
        if p.is_alive():
            p.kill()
    return codes


@pytest.mark.slow  # spawns two processes, twice
def test_killed_rank_stops_the_other_and_the_rerun_reuses_its_chunks(tmp_path, data_dir):
    toml = write_task(tmp_path / "tasks", "StsbHead", stsb_rows(data_dir, "test", 0, 120))
    cache = tmp_path / "cache"
    codes = _spawn(toml, cache, tmp_path / "first", kill_at=4)
    assert codes[1] == -signal.SIGKILL
    assert codes[0] == 0  # rank 0 returned (with an error), not stuck in a collective
    error = json.loads((tmp_path / "first" / "rank0.json").read_text())["error"]
    assert "rank 1" in error and "died" in error and "\n" not in error
    kept = _chunk_vectors(cache)
    assert len(kept) >= 3 * 8  # rank 1's three finished batches at least

    codes = _spawn(toml, cache, tmp_path / "second", kill_at=None)
    assert codes == [0, 0]
    stats = json.loads((tmp_path / "second" / "rank0.json").read_text())["stats"]
    assert stats["sentences_cached"] == len(kept)
    assert stats["sentences_cached"] + stats["sentences_encoded"] == stats["sentences_unique"]
    assert json.loads((tmp_path / "second" / "rank1.json").read_text())["stats"] is None


def _child_with_rank(parent: int, rank: int) -> int | None:
    """The pid of torchrun's worker process with RANK=rank (Linux /proc)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) != parent:
                continue
            env = (stat.parent / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if f"RANK={rank}".encode() in env:
            return int(stat.parent.name)
    return None


@pytest.mark.long  # two torchrun runs of a tiny BERT over STS-B (~40 s on two cores): nox -s long;
# nox -s tests has the same failure through spawned processes (the test above)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the rank in /proc")
def test_sigkill_of_a_torchrun_rank_stops_the_other_in_one_line(tmp_path, tiny_bert, data_dir):
    import time

    from bench.reports import load

    cache = tmp_path / "cache"
    logs = tmp_path / "logs"
    # batch size 1: encoding takes long enough for the kill to land half-way
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "--log-dir", str(logs), "--redirects", "3",
               "-m", "bench", "run", "--model", str(tiny_bert), "--pooler", "avg",
               "--tasks", "STSBenchmark", "--batch-size", "1", "--cache-dir", str(cache),
               "--out", str(tmp_path / "run.json"), "--quiet"]
    env = {**_env(), "BENCH_DATA_DIR": str(data_dir)}
    launcher = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(cache.glob("*/chunk-*.npz")) and launcher.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        victim = _child_with_rank(launcher.pid, 1)
        assert victim is not None and launcher.poll() is None, "the run ended before the kill"
        before = len(_chunk_vectors(cache))
        os.kill(victim, signal.SIGKILL)
        _, launcher_err = launcher.communicate(timeout=120)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode != 0
    assert not (tmp_path / "run.json").exists()
    rank0 = next(p for p in logs.rglob("stderr.log") if p.parent.name == "0").read_text()
    assert rank0.count("\n") == 1 and rank0.startswith(f"bench: error: rank 1 (pid {victim}) "
                                                       "died"), rank0
    kept = len(_chunk_vectors(cache))
    assert kept >= before > 0  # at least the chunks written before the kill

    command[command.index("--log-dir") + 1] = str(tmp_path / "logs2")
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    report = load(tmp_path / "run.json")
    assert report.timings["sentences_cached"] == kept
    assert report.timings["sentences_encoded"] == report.timings["sentences_unique"] - kept
