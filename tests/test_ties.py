"""The tie rule (bench.correlation): a task's rank score does not depend on what else is in
the run, though float noise in the vectors does."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from scipy import stats

import bench
from bench.correlation import LEGACY_TIES, TIES, correlation, rowwise_correlation
from bench.encoders.base import Encoder
from tests.sts_files import unregister_task_files, write_task


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "little")


class BatchNoiseEncoder(Encoder):
    """Deterministic vectors per sentence, times 1 + 1e-12 noise that depends on the whole
    batch: what padding does to a transformer's float arithmetic, made visible."""

    name = "batch-noise"

    def spec(self) -> dict[str, Any]:
        return {"type": "batch-noise"}

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        batch = np.random.default_rng(_seed("\n".join(sentences)))
        out = np.stack([np.random.default_rng(_seed(s)).standard_normal(16) for s in sentences])
        return out * (1 + 1e-12 * batch.standard_normal(out.shape))


def _rows(prefix: str, seed: int) -> list[tuple[str, str, str]]:
    """40 pairs of two identical sentences with varied gold, 40 ordinary pairs."""
    rng = np.random.default_rng(seed)
    same = [(f"{prefix} sentence {i} " + "x" * (i % 7),) * 2 for i in range(40)]
    other = [(f"{prefix} left {i}", f"{prefix} right {i} " + "y" * (i % 5)) for i in range(40)]
    return [(a, b, f"{rng.uniform(0, 5):.2f}") for a, b in same + other]


@pytest.fixture
def two_tasks(tmp_path):
    yield (write_task(tmp_path / "a", "TieTask", _rows("tie", 0)),
           write_task(tmp_path / "b", "OtherTask", _rows("other", 1)))
    unregister_task_files()


def _run(files):
    return bench.evaluate(BatchNoiseEncoder(), task_files=files, tasks=["TieTask"]
                          if len(files) == 1 else ["TieTask", "OtherTask"],
                          protocols="all-spearman", batch_size=3, use_cache=False)


@pytest.mark.slow  # about 1 s: two runs of the whole pipeline
def test_a_task_scores_the_same_alone_and_with_the_suite(two_tasks):
    alone = _run([two_tasks[0]])
    suite = _run(list(two_tasks))
    a, b = alone.tasks["TieTask"], suite.tasks["TieTask"]
    assert a.ties == b.ties == TIES
    sa, sb = a.parts["test"].sim, b.parts["test"].sim
    gold = a.parts["test"].gold
    # the setup makes float noise: the similarities differ, and the old (exact) rule's score
    # with them
    assert not np.array_equal(sa, sb) and np.abs(sa - sb).max() < 1e-9
    assert correlation(sa, gold, "spearman", LEGACY_TIES) != \
        correlation(sb, gold, "spearman", LEGACY_TIES)
    # the score under the rule: identical, and what scipy gives on the rounded similarities
    assert alone.scores[0].values["TieTask"] == suite.scores[0].values["TieTask"]
    expected = 100 * stats.spearmanr(np.round(sa, 6), gold)[0]
    assert alone.scores[0].values["TieTask"] == pytest.approx(expected, abs=1e-12)


def test_one_rule_in_both_forms():
    """The single-sample and the row-wise (bootstrap) Spearman apply the same rule."""
    rng = np.random.default_rng(4)
    gold = rng.uniform(0, 5, 50)
    sim = np.where(np.arange(50) < 20, 1.0, rng.uniform(0, 1, 50))
    noisy = sim + np.where(np.arange(50) < 20, rng.choice([-2.2e-16, 0, 2.2e-16], 50), 0)
    one = correlation(noisy, gold, "spearman")
    assert one == pytest.approx(stats.spearmanr(sim, gold)[0], abs=1e-15)
    rows = rowwise_correlation(np.stack([noisy, sim]), np.stack([gold, gold]), "spearman")
    assert rows[0] == rows[1] == pytest.approx(one, abs=1e-15)
    # Pearson is left exact
    assert correlation(noisy, gold, "pearson") == stats.pearsonr(noisy, gold)[0]


def test_a_report_names_its_rule_and_an_unknown_one_is_refused(tmp_path):
    from bench.results import ReportError, TaskResult

    task = TaskResult.from_dict("STSBenchmark", {"family": "sts", "parts": {}}, "r.json")
    assert task.ties == LEGACY_TIES  # a report from before the rule
    assert "ties" not in task.to_dict()  # re-saved as it was
    task.ties = TIES
    assert task.to_dict()["ties"] == TIES
    with pytest.raises(ReportError, match="ties 'fuzzy' is not a tie rule"):
        TaskResult.from_dict("STSBenchmark", {"family": "sts", "ties": "fuzzy"}, "r.json")
