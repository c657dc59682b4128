"""The paired test of compare and the page (bench.compare.stats.normal_bootstrap_p): its p by
hand, its calibration under a null by simulation, and the family a user tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from bench.compare.seedtests import SeedTest, apply_correction, unreachable
from bench.compare.stats import adjust_p, normal_bootstrap_p
from bench.correlation import rowwise_correlation

ALPHA = 0.05


def test_normal_bootstrap_p_by_hand():
    reps = np.array([1.0, 2.0, 3.0, 4.0])  # sd (ddof 1) = sqrt(5/3)
    z = 2.0 / math.sqrt(5 / 3)
    assert normal_bootstrap_p(2.0, reps) == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-12)
    assert normal_bootstrap_p(0.0, np.zeros(5)) == 1.0  # identical models
    assert normal_bootstrap_p(1.0, np.ones(5)) == 0.0  # a difference without any spread
    assert math.isnan(normal_bootstrap_p(1.0, np.array([np.nan, 1.0])))
    # not floored by the resample count: 20 resamples, yet p far below 2 / 21
    assert normal_bootstrap_p(10.0, np.linspace(-1, 1, 20)) < 1e-10


def simulate(families: int, noise_b: float, seed: int, tasks: int = 3, n: int = 60,
             resamples: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Raw and Holm-adjusted p of ``families`` simulated families (tasks + Avg. each): two
    models whose similarities are the gold signal plus independent normal noise (sd 1 for A,
    ``noise_b`` for B), Pearson, the same bootstrap indices for both (paired)."""
    rng = np.random.default_rng(seed)
    raw = np.empty((families, tasks + 1))
    for start in range(0, families, 50):
        f = min(50, families - start)
        gold = rng.standard_normal((f, tasks, 1, n))
        a = gold + rng.standard_normal(gold.shape)
        b = gold + noise_b * rng.standard_normal(gold.shape)
        idx = rng.integers(0, n, size=(f, tasks, resamples, n))

        def corr(x, i=None, gold=gold):
            g = np.broadcast_to(gold, x.shape)
            if i is not None:
                x = np.take_along_axis(np.broadcast_to(x, i.shape), i, -1)
                g = np.take_along_axis(np.broadcast_to(gold, i.shape), i, -1)
            return rowwise_correlation(x, g, "pearson")

        delta = 100 * (corr(b) - corr(a))[..., 0]  # (f, tasks)
        reps = 100 * (corr(b, idx) - corr(a, idx))  # (f, tasks, resamples)
        raw[start:start + f, :tasks] = normal_bootstrap_p(delta, reps)
        raw[start:start + f, tasks] = normal_bootstrap_p(delta.mean(1), reps.mean(1))
    adjusted = np.array([adjust_p(list(row), "holm") for row in raw])
    return raw, adjusted


@pytest.mark.slow  # about 1 s: 500 families x 4 tests x 200 resamples
def test_corrected_false_positive_rate_under_the_null_is_at_most_alpha():
    families = 500
    raw, adjusted = simulate(families, noise_b=1.0, seed=2025)
    fpr = float(np.mean((adjusted < ALPHA).any(axis=1)))
    slack = 3 * math.sqrt(ALPHA * (1 - ALPHA) / families)  # binomial, 3 standard errors
    assert fpr <= ALPHA + slack, fpr
    # and each single test is calibrated too: its rejection rate at 5% near 5%
    per_test = float(np.mean(raw < ALPHA))
    assert per_test <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / raw.size), per_test


@pytest.mark.slow
def test_power_with_a_known_difference():
    # Pearson of gold ~ N(0, 1) with gold + N(0, s^2) is 1 / sqrt(1 + s^2): 70.7 vs 61.2 points
    raw, adjusted = simulate(200, noise_b=1.3, seed=7, n=200)
    power_avg = float(np.mean(adjusted[:, -1] < ALPHA))
    assert power_avg > 0.7, power_avg  # 0.845: a 9.5-point difference on 3 x 200 pairs


def test_identical_numbers_across_protocols_are_tested_once():
    class T:
        def __init__(self, p):
            self.p_bootstrap = p

    tests = [T(0.01), T(0.02), T(0.01), T(0.04)]
    size = apply_correction(tests, "holm", ["stsb", "sts12-all", "stsb", "sts12-mean"])
    assert size == 3
    expected = adjust_p([0.01, 0.02, 0.04], "holm")  # the distinct tests only
    assert [t.p_adjusted for t in tests] == pytest.approx(
        [expected[0], expected[1], expected[0], expected[2]])


def test_unreachable_family_is_said():
    seed = SeedTest("avg", 1.0, 0.1, (3, 3))  # 3 seeds a side: p >= 0.1
    assert "unreachable" in unreachable([seed], 8, "holm")
    assert unreachable([seed], 1, "holm") is not None  # 0.1 >= 0.05 even alone

    class Paired:
        p_bootstrap, p_floor = 0.3, 0.0

    assert unreachable([Paired()], 96, "holm") is None


def test_normal_p_agrees_with_williams_on_a_large_difference():
    """The row of the issue: a 40-point gap on 1,379 pairs is far beyond 5% either way."""
    rng = np.random.default_rng(3)
    gold = rng.standard_normal(1379)
    a, b = gold + 0.5 * rng.standard_normal(1379), gold + 2 * rng.standard_normal(1379)
    idx = rng.integers(0, 1379, size=(300, 1379))
    reps = rowwise_correlation(b[idx], gold[idx], "pearson") - \
        rowwise_correlation(a[idx], gold[idx], "pearson")
    delta = stats.pearsonr(b, gold)[0] - stats.pearsonr(a, gold)[0]
    assert normal_bootstrap_p(delta, reps) < 1e-6


@pytest.mark.slow  # bootstraps the two kept reports through compare and the page (~5 s)
def test_kept_minilm_and_glove_are_marked_everywhere(tmp_path, capsys):
    """GloVe trails MiniLM by 33.6 points on Avg.: every STS task and Avg. is significant
    under compare --significance and on the page, with the README's --resamples 100."""
    import json
    import re
    from pathlib import Path

    from bench.cli import main

    kept = Path(__file__).resolve().parents[1] / "reports"
    reports = [str(kept / "minilm-avg-sts-every.json"), str(kept / "glove-avg-sts-every.json")]
    assert main(["compare", *reports, "--significance", "--resamples", "100",
                 "--format", "json"]) == 0
    tables = json.loads(capsys.readouterr().out)["tables"]
    rows = [r for t in tables if t["title"] == "Paired significance" for r in t["rows"]]
    assert len(rows) == 8 and all(r["p adj (holm)"] < ALPHA for r in rows)
    page = tmp_path / "page.html"
    # the page's primary protocol alone (its family does not depend on the others offered)
    assert main(["page", *reports, "--html", str(page), "--resamples", "100",
                 "--protocol", "all-spearman"]) == 0
    text = page.read_text(encoding="utf-8")
    primary = re.search(r'<section class="protocol" data-protocol="all-spearman">(.*?)</section>',
                        text, re.S).group(1)
    assert primary.count("<sup class='sig'") == 8  # STS12 ... SICK-R and Avg.
    # the page's rank plot draws the rank table's intervals (minilm first, glove second)
    marks = re.findall(r'<g class="mark" data-model="([^"]+)" data-rank="(\d+)" '
                       r'data-low="(\d+)" data-high="(\d+)"', text)
    assert sorted(marks) == [("glove-avg", "2", "2", "2"), ("minilm-avg", "1", "1", "1")]


@pytest.mark.slow  # two synthetic runs bootstrapped under two protocols (about 1 s)
def test_the_default_family_is_the_primary_protocols(tmp_path, capsys):
    """Default --family primary: the first protocol's cells are one family; the second
    protocol is a sensitivity view corrected over its own cells only."""
    import json

    from bench.cli import main
    from tests.test_compare import _gold, _noisy, _synthetic_run

    gold = _gold(3)
    ref, a = tmp_path / "ref.json", tmp_path / "a.json"
    _synthetic_run(ref, "ref", _noisy(gold, 1.5, 1), gold)
    _synthetic_run(a, "a", _noisy(gold, 1.3, 2), gold)
    assert main(["compare", str(ref), str(a), "--significance", "--resamples", "100",
                 "--protocol", "all-spearman,wmean-pearson", "--format", "json"]) == 0
    sig = [t for t in json.loads(capsys.readouterr().out)["tables"]
           if t["title"] == "Paired significance"]
    for table in sig:
        raw = [r["p (paired bootstrap)"] for r in table["rows"]]
        adj = [r["p adj (holm)"] for r in table["rows"]]
        assert len(raw) == 3 and adj == pytest.approx(adjust_p(raw, "holm"), abs=1e-12)
    notes = " ".join(sig[-1]["notes"])
    assert "family: 3 tests" in notes and "primary protocol all-spearman" in notes
    assert any("sensitivity view" in n for n in sig[1]["notes"])


@pytest.mark.slow  # two kept reports through compare (about 2 s)
def test_each_tasks_replicates_are_drawn_once_per_compare(monkeypatch, capsys):
    """--ci, the paired tests and the rank intervals read the same replicates: each task of
    each report is bootstrapped once (it was three times, about 30 s for the kept reports)."""
    from collections import Counter
    from pathlib import Path

    import bench.compare.uncertainty as uncertainty
    from bench.cli import main

    calls: Counter = Counter()
    inner = uncertainty._task_replicates

    def counting(task, protocol, resamples, seed, budget):
        calls[(id(task), protocol.key)] += 1
        return inner(task, protocol, resamples, seed, budget)

    monkeypatch.setattr(uncertainty, "_task_replicates", counting)
    kept = Path(__file__).resolve().parents[1] / "reports"
    assert main(["compare", str(kept / "minilm-avg-sts-every.json"),
                 str(kept / "glove-avg-sts-every.json"), "--ci", "--significance",
                 "--resamples", "20", "--protocol", "wmean-spearman"]) == 0
    capsys.readouterr()
    assert len(calls) == 14 and set(calls.values()) == {1}  # 7 tasks x 2 reports, once each
