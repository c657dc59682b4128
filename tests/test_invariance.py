"""Scores that must not move: with the batch size, with the order of the pairs, with the
precision the vectors were encoded in (bench scores them in float64, so bf16 vectors do not
get the ties that bf16 scoring gives)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bench
from bench.encoders.registry import EncoderOptions, resolve
from tests.helpers import HashEncoder
from tests.sts_files import stsb_rows, unregister_task_files, write_task

TOLERANCE = 1e-4  # points
MODEL = "minilm-avg"  # the packaged all-MiniLM-L6-v2, last-layer mean


@pytest.fixture
def stsb200(data_dir, tmp_path):
    """The first 200 STS-B test pairs as a task file, and the same pairs shuffled."""
    rows = stsb_rows(data_dir, "test", 0, 200)
    order = np.random.default_rng(0).permutation(len(rows))
    yield (write_task(tmp_path / "a", "Stsb200", rows),
           write_task(tmp_path / "b", "Stsb200Shuffled", [rows[i] for i in order]))
    unregister_task_files()


def _values(report, task):
    return {s.protocol.key: s.values[task] for s in report.scores}


@pytest.mark.slow
def test_minilm_scores_do_not_depend_on_batch_size_or_pair_order(stsb200):
    plain, shuffled = stsb200
    protocols = "all-spearman,all-pearson"
    runs = {bs: _values(bench.evaluate(MODEL, task_files=[plain], protocols=protocols,
                                       batch_size=bs, use_cache=False), "Stsb200")
            for bs in (1, 7, 64, 256)}
    reference = runs[64]
    for bs, values in runs.items():
        for key, value in values.items():
            assert abs(value - reference[key]) <= TOLERANCE, (bs, key, value, reference[key])
    other = _values(bench.evaluate(MODEL, task_files=[shuffled], protocols=protocols,
                                   batch_size=7, use_cache=False), "Stsb200Shuffled")
    for key, value in other.items():
        assert abs(value - reference[key]) <= TOLERANCE, (key, value, reference[key])


@pytest.mark.slow
def test_minilm_vectors_do_not_depend_on_their_neighbours_in_a_batch(data_dir):
    """Below bench's length sorting: the model itself, sentences in another order and other
    batch sizes give the same vectors (so bench's invariance is not an artefact of sorting)."""
    sentences = [s for r in stsb_rows(data_dir, "test", 0, 100) for s in r[:2]]
    encoder = resolve(MODEL, EncoderOptions())
    reference = encoder.encode(sentences, batch_size=64)
    order = np.random.default_rng(1).permutation(len(sentences))
    for bs in (1, 7, 256):
        got = encoder.encode([sentences[i] for i in order], batch_size=bs)
        assert np.abs(got - reference[order]).max() < 1e-5, bs


def _ties(values: np.ndarray) -> int:
    """Pairs whose similarity equals another pair's: what Spearman has to give average ranks."""
    return int(len(values) - len(np.unique(values)))


def _legitimate_ties(s1, s2) -> int:
    """Ties any exact scorer has: a pair repeated (either order), or several pairs of one
    sentence with itself (cosine 1)."""
    keys = [frozenset((a, b)) for a, b in zip(s1, s2)]
    same = sum(a == b for a, b in zip(s1, s2))
    return len(keys) - len(set(keys)) + max(same - 1, 0)


def test_bf16_vectors_scored_by_bench_have_no_spurious_ties(tiny_bert, stsb200):
    plain, _ = stsb200
    report = bench.evaluate(str(tiny_bert), pooler="avg", task_files=[plain], dtype="bf16",
                            protocols="all-spearman", use_cache=False)
    part = report.tasks["Stsb200"].parts["test"]
    task = bench.tasks.registry.get("Stsb200").load(plain.parent).parts["test"]
    bench_ties = _ties(np.asarray(part.sim))
    assert bench_ties <= _legitimate_ties(task.sent1, task.sent2)

    encoder = resolve(str(tiny_bert), EncoderOptions(pooler="avg", dtype="bf16"))
    u = torch.from_numpy(encoder.encode(list(task.sent1))).to(torch.bfloat16)
    v = torch.from_numpy(encoder.encode(list(task.sent2))).to(torch.bfloat16)
    direct = torch.nn.functional.cosine_similarity(u, v, dim=1).float().numpy()  # bf16 scoring
    assert _ties(direct) > 10 * max(bench_ties, 1)
    # the vectors are bf16 values; bench scores them in float64
    assert np.array_equal(u.float().numpy(), encoder.encode(list(task.sent1)))


def _identical_pairs(data_dir, subset: str) -> int:
    """Pairs of identical sentences in SentEval's STS12 files (pairs with a gold line only)."""
    folder = data_dir / "STS/STS12-en-test"
    inputs = (folder / f"STS.input.{subset}.txt").read_text(encoding="utf-8").splitlines()
    golds = (folder / f"STS.gs.{subset}.txt").read_text(encoding="utf-8").splitlines()
    return sum(line.split("\t")[0].split() == line.split("\t")[1].split()
               for line, gold in zip(inputs, golds) if gold != "")


def test_sts12_reports_note_its_near_ties(data_dir):
    report = bench.evaluate(HashEncoder(), tasks="STS12", data_dir=data_dir,
                            protocols="all-spearman", use_cache=False)
    (note,) = [n for n in report.notes if n.startswith("near-ties")]
    europarl, news = (_identical_pairs(data_dir, s) for s in ("SMTeuroparl", "surprise.SMTnews"))
    assert f"SMTeuroparl has {europarl} and surprise.SMTnews {news} pairs" in note
    other = bench.evaluate(HashEncoder(), tasks="STS16", data_dir=data_dir,
                           protocols="all-spearman", use_cache=False)
    assert not any(n.startswith("near-ties") for n in other.notes)
