"""End to end: `bench run`, the cache, the report, bad input, and a run killed mid-encoding."""

from __future__ import annotations

import hashlib
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
from scipy import stats

from bench.cli import main
from bench.protocols import parse_protocols
from bench.reports import load
from bench.runner import RunConfig, run
from bench.tasks.registry import load_sts_task
from tests.helpers import HashEncoder
from tests.references import glove_sts_year, sts_year

REPO = Path(__file__).resolve().parents[1]


def _config(data_dir, cache, protocol="every-cosine", tasks=("STS12", "STSBenchmark")) -> RunConfig:
    return RunConfig(model="hash", protocols=parse_protocols(protocol), tasks=list(tasks),
                     data_dir=str(data_dir), cache_dir=str(cache), show_progress=False)


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_second_run_with_another_protocol_encodes_nothing(data_dir, tmp_path):
    first_enc, second_enc = HashEncoder(), HashEncoder()
    first = run(_config(data_dir, tmp_path, "all-spearman"), encoder=first_enc)
    second = run(_config(data_dir, tmp_path, "wmean-pearson"), encoder=second_enc)
    unique = first.timings["sentences_unique"]
    assert first_enc.encoded == unique == first.timings["sentences_encoded"] > 0
    assert second_enc.encoded == 0 and second.timings["sentences_encoded"] == 0
    assert second.timings["sentences_cached"] == unique
    # the cached vectors give the same per-subset numbers
    a, b = first.tasks["STS12"].parts, second.tasks["STS12"].parts
    assert all(a[k].spearman == b[k].spearman for k in a)


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_all_protocols_come_from_one_encoding_pass(data_dir, tmp_path):
    enc = HashEncoder()
    report = run(_config(data_dir, tmp_path, "every-cosine"), encoder=enc)
    assert enc.encoded == report.timings["sentences_unique"]
    assert [s.protocol.key for s in report.scores] == [
        f"{a}-{m}" for m in ("spearman", "pearson") for a in ("all", "mean", "wmean")]
    # one number checked against scipy on vectors computed here, outside the run
    task = load_sts_task(data_dir, "STS12")
    sims, golds = [], []
    for part in task.parts.values():
        a, b = (np.asarray(HashEncoder().encode(list(x)), dtype=np.float64)
                for x in (part.sent1, part.sent2))
        sims.append((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))
        golds.append(part.gold)
    # bench's tie rule: similarities equal to 6 decimals are ties (bench.correlation)
    expected = 100 * stats.spearmanr(np.round(np.concatenate(sims), 6), np.concatenate(golds))[0]
    assert report.scores[0].values["STS12"] == pytest.approx(expected, abs=1e-9)
    assert report.scores[0].average.tasks == ("STS12", "STSBenchmark")


def test_cli_run_writes_a_complete_report(data_dir, tmp_path, capsys):
    out = tmp_path / "glove.json"
    code = main(["run", "--model", "glove-avg", "--tasks", "STS13", "--protocol", "simcse",
                 "--data-dir", str(data_dir), "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "STS13" in printed and "all-spearman" in printed
    text = out.read_text()
    report = json.loads(text)
    assert report["schema_version"] == 2 and report["kind"] == "run"
    assert report["protocols"][0]["key"] == "all-spearman"
    assert len(report["model"]["fingerprint"]) == 24 and report["model"]["embedding_dim"] == 50
    task = report["tasks"]["STS13"]
    assert task["files"]["STS/STS13-en-test/STS.gs.FNWN.txt"] and task["version"] == 1
    assert task["main_score"] == report["scores"][0]["values"]["STS13"]
    assert report["data"]["status"]["STS/STS13-en-test/STS.gs.FNWN.txt"] == "verified"
    assert report["environment"]["packages"]["numpy"] == np.__version__
    assert report["run"]["seed"] == 1111
    # the number against numpy and scipy on GloVe vectors averaged here (tests/references.py)
    reference = glove_sts_year(data_dir, "STS13")["all-spearman"]
    assert report["scores"][0]["values"]["STS13"] == pytest.approx(reference, abs=1e-9)
    # sentences counted from the files: both sides of every pair, and the distinct texts
    subsets = sts_year(data_dir, "STS13").values()
    texts = [" ".join(t.split()) for s1, s2, _ in subsets for t in (*s1, *s2)]
    timings = report["timings"]
    assert timings["sentences_requested"] == len(texts) == 3000
    assert timings["sentences_unique"] == len(set(texts))
    assert timings["sentences_cached"] + timings["sentences_encoded"] == len(set(texts))
    assert str(data_dir) not in text and str(Path.home()) not in text  # no machine paths
    sidecar = tmp_path / report["pairs"]["file"]
    assert sidecar.is_file()
    assert report["pairs"]["sha256"] == hashlib.sha256(sidecar.read_bytes()).hexdigest()
    loaded = load(out)
    assert loaded.has_pairs and loaded.tasks["STS13"].parts["FNWN"].sim is not None
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("argv,message", [
    (["--model", "no-such-model"], "unknown model 'no-such-model' \\('bench list models' lists "
     "the recipes; a hub model is org/name"),
    (["--model", "glove-avg", "--protocol", "wmean-kendall"], "unknown protocol 'wmean-kendall'"),
    (["--model", "glove-avg", "--tasks", "STS99"],
     "unknown task 'STS99'; did you mean .*; valid: sts, transfer, every, STS12.*MRPC"),
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
    from bench.reports import save
    from bench.runner import RunConfig, run
    from tests.helpers import HashEncoder
    config = RunConfig(model="hash", protocols=parse_protocols("every-cosine"), tasks=["STS12"],
                       data_dir={data!r}, cache_dir={cache!r}, show_progress=False, batch_size=32)
    save(run(config, encoder=HashEncoder(delay=0.05)), {out!r})
""")


@pytest.mark.slow  # spawns a bench process and kills it mid-encoding (~6 s)
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
    resumed = run(_config(data_dir, cache, "every-cosine", ["STS12"]), encoder=enc)
    cached = resumed.timings["sentences_cached"]
    assert cached > 0 and enc.encoded == resumed.timings["sentences_unique"] - cached
    fresh = run(_config(data_dir, tmp_path / "fresh-cache", "every-cosine", ["STS12"]),
                encoder=HashEncoder())
    assert [s.values for s in resumed.scores] == [s.values for s in fresh.scores]


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
