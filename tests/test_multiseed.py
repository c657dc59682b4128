"""Multi-seed training and evaluation (issue 16): ``--seeds``, the per-seed report section,
compare's tests over seeds and its single-seed flag, the family correction.

The seed runs are trained with the tiny random BERT on 24 lines for a few steps; the numbers
checked are recomputed here from each seed's own evaluation (scipy and numpy), never taken
from the code under test.
"""

from __future__ import annotations

import itertools
import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bench
from bench.cli import main
from bench.compare.stats import adjust_p, seed_permutation_p
from bench.reports import load
from tests.helpers import write_tiny_stsb

PROTOCOLS = "all-spearman,all-pearson"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return write_tiny_stsb(tmp_path_factory.mktemp("tiny-stsb"), pairs=40)


def _train(runs: Path, name: str, seeds: str, corpus: Path, backbone: Path, data: Path,
           lr: str = "1e-3", *extra: str) -> int:
    return main(["train", "simcse", "--quiet", "--mode", "unsup", "--data", str(corpus),
                 "--backbone", str(backbone), "--name", name, "--runs-dir", str(runs),
                 "--batch-size", "4", "--max-length", "16", "--max-steps", "4", "--lr", lr,
                 "--eval-steps", "2", "--save-steps", "2", "--data-dir", str(data),
                 "--seeds", seeds, *extra])


@pytest.fixture(scope="module")
def seed_groups(tmp_path_factory, tiny_corpus, tiny_bert, tiny_data):
    """Two 3-seed groups (two learning rates) and their multi-seed reports."""
    runs = tmp_path_factory.mktemp("runs")
    out = tmp_path_factory.mktemp("reports")
    for name, lr in (("a", "1e-3"), ("b", "3e-3")):
        assert _train(runs, name, "1,2,3", tiny_corpus, tiny_bert, tiny_data, lr) == 0
        bench.evaluate(runs / name, tasks="STSBenchmark", protocols=PROTOCOLS,
                       data_dir=tiny_data, verify_data=False, out=out / f"{name}.json")
    bench.evaluate(runs / "a" / "seed-1", tasks="STSBenchmark", protocols=PROTOCOLS,
                   data_dir=tiny_data, verify_data=False, out=out / "single.json")
    return runs, out


# ------------------------------------------------------------------------------ training

@pytest.mark.slow  # trains six tiny runs (module fixture)
def test_seeds_train_one_run_per_seed(seed_groups):
    runs, _ = seed_groups
    group = runs / "a"
    assert sorted(p.name for p in group.iterdir()) == ["seed-1", "seed-2", "seed-3",
                                                       "seeds.json"]
    for seed in (1, 2, 3):
        info = json.loads((group / f"seed-{seed}" / "run.json").read_text())
        assert info["status"] == "finished" and info["config"]["seed"] == seed
    assert json.loads((group / "seeds.json").read_text())["seeds"] == [1, 2, 3]
    weights = {(group / f"seed-{s}/best/model.safetensors").read_bytes() for s in (1, 2, 3)}
    assert len(weights) == 3  # the seeds trained different models


@pytest.mark.parametrize("seeds, extra, message", [
    ("1,1", [], "seed 1 is given twice"),
    ("1,x", [], "'x' is not an integer seed"),
    ("1,,2", [], "comma-separated list of seeds"),
    ("-1", [], "--seeds must be between 0 and"),
    ("1,2", ["--seed", "3"], "--seed and --seeds exclude each other"),
])
def test_bad_seed_lists_fail_before_training(tmp_path, capsys, tiny_corpus, tiny_bert,
                                             tiny_data, seeds, extra, message):
    code = _train(tmp_path / "runs", "x", seeds, tiny_corpus, tiny_bert, tiny_data, "1e-3",
                  *extra)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("bench: error: ") and message in err
    assert err.count("\n") == 1 and not (tmp_path / "runs").exists()


def test_existing_seed_folder_is_refused_before_any_seed_trains(tmp_path, capsys, tiny_corpus,
                                                                tiny_bert, tiny_data):
    (tmp_path / "runs/x/seed-2").mkdir(parents=True)
    (tmp_path / "runs/x/seed-2/keep.txt").write_text("mine")
    code = _train(tmp_path / "runs", "x", "1,2", tiny_corpus, tiny_bert, tiny_data)
    err = capsys.readouterr().err
    assert code == 2 and "seed-2 already exist" in err
    assert not (tmp_path / "runs/x/seed-1").exists()  # seed 1 did not start either


# ------------------------------------------------------------------------------ the report

def _spearman_replicates(sim: np.ndarray, gold: np.ndarray, resamples: int, seed: int,
                         key: str) -> np.ndarray:
    """The bootstrap the report documents (bench.compare.uncertainty): indices drawn by
    default_rng([seed, crc32("task/part")]), Spearman recomputed here by scipy on the
    similarities rounded to 6 decimals (the tie rule of a run, bench.correlation)."""
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    idx = rng.integers(0, len(sim), size=(resamples, len(sim)))
    return np.array([100 * stats.spearmanr(np.round(sim[i], 6), gold[i])[0] for i in idx])


@pytest.mark.slow  # trains six tiny runs (module fixture)
def test_multi_seed_report_has_per_seed_values_mean_sd_and_pooled_interval(seed_groups,
                                                                           tiny_data):
    runs, out = seed_groups
    report = load(out / "a.json")
    assert report.seeds is not None and report.seeds.seeds == [1, 2, 3]
    # each seed's number, from an evaluation of that seed's run alone
    alone = [bench.evaluate(runs / "a" / f"seed-{s}", tasks="STSBenchmark",
                            protocols="all-spearman", data_dir=tiny_data, verify_data=False)
             for s in (1, 2, 3)]
    values = [r.scores[0].values["STSBenchmark"] for r in alone]
    assert len(set(values)) > 1  # the seeds differ, so sd and the pooled interval mean something
    st = report.seeds.summary["all-spearman"]["STSBenchmark"]
    assert st.values == pytest.approx(values, abs=1e-9)
    assert st.mean == pytest.approx(np.mean(values), abs=1e-9)
    assert st.sd == pytest.approx(np.std(values, ddof=1), abs=1e-9)
    # the table's number is the mean over seeds
    assert report.scores[0].values["STSBenchmark"] == pytest.approx(np.mean(values), abs=1e-9)
    # pooled interval: 1000 replicates within each seed, all 3000 pooled, 2.5 / 97.5 percentiles
    pooled = []
    for r in alone:
        part = r.tasks["STSBenchmark"].parts["test"]
        pooled.append(_spearman_replicates(np.asarray(part.sim), np.asarray(part.gold), 1000,
                                           1111, "STSBenchmark/test"))
    pooled = np.concatenate(pooled)
    lo, hi = np.percentile(pooled[np.isfinite(pooled)], [2.5, 97.5])
    assert st.ci == pytest.approx((lo, hi), abs=1e-6)
    # each seed's per-pair data comes back from the sidecar
    for run, r in zip(report.seeds.runs, alone):
        np.testing.assert_array_equal(run.tasks["STSBenchmark"].parts["test"].sim,
                                      r.tasks["STSBenchmark"].parts["test"].sim)
    # a protocol the report did not store is recomputed per seed, then averaged
    wmean = bench.protocols.parse_one("wmean-pearson")
    per_seed = [bench.evaluate(runs / "a" / f"seed-{s}", tasks="STSBenchmark",
                               protocols="wmean-pearson", data_dir=tiny_data,
                               verify_data=False).scores[0].values["STSBenchmark"]
                for s in (1, 2, 3)]
    assert report.score(wmean).values["STSBenchmark"] == pytest.approx(np.mean(per_seed),
                                                                       abs=1e-9)


@pytest.mark.slow  # trains six tiny runs (module fixture)
def test_bench_run_over_a_seed_folder_prints_the_seed_table(seed_groups, tiny_data, tmp_path,
                                                            capsys):
    runs, _ = seed_groups
    assert main(["run", "--model", str(runs / "b"), "--tasks", "STSBenchmark", "--protocol",
                 "all-spearman", "--data-dir", str(tiny_data), "--skip-verify", "--quiet",
                 "--out", str(tmp_path / "b.json")]) == 0
    text = capsys.readouterr().out
    assert "all-spearman over seeds" in text and "seed 3" in text and "95% CI" in text
    assert load(tmp_path / "b.json").seeds.seeds == [1, 2, 3]


# ------------------------------------------------------------------------------ compare

def _compare_csv(tmp_path: Path, *argv: str) -> pd.DataFrame:
    target = tmp_path / "out.csv"
    assert main(["compare", *argv, "--format", "csv", "--out", str(target)]) == 0
    return pd.read_csv(target)


@pytest.mark.slow  # trains six tiny runs (module fixture)
def test_compare_flags_single_seed_against_multi_seed(seed_groups, tmp_path):
    _, out = seed_groups
    target = tmp_path / "table.md"
    assert main(["compare", str(out / "a.json"), str(out / "single.json"), "--allow-mixed",
                 "--significance", "--format", "md", "--out", str(target)]) == 0
    text = target.read_text()
    assert "[3 seeds]" in text and "[1 seed]" in text
    assert "SINGLE-SEED vs MULTI-SEED" in text
    assert "not tested, single-seed vs multi-seed" in text


@pytest.mark.slow  # trains six tiny runs (module fixture)
def test_compare_tests_two_multi_seed_models_over_seeds(seed_groups, tmp_path):
    _, out = seed_groups
    target = tmp_path / "out.json"
    assert main(["compare", str(out / "a.json"), str(out / "b.json"), "--significance",
                 "--protocol", "all-spearman", "--format", "json", "--out", str(target)]) == 0
    tables = {t["title"]: t for t in json.loads(target.read_text())["tables"]}
    seed_rows = tables["Significance over training seeds"]["rows"]
    a = load(out / "a.json").seeds.summary["all-spearman"]["STSBenchmark"].values
    b = load(out / "b.json").seeds.summary["all-spearman"]["STSBenchmark"].values
    # exact permutation test by enumeration: every way to split the 6 values into 3 + 3
    pooled = np.array(b + a)
    observed = abs(np.mean(b) - np.mean(a))
    diffs = [abs(pooled[list(i)].mean() - np.delete(pooled, list(i)).mean())
             for i in itertools.combinations(range(6), 3)]
    expected = np.mean(np.array(diffs) >= observed - 1e-12)
    row = next(r for r in seed_rows if r["Task"] == "STS-B")
    assert row["p (seed permutation)"] == pytest.approx(expected, abs=1e-12)
    assert row["Delta"] == pytest.approx(np.mean(b) - np.mean(a), abs=1e-9)
    assert row["seeds"] == "3 vs 3"


# ------------------------------------------------------------------------------ correction

def test_holm_and_bonferroni_equal_statsmodels():
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    rng = np.random.default_rng(7)
    p = list(rng.uniform(0, 0.2, size=15)) + [0.001, 0.049, 0.049]
    for method in ("holm", "bonferroni"):
        assert adjust_p(p, method) == pytest.approx(list(multipletests(p, method=method)[1]),
                                                    abs=1e-15)
    # NaN (an untestable cell) stays NaN and is not counted in the family
    got = adjust_p([0.01, float("nan"), 0.04], "holm")
    assert np.isnan(got[1]) and got[0] == pytest.approx(0.02) and got[2] == pytest.approx(0.04)
    assert adjust_p(p, "none") == p


def _holm_by_hand(p: list[float]) -> list[float]:
    """Holm (1979), written out: sort, multiply the i-th smallest by m - i, running maximum."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def test_compare_significance_reports_holm_adjusted_p(tmp_path):
    from tests.test_compare import _gold, _noisy, _synthetic_run

    gold = _gold(3)
    ref, a, b = tmp_path / "ref.json", tmp_path / "a.json", tmp_path / "b.json"
    _synthetic_run(ref, "ref", _noisy(gold, 1.5, 1), gold)
    _synthetic_run(a, "a", _noisy(gold, 1.2, 2), gold)
    _synthetic_run(b, "b", _noisy(gold, 1.6, 3), gold)
    frame = _compare_csv(tmp_path, str(ref), str(a), str(b), "--significance",
                         "--resamples", "200")
    raw_cols = [c for c in frame.columns if c.endswith(" p_boot")]
    tested = frame[frame["Model"].isin(["a", "b"])]
    raw = [float(v) for _, r in tested.iterrows() for v in r[raw_cols]]
    adj = [float(r[c.replace("p_boot", "p_adj")]) for _, r in tested.iterrows()
           for c in raw_cols]
    assert len(raw) == 2 * 3  # 2 comparisons x (STS12, STS-B, Avg.) under one protocol
    assert adj == pytest.approx(_holm_by_hand(raw), abs=1e-12)
    assert any(x != y for x, y in zip(raw, adj))
    frame = _compare_csv(tmp_path, str(ref), str(a), str(b), "--significance",
                         "--resamples", "200", "--correction", "bonferroni")
    tested = frame[frame["Model"].isin(["a", "b"])]
    adj = [float(r[c.replace("p_boot", "p_adj")]) for _, r in tested.iterrows()
           for c in raw_cols]
    assert adj == pytest.approx([min(1.0, 6 * x) for x in raw], abs=1e-12)


def _two_synthetic_runs(tmp_path, noise_a: float) -> tuple:
    """A reference run and one other over three synthetic tasks (tests/test_compare.py)."""
    from tests.test_compare import _gold, _noisy, _synthetic_run

    gold = _gold(3)
    ref, a = tmp_path / "ref.json", tmp_path / "a.json"
    _synthetic_run(ref, "ref", _noisy(gold, 1.5, 1), gold)
    _synthetic_run(a, "a", _noisy(gold, noise_a, 2), gold)
    return ref, a


def test_family_is_stated(tmp_path):
    ref, a = _two_synthetic_runs(tmp_path, 1.2)
    target = tmp_path / "t.md"
    assert main(["compare", str(ref), str(a), "--significance", "--resamples", "50",
                 "--format", "md", "--out", str(target)]) == 0
    text = target.read_text()
    assert "family: 3 tests = 1 comparison(s) x 3 cells" in text
    assert "x 1 protocol(s) (all-spearman)" in text
    assert "p adj (holm)" in text


def test_one_family_over_several_protocols(tmp_path):
    ref, a = _two_synthetic_runs(tmp_path, 1.3)
    target = tmp_path / "t.json"
    assert main(["compare", str(ref), str(a), "--significance", "--resamples", "100",
                 "--protocol", "all-spearman,wmean-pearson", "--family", "all",
                 "--format", "json", "--out", str(target)]) == 0
    data = json.loads(target.read_text())
    sig = [t for t in data["tables"] if t["title"] == "Paired significance"]
    assert len(sig) == 2  # one table per protocol
    raw = [r["p (paired bootstrap)"] for t in sig for r in t["rows"]]
    adj = [r["p adj (holm)"] for t in sig for r in t["rows"]]
    assert len(raw) == 6 and adj == pytest.approx(_holm_by_hand(raw), abs=1e-12)
    assert any("x 2 protocol(s) (all-spearman, wmean-pearson)" in n for n in sig[-1]["notes"])


def test_seed_permutation_p_resolution():
    # 3 against 3: 20 splits, the observed one and its mirror are the most extreme
    assert seed_permutation_p([1, 2, 3], [4, 5, 6]) == pytest.approx(2 / 20)
    assert np.isnan(seed_permutation_p([1.0], [2.0, 3.0]))


# ------------------------------------------------------------------------------ robust summary

def test_protocol_robust_summary_counts_wins_and_rank_ranges():
    from bench.compare.sensitivity import robust_summary
    from bench.protocols import parse_one
    from bench.results import ProtocolScores
    from bench.scoring import average

    # Avg. under three protocols, written out: A > B under all-spearman and wmean-spearman,
    # B > A under mean-pearson; C is last everywhere; A and C level nowhere.
    table = {"A": [80.0, 70.0, 60.0], "B": [75.0, 65.0, 61.0], "C": [50.0, 40.0, 30.0]}
    keys = ["all-spearman", "wmean-spearman", "mean-pearson"]
    models = {m: {k: (ProtocolScores(parse_one(k), {"STS12": v}, average({"STS12": v})),
                      "stored") for k, v in zip(keys, vals)} for m, vals in table.items()}
    pairs, ranges, excluded = robust_summary(models)
    got = {(p.a, p.b): (p.protocols, p.a_wins, p.b_wins, p.ties, p.stable) for p in pairs}
    assert got == {("A", "B"): (3, 2, 1, 0, False), ("A", "C"): (3, 3, 0, 0, True),
                   ("B", "C"): (3, 3, 0, 0, True)}
    assert {(r.model, r.best, r.worst) for r in ranges} == {("A", 1, 2), ("B", 1, 2),
                                                            ("C", 3, 3)}
    assert excluded == []


def test_compare_json_stores_the_robust_summary(tmp_path):
    target = tmp_path / "s.json"
    kept = Path(__file__).resolve().parents[1] / "reports"
    assert main(["compare", str(kept / "minilm-avg-sts-every.json"),
                 str(kept / "glove-avg-sts-every.json"), "--sensitivity", "--format", "json",
                 "--out", str(target)]) == 0
    data = json.loads(target.read_text())
    pair = data["robust_summary"]["pairs"][0]
    # both reports store all 12 protocols: compare the stored averages directly
    avgs = {}
    for name in ("minilm-avg-sts-every", "glove-avg-sts-every"):
        raw = json.loads((kept / f"{name}.json").read_text())
        avgs[name] = {s["protocol"]["key"]: s["average"]["value"] for s in raw["scores"]}
    wins = sum(round(avgs["minilm-avg-sts-every"][k], 2) > round(avgs["glove-avg-sts-every"][k], 2)
               for k in avgs["minilm-avg-sts-every"])
    assert (pair["a"], pair["b"], pair["protocols"], pair["a_wins"]) == \
        ("minilm-avg", "glove-avg", 12, wins)
    assert any(t["title"].startswith("Protocol-robust summary") for t in data["tables"])


def test_a_single_seed_report_is_written_as_before(tmp_path):
    """No 'seeds' key unless the report has seeds: a kept report re-saves as it was (but for
    the transfer_protocol field, null for an STS-only run, which the kept file predates)."""
    from bench.reports import report_text

    kept = Path(__file__).resolve().parents[1] / "reports" / "minilm-avg-sts-every.json"
    report = load(kept)
    assert report.seeds is None and "seeds" not in report.to_dict()
    original = json.loads(kept.read_text())
    saved = json.loads(report_text(report.to_dict()))
    if "transfer_protocol" not in original and saved.get("transfer_protocol") is None:
        saved.pop("transfer_protocol")
    assert saved == original
