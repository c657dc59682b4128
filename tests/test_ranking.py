"""Rank intervals and tiers (bench.compare.ranking): by hand on small examples, through
compare on synthetic runs, and on the kept reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.compare.ranking import RankInterval, rank_intervals, ranks, task_draws, tiers

REPO = Path(__file__).resolve().parents[1]


def test_ranks_are_competition_ranks():
    assert ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [1, 4, 1, 3]


def test_rank_interval_by_hand():
    # replicate ranks: A 1,2,1,1; B 2,1,3,2; C 3,3,2,3 (ranks 1 = best)
    replicates = np.array([[3.0, 2.0, 1.0], [2.0, 3.0, 1.0], [3.0, 1.0, 2.0], [3.0, 2.0, 1.0]])
    got = rank_intervals(["A", "B", "C"], np.array([3.0, 2.0, 1.0]), replicates, level=0.5)
    # central 50%: the 25% and 75% quantiles of the ranks as an inverted CDF
    # A: CDF(1) = 3/4 -> 1..1; B: CDF(1) = 1/4, CDF(2) = 3/4 -> 1..2; C: CDF(2) = 1/4 -> 2..3
    assert [(r.model, r.rank, r.low, r.high) for r in got] == \
        [("A", 1, 1, 1), ("B", 2, 1, 2), ("C", 3, 2, 3)]
    wide = rank_intervals(["A", "B", "C"], np.array([3.0, 2.0, 1.0]), replicates, level=0.95)
    # 2.5% and 97.5%: the lowest and the highest rank each model took
    assert [(r.low, r.high) for r in wide] == [(1, 2), (1, 3), (2, 3)]
    assert all(isinstance(r, RankInterval) for r in wide)


def test_tiers_by_hand():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((200, 3)) * 0.5
    observed = np.array([10.0, 9.9, 5.0])
    # A and B 0.1 apart with spread 0.7 on their difference: one tier; C 5 below: the next
    assert tiers(observed, observed + noise) == [1, 1, 2]
    # the same with C on top: C alone in tier 1
    assert tiers(np.array([10.0, 9.9, 15.0]), np.array([10.0, 9.9, 15.0]) + noise) == [2, 2, 1]
    got = rank_intervals(["A", "B", "C"], observed, observed + noise)
    assert [(r.model, r.tier) for r in got] == [("A", 1), ("B", 1), ("C", 2)]
    assert (got[2].low, got[2].high) == (3, 3)


def test_task_draws_are_with_replacement_and_seeded():
    a, b = task_draws(7, 50, 1), task_draws(7, 50, 1)
    assert np.array_equal(a, b) and a.shape == (50, 7) and a.min() >= 0 and a.max() < 7
    assert any(len(set(row)) < 7 for row in a)  # some task drawn twice in some replicate


@pytest.mark.slow  # three synthetic runs bootstrapped through compare (about 2 s)
def test_compare_shows_rank_intervals(tmp_path, capsys):
    from tests.test_compare import _gold, _noisy, _synthetic_run

    gold = _gold(3)
    paths = []
    for name, noise, seed in [("good", 0.3, 1), ("twin", 0.31, 2), ("bad", 3.0, 3)]:
        paths.append(tmp_path / f"{name}.json")
        _synthetic_run(paths[-1], name, _noisy(gold, noise, seed), gold)
    assert main(["compare", *map(str, paths), "--significance", "--resamples", "200",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    table = next(t for t in data["tables"] if t["title"] == "Rank intervals")
    by_model = {r["model"]: r for r in table["ranks"]}
    assert by_model["bad"]["rank"] == 3 and by_model["bad"]["tier"] == 2
    assert {by_model["good"]["tier"], by_model["twin"]["tier"]} == {1}
    assert by_model["bad"]["low"] == by_model["bad"]["high"] == 3


@pytest.mark.slow  # bootstraps two kept reports (several seconds)
def test_kept_reports_rank_intervals(capsys):
    reports = [str(REPO / "reports" / n) for n in ("glove-avg-sts-every.json",
                                                   "minilm-avg-sts-every.json")]
    assert main(["compare", *reports, "--significance", "--resamples", "100",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    table = next(t for t in data["tables"] if t["title"] == "Rank intervals")
    assert table["ranks"] == [
        {"model": "minilm-avg", "rank": 1, "low": 1, "high": 1, "tier": 1},
        {"model": "glove-avg", "rank": 2, "low": 2, "high": 2, "tier": 2}]
