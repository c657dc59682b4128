"""The one scorer (bench.scoring) against independent numpy/scipy computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bench.data.sts import PairSet, StsTask
from bench.embed import embed
from bench.protocols import Protocol
from bench.results import PartResult, RegressionResult, TaskResult
from bench.scoring import average, row, task_value
from bench.tasks.registry import TaskMetadata, load_sts_task
from bench.tasks.sts import cosine, evaluate_sts_task
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
    meta = TaskMetadata("synthetic", "sts", reader=None, parts=tuple(parts),
                        eval_parts=tuple(parts))
    return StsTask("synthetic", parts, meta=meta)


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
    for name, (pr, sr, n) in per.items():  # parts are stored in points
        assert result.parts[name].pearson == pytest.approx(100 * pr, abs=1e-7)
        assert result.parts[name].spearman == pytest.approx(100 * sr, abs=1e-7)
        assert result.parts[name].n == n
    counts = np.array([v[2] for v in per.values()])
    for m, col in (("pearson", 0), ("spearman", 1)):
        vals = np.array([v[col] for v in per.values()])
        corr = stats.pearsonr if m == "pearson" else stats.spearmanr
        expected = {"mean": vals.mean(), "wmean": (vals * counts).sum() / counts.sum(),
                    "all": corr(np.concatenate(sims), np.concatenate(golds))[0]}
        for how, value in expected.items():
            assert task_value(result, Protocol(m, how)) == pytest.approx(100 * value, abs=1e-7)
        # Without per-pair data, mean and wmean still follow from the parts; "all" cannot.
        for part in result.parts.values():
            part.sim = part.gold = None
        assert task_value(result, Protocol(m, "all")) is None
        assert task_value(result, Protocol(m, "wmean")) == pytest.approx(
            100 * expected["wmean"], abs=1e-7)
        result = evaluate_sts_task(task, table)


def test_split_tasks_report_the_test_split(data_dir):
    task = load_sts_task(data_dir, "STSBenchmark")
    table = embed(HashEncoder(8), task.sentences(), show_progress=False)
    result = evaluate_sts_task(task, table)
    assert set(result.parts) == {"train", "dev", "test"}
    test = task.parts["test"]
    a = table.lookup(test.sent1).astype(np.float64)
    b = table.lookup(test.sent2).astype(np.float64)
    # same operation order as SentEval's cosine: near-equal pairs must not swap ranks on 1 ulp
    sim = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    # the tie rule (bench.correlation): similarities equal to 6 decimals are ties
    expected = 100 * stats.spearmanr(np.round(sim, 6), test.gold)[0]
    for how in ("all", "mean", "wmean"):
        assert task_value(result, Protocol("spearman", how)) == pytest.approx(expected, abs=1e-9)
    result.ties = "exact"  # a report scored before the rule: SentEval's ranks, float noise and all
    exact = 100 * stats.spearmanr(sim, test.gold)[0]
    assert task_value(result, Protocol("spearman", "all")) == pytest.approx(exact, abs=1e-9)
    # a regressor protocol needs the regressor: no number without it
    assert task_value(result, Protocol("spearman", "all", "senteval")) is None


def _task(name, parts, supervised=False, regression=None):
    eval_parts = ("test",) if supervised else tuple(parts)
    return TaskResult(name, "sts", eval_parts=eval_parts, supervised=supervised,
                      parts={k: PartResult(n, p, s) for k, (n, p, s) in parts.items()},
                      regression=regression)


def _regression(pearson, spearman):
    return RegressionResult("pearson", False, 1111, pearson, spearman, 0.5, 10, 80.0, 10, 50,
                            50, [80.0], 0, 0.1)


def test_regressor_protocols_take_supervised_tasks_from_the_regressor():
    tasks = {"STS12": _task("STS12", {"a": (2, 50.0, 40.0), "b": (6, 70.0, 60.0)}),
             "STSBenchmark": _task("STSBenchmark", {"test": (5, 60.0, 55.0)}, supervised=True,
                                   regression=_regression(80.0, 75.0))}
    plain, reg = Protocol("pearson", "mean"), Protocol("pearson", "mean", "senteval")
    assert row(tasks, plain) == {"STS12": 60.0, "STSBenchmark": 60.0}
    assert row(tasks, reg) == {"STS12": 60.0, "STSBenchmark": 80.0}  # STS12: (50 + 70) / 2
    assert row(tasks, Protocol("pearson", "wmean", "senteval"))["STS12"] == \
        pytest.approx((2 * 50 + 6 * 70) / 8)
    tasks["STSBenchmark"].regression = None
    assert row(tasks, reg) is None  # not trained: the protocol cannot be given


def test_an_average_names_the_tasks_it_covers():
    avg = average({"STS12": 60.0, "STSBenchmark": 81.0})
    assert avg.value == pytest.approx(70.5) and avg.tasks == ("STS12", "STSBenchmark")
    assert average({}) is None
