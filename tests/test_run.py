"""End to end: `bench run`, the cache, the report, bad input, and a run killed mid-encoding."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.protocols import parse_protocols
from bench.runner import RunConfig, run
from tests.helpers import HashEncoder

REPO = Path(__file__).resolve().parents[1]


def _config(data_dir, cache, protocol="all-cosine", tasks=("STS12", "STSBenchmark")) -> RunConfig:
    return RunConfig(model="hash", protocols=parse_protocols(protocol), tasks=list(tasks),
                     data_dir=str(data_dir), cache_dir=str(cache), show_progress=False)


def test_second_run_with_another_protocol_encodes_nothing(data_dir, tmp_path):
    first_enc, second_enc = HashEncoder(), HashEncoder()
    first = run(_config(data_dir, tmp_path, "all-spearman"), encoder=first_enc)
    second = run(_config(data_dir, tmp_path, "wmean-pearson"), encoder=second_enc)
    unique = first["timings"]["sentences_unique"]
    assert first_enc.encoded == unique == first["timings"]["sentences_encoded"] > 0
    assert second_enc.encoded == 0 and second["timings"]["sentences_encoded"] == 0
    assert second["timings"]["sentences_cached"] == unique
    # the cached vectors give the same per-subset numbers
    a, b = first["sts"]["STS12"]["parts"], second["sts"]["STS12"]["parts"]
    assert all(a[k]["spearman"] == b[k]["spearman"] for k in a)


def test_all_protocols_come_from_one_encoding_pass(data_dir, tmp_path):
    enc = HashEncoder()
    report = run(_config(data_dir, tmp_path, "all-cosine"), encoder=enc)
    assert enc.encoded == report["timings"]["sentences_unique"]
    no_reg = {k for k in report["scores"] if not k.endswith("-reg")}
    assert no_reg == {f"{a}-{m}" for a in ("all", "mean", "wmean") for m in ("spearman", "pearson")}
    parts = report["sts"]["STS12"]["parts"]
    n = np.array([p["n"] for p in parts.values()])
    sp = np.array([p["spearman"] for p in parts.values()])
    assert report["scores"]["wmean-spearman"]["STS12"] == pytest.approx(100 * (sp * n).sum() / n.sum())
    assert report["scores"]["mean-spearman"]["STS12"] == pytest.approx(100 * sp.mean())
    row = report["scores"]["all-spearman"]
    assert row["avg"] == pytest.approx(np.mean([row["STS12"], row["STSBenchmark"]]))


def test_cli_run_writes_a_complete_report(data_dir, tmp_path, capsys):
    out = tmp_path / "glove.json"
    code = main(["run", "--model", "glove-avg", "--tasks", "STS13", "--protocol", "simcse",
                 "--data-dir", str(data_dir), "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "STS13" in printed and "all-spearman" in printed
    report = json.loads(out.read_text())
    assert report["schema_version"] == 1
    assert report["protocols"][0]["key"] == "all-spearman"
    assert len(report["model"]["fingerprint"]) == 24
    assert report["data"]["sha256"]["STS/STS13-en-test/STS.gs.FNWN.txt"]
    assert report["environment"]["packages"]["numpy"] == np.__version__
    assert report["run"]["seed"] == 1111
    assert report["timings"]["total_s"] > 0
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("argv,message", [
    (["--model", "no-such-model"], "cannot load model 'no-such-model'.*not a recipe either.*"
     "valid recipes: .*glove-avg"),
    (["--model", "glove-avg", "--protocol", "wmean-kendall"], "unknown protocol 'wmean-kendall'"),
    (["--model", "glove-avg", "--tasks", "STS99"], "unknown task 'STS99'; valid: sts, transfer, all .*STS12.*MRPC"),
])
def test_bad_arguments_give_one_line(data_dir, tmp_path, capsys, argv, message):
    code = main(["run", *argv, "--data-dir", str(data_dir), "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "r.json").exists()


def test_missing_data_dir_gives_one_line(tmp_path, capsys):
    code = main(["run", "--model", "glove-avg", "--data-dir", str(tmp_path / "absent")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "data folder not found" in err and len(err.splitlines()) == 1


KILLABLE = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    import bench.embed
    bench.embed.FLUSH_EVERY = 64
    from bench.protocols import parse_protocols
    from bench.reports import write_report
    from bench.runner import RunConfig, run
    from tests.helpers import HashEncoder
    config = RunConfig(model="hash", protocols=parse_protocols("all-cosine"), tasks=["STS12"],
                       data_dir={data!r}, cache_dir={cache!r}, show_progress=False, batch_size=32)
    write_report(run(config, encoder=HashEncoder(delay=0.05)), {out!r})
""")


def test_run_killed_mid_encoding_resumes_cleanly(data_dir, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "report.json"
    script = KILLABLE.format(repo=str(REPO), data=str(data_dir), cache=str(cache), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ})
    deadline = time.time() + 300  # generous: CI machines can be busy
    while time.time() < deadline and not list(cache.glob("*/chunk-*.npz")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    chunks = list(cache.glob("*/chunk-*.npz"))
    assert chunks, "no cache chunk was written before the kill"
    assert not out.exists()  # no half-written report
    for chunk in chunks:  # every visible chunk is complete and readable
        with np.load(chunk) as data:
            assert len(data["keys"]) == len(data["vectors"]) > 0
    enc = HashEncoder()
    resumed = run(_config(data_dir, cache, "all-cosine", ["STS12"]), encoder=enc)
    cached = resumed["timings"]["sentences_cached"]
    assert cached > 0 and enc.encoded == resumed["timings"]["sentences_unique"] - cached
    fresh = run(_config(data_dir, tmp_path / "fresh-cache", "all-cosine", ["STS12"]), encoder=HashEncoder())
    assert resumed["scores"] == fresh["scores"]


def test_cache_removes_temporaries_a_killed_writer_left(tmp_path):
    from bench.cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path, "fp")
    cache.put(["a", "b"], np.ones((2, 3), dtype=np.float32))
    old = cache.folder / ".chunk-x.npz.abc.tmp"
    recent = cache.folder / ".chunk-y.npz.def.tmp"  # maybe another process writing right now
    for path in (old, recent):
        path.write_bytes(b"half a chunk")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    reopened = EmbeddingCache(tmp_path, "fp")
    assert reopened.missing(["a", "b", "c"]) == ["c"]
    assert not old.exists() and recent.exists()
