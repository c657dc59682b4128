"""STS scoring against independent scipy computations on the same vectors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bench.data.sts import PairSet, StsTask, load_sts_task
from bench.embed import embed
from bench.protocols import Protocol
from bench.tasks.sts import cosine, evaluate_sts_task, protocol_value
from tests.helpers import HashEncoder


def test_cosine_matches_definition_and_zero_vectors_give_zero():
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    expected = [a @ b / np.linalg.norm(a) / np.linalg.norm(b) for a, b in zip(u, v)]
    np.testing.assert_allclose(cosine(u, v), expected, rtol=1e-12)
    u[2] = 0.0
    assert cosine(u, v)[2] == 0.0  # SentEval: nan_to_num turns 0/0 into 0


def _synthetic_task(rng) -> StsTask:
    parts = {}
    for name, n in (("a", 40), ("b", 25), ("c", 60)):
        s1 = tuple(f"{name} left {i}" for i in range(n))
        s2 = tuple(f"{name} right {i}" for i in range(n))
        gold = np.round(rng.uniform(0, 5, size=n), 1)
        parts[name] = PairSet(name, s1, s2, gold, source=None)
    return StsTask("STS12", parts)


def test_subset_correlations_and_every_aggregation_by_hand():
    rng = np.random.default_rng(1)
    task = _synthetic_task(rng)
    table = embed(HashEncoder(16), task.sentences(), show_progress=False)
    result = evaluate_sts_task(task, table)
    sims, golds, per = [], [], {}
    for name, pairs in task.parts.items():
        a = table.lookup(pairs.sent1).astype(np.float64)
        b = table.lookup(pairs.sent2).astype(np.float64)
        sim = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        per[name] = (stats.pearsonr(sim, pairs.gold)[0], stats.spearmanr(sim, pairs.gold)[0],
                     len(sim))
        sims.append(sim)
        golds.append(pairs.gold)
    for name, (pr, sr, n) in per.items():
        assert result["parts"][name]["pearson"] == pytest.approx(pr, abs=1e-9)
        assert result["parts"][name]["spearman"] == pytest.approx(sr, abs=1e-9)
        assert result["parts"][name]["n"] == n
    counts = np.array([v[2] for v in per.values()])
    for m, col in (("pearson", 0), ("spearman", 1)):
        vals = np.array([v[col] for v in per.values()])
        agg = result["aggregates"][m]
        assert agg["mean"] == pytest.approx(vals.mean(), abs=1e-12)
        assert agg["wmean"] == pytest.approx((vals * counts).sum() / counts.sum(), abs=1e-12)
        corr = stats.pearsonr if m == "pearson" else stats.spearmanr
        assert agg["all"] == pytest.approx(corr(np.concatenate(sims), np.concatenate(golds))[0],
                                           abs=1e-9)
        for how in ("all", "mean", "wmean"):
            assert protocol_value("STS12", result, Protocol(m, how)) == agg[how]


def test_split_tasks_report_the_test_split(data_dir):
    task = load_sts_task(data_dir, "STSBenchmark")
    table = embed(HashEncoder(8), task.sentences(), show_progress=False)
    result = evaluate_sts_task(task, table)
    assert set(result["parts"]) == {"train", "dev", "test"}
    test = task.parts["test"]
    sim = cosine(table.lookup(test.sent1), table.lookup(test.sent2))
    expected = stats.spearmanr(sim, test.gold)[0]
    for how in ("all", "mean", "wmean"):
        assert protocol_value("STSBenchmark", result, Protocol("spearman", how)) == \
            pytest.approx(expected, abs=1e-12)
