"""bench compare: re-aggregation, the protocol guard, bootstrap, dependent-correlation tests,
output formats, literature reports, the reports index and bad input.

Reference numbers are computed here with numpy/scipy or by hand, never by bench.compare.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.cli import main
from bench.compare.sensitivity import rank_flips
from bench.compare.stats import steiger_z, williams_t2
from bench.reports import write_report

REPO = Path(__file__).resolve().parents[1]
LITERATURE = REPO / "reports" / "literature"
STS_COLUMNS = ["STS12", "STS13", "STS14", "STS15", "STS16", "STS-B", "SICK-R"]
TASK_KEYS = ["STS12", "STS13", "STS14", "STS15", "STS16", "STSBenchmark", "SICKRelatedness"]


# ---------------------------------------------------------------- synthetic run reports

def _part(sim: np.ndarray, gold: np.ndarray) -> dict:
    return {"n": len(gold), "pearson": float(stats.pearsonr(sim, gold)[0]),
            "spearman": float(stats.spearmanr(sim, gold)[0]),
            "sim": [float(x) for x in sim], "gold": [float(x) for x in gold]}


def _gold(seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Gold scores per task / part (STS12 with three subsets of different sizes)."""
    rng = np.random.default_rng(seed)
    sizes = {"STS12": {"a": 40, "b": 90, "c": 25}, "STSBenchmark": {"test": 60}}
    return {t: {p: np.round(rng.uniform(0, 5, n), 1) for p, n in parts.items()}
            for t, parts in sizes.items()}


def _sts(gold, sims) -> dict:
    out = {}
    for task, parts in gold.items():
        res = {"kind": "splits" if task == "STSBenchmark" else "subsets",
               "parts": {p: _part(sims[task][p], g) for p, g in parts.items()}}
        if task == "STSBenchmark":  # train/dev exist in real reports; not scored by a protocol
            res["parts"] = {"train": res["parts"]["test"], "dev": res["parts"]["test"],
                            "test": res["parts"]["test"]}
        out[task] = res
    return out


def _synthetic_run(path: Path, name: str, sims, gold, key: str = "all-spearman") -> dict:
    """A schema-1 run report whose only stored protocol is ``key`` (values from scipy)."""
    sts = _sts(gold, sims)
    metric = key.split("-")[1]
    pooled = {t: (np.concatenate(list(sims[t].values())), np.concatenate(list(gold[t].values())))
              for t in gold}
    row = {t: 100 * (stats.spearmanr if metric == "spearman" else stats.pearsonr)(*pooled[t])[0]
           for t in gold}
    row = {t: float(v) for t, v in row.items()}
    row["avg"] = float(np.mean(list(row.values())))
    agg, _, rest = key.partition("-")
    report = {"schema_version": 1, "kind": "run", "created": "2026-01-01T00:00:00+00:00",
              "model": {"requested": name, "name": name, "fingerprint": "f" * 16},
              "protocols": [{"key": key, "metric": metric, "aggregation": agg,
                             "regressor": "senteval" if key.endswith("-reg") else "none"}],
              "tasks": list(gold), "scores": {key: row}, "sts": sts}
    write_report(report, path)
    return report


def _noisy(gold, scale: float, seed: int):
    rng = np.random.default_rng(seed)
    return {t: {p: g + rng.normal(0, scale, len(g)) for p, g in parts.items()}
            for t, parts in gold.items()}


def _csv(tmp_path: Path, *args: str) -> pd.DataFrame:
    out = tmp_path / "out.csv"
    assert main(["compare", *map(str, args), "--format", "csv", "--out", str(out)]) == 0
    return pd.read_csv(out)


# ---------------------------------------------------------------- re-aggregation

@pytest.mark.parametrize("key", ["wmean-pearson", "mean-spearman", "all-pearson",
                                 "wmean-spearman"])
def test_reaggregation_equals_fresh_numpy_computation(tmp_path, key):
    gold = _gold()
    sims = _noisy(gold, 2.0, seed=1)
    path = tmp_path / "run.json"
    _synthetic_run(path, "model-a", sims, gold, "all-spearman")
    frame = _csv(tmp_path, path, "--protocol", key)

    agg, metric = key.split("-")

    def corr(x, y):
        if metric == "spearman":
            x, y = stats.rankdata(x), stats.rankdata(y)
        return np.corrcoef(x, y)[0, 1]

    subs = [corr(sims["STS12"][p], gold["STS12"][p]) for p in "abc"]
    counts = [len(gold["STS12"][p]) for p in "abc"]
    expected12 = {"mean": np.mean(subs), "wmean": np.dot(subs, counts) / sum(counts),
                  "all": corr(np.concatenate([sims["STS12"][p] for p in "abc"]),
                              np.concatenate([gold["STS12"][p] for p in "abc"]))}[agg]
    expected_b = corr(sims["STSBenchmark"]["test"], gold["STSBenchmark"]["test"])
    assert frame.loc[0, "STS12"] == pytest.approx(100 * expected12, abs=1e-9)
    assert frame.loc[0, "STS-B"] == pytest.approx(100 * expected_b, abs=1e-9)
    assert frame.loc[0, "Avg."] == pytest.approx(50 * (expected12 + expected_b), abs=1e-9)
    assert frame.loc[0, "Protocol"] == f"{key} (re-aggregated)"


@pytest.fixture(scope="module")
def glove_run(tmp_path_factory, data_dir) -> Path:
    """A real run: GloVe averages on the STS data, stored under two protocols."""
    path = tmp_path_factory.mktemp("glove") / "glove.json"
    rc = main(["run", "--model", "glove-avg", "--protocol", "all-spearman,wmean-pearson",
               "--data-dir", str(data_dir), "--out", str(path), "--quiet"])
    assert rc == 0
    return path


def test_real_run_reaggregated_equals_its_own_wmean_pearson(glove_run, tmp_path):
    """Stored by the run vs recomputed by compare from the per-pair sidecar: a round trip."""
    full = json.loads(glove_run.read_text())
    stripped = copy.deepcopy(full)
    stripped["protocols"] = [p for p in full["protocols"] if p["key"] == "all-spearman"]
    stripped["scores"] = [s for s in full["scores"] if s["protocol"]["key"] == "all-spearman"]
    path = tmp_path / "stripped.json"
    path.write_text(json.dumps(stripped))
    shutil.copy(glove_run.with_name(full["pairs"]["file"]), tmp_path / full["pairs"]["file"])
    frame = _csv(tmp_path, path, "--protocol", "wmean-pearson")
    own = next(s for s in full["scores"] if s["protocol"]["key"] == "wmean-pearson")
    for col, task in zip(STS_COLUMNS, TASK_KEYS):
        assert frame.loc[0, col] == pytest.approx(own["values"][task], abs=1e-9)
    assert frame.loc[0, "Avg."] == pytest.approx(own["average"]["value"], abs=1e-9)
    assert "re-aggregated" in frame.loc[0, "Protocol"]


def _bootstrap_reference(pairs, task: str, resamples: int, seed: int = 1111) -> np.ndarray:
    """all-spearman replicates (points) of one task, from its per-pair sidecar arrays.

    The resampling compare documents (``bench.compare.uncertainty``): pairs drawn with
    replacement within each scored part, by a generator seeded with (seed, crc32 of
    "task/part"); the parts' draws pooled, then Spearman as Pearson of row-wise ranks of the
    similarities rounded to 6 decimals (the tie rule of a run, bench.correlation)."""
    parts = [k.split("/")[1] for k in pairs.files if k.startswith(f"{task}/") and
             k.endswith("/sim")]
    sims, golds = [], []
    for part in parts:
        sim, gold = pairs[f"{task}/{part}/sim"], pairs[f"{task}/{part}/gold"]
        rng = np.random.default_rng([seed, zlib.crc32(f"{task}/{part}".encode())])
        idx = rng.integers(0, len(sim), size=(resamples, len(sim)))
        sims.append(sim[idx])
        golds.append(gold[idx])
    x = stats.rankdata(np.round(np.hstack(sims), 6), axis=1)
    y = stats.rankdata(np.hstack(golds), axis=1)
    x -= x.mean(axis=1, keepdims=True)
    y -= y.mean(axis=1, keepdims=True)
    return 100 * (x * y).sum(1) / np.sqrt((x * x).sum(1) * (y * y).sum(1))


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_real_run_intervals_equal_a_numpy_bootstrap(glove_run, tmp_path):
    frame = _csv(tmp_path, glove_run, "--ci", "--resamples", "100")
    assert frame.loc[0, "Protocol"] == "all-spearman"
    report = json.loads(glove_run.read_text())
    with np.load(glove_run.with_name(report["pairs"]["file"])) as pairs:
        reps = {col: _bootstrap_reference(pairs, task, 100)
                for col, task in zip(STS_COLUMNS, TASK_KEYS)}
    reps["Avg."] = np.mean([reps[col] for col in STS_COLUMNS], axis=0)
    for col, replicates in reps.items():
        lo, hi = np.percentile(replicates, [2.5, 97.5])
        assert frame.loc[0, f"{col} lo"] == pytest.approx(lo, abs=1e-9), col
        assert frame.loc[0, f"{col} hi"] == pytest.approx(hi, abs=1e-9), col
        assert lo < frame.loc[0, col] < hi, col


# ---------------------------------------------------------------- protocol guard

def test_guard_refuses_literature_under_another_protocol_and_allow_mixed_marks(tmp_path,
                                                                              capsys):
    gold = _gold()
    run = tmp_path / "run.json"
    _synthetic_run(run, "model-a", _noisy(gold, 1.0, 2), gold)
    table5 = LITERATURE / "simcse-table5.json"
    capsys.readouterr()
    assert main(["compare", str(run), str(table5), "--protocol", "wmean-spearman"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot put every report under wmean-spearman" in err
    assert "--allow-mixed" in err

    frame = _csv(tmp_path, run, table5, "--protocol", "wmean-spearman", "--allow-mixed")
    assert frame.loc[0, "Protocol"] == "wmean-spearman (re-aggregated)"
    literature = frame.iloc[1:]
    assert len(literature) == 23
    assert (literature["Protocol"] == "all-spearman (MIXED)").all()


def test_guard_shares_protocol_by_default_and_refuses_when_none_is_common(tmp_path, capsys):
    frame = _csv(tmp_path, LITERATURE / "simcse-table5.json", LITERATURE / "simcse-tableC1.json")
    assert (frame["Protocol"] == "all-spearman").all()
    capsys.readouterr()
    rc = main(["compare", str(LITERATURE / "simcse-table5.json"),
               str(LITERATURE / "simcse-tableB3.json")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "share no protocol" in err


def test_guard_refuses_regressor_protocol_it_cannot_recompute(tmp_path, capsys):
    gold = _gold()
    with_reg, without = tmp_path / "reg.json", tmp_path / "plain.json"
    _synthetic_run(with_reg, "model-reg", _noisy(gold, 1.0, 3), gold, "all-spearman-reg")
    _synthetic_run(without, "model-plain", _noisy(gold, 1.0, 4), gold, "all-spearman")
    capsys.readouterr()
    assert main(["compare", str(with_reg), str(without), "--protocol", "all-spearman-reg"]) == 2
    err = capsys.readouterr().err
    assert "model-plain" in err and "regressor" in err
    frame = _csv(tmp_path, with_reg, without, "--protocol", "all-spearman-reg", "--allow-mixed")
    assert list(frame["Protocol"]) == ["all-spearman-reg", "all-spearman (MIXED)"]
    # Without --protocol both fall back to a no-regressor protocol both can recompute.
    frame = _csv(tmp_path, with_reg, without)
    assert frame.loc[0, "Protocol"].startswith("all-spearman (re-aggregated)")


# ---------------------------------------------------------------- bootstrap

def test_pipeline_interval_degenerate_when_every_subset_is_perfect(tmp_path):
    gold = _gold()
    sims = {t: {p: 0.1 * g + 7 for p, g in parts.items()} for t, parts in gold.items()}
    path = tmp_path / "perfect.json"
    _synthetic_run(path, "perfect", sims, gold)
    frame = _csv(tmp_path, path, "--protocol", "wmean-pearson", "--ci", "--resamples", "100")
    for col in ("STS12", "STS-B", "Avg."):
        assert frame.loc[0, f"{col} lo"] == pytest.approx(100, abs=1e-9)
        assert frame.loc[0, f"{col} hi"] == pytest.approx(100, abs=1e-9)


# ---------------------------------------------------------------- dependent correlations

def _williams_reference(r12: float, r13: float, r23: float, n: int) -> tuple[float, float]:
    """Williams' (1959) T2 as Steiger (1980, Psychological Bulletin 87(2), eq. 7) prints it,
    with |R| the determinant of the 3 x 3 correlation matrix taken by numpy."""
    det = np.linalg.det(np.array([[1, r12, r13], [r12, 1, r23], [r13, r23, 1]]))
    rbar = (r12 + r13) / 2
    t = (r12 - r13) * np.sqrt((n - 1) * (1 + r23)
                              / (2 * (n - 1) / (n - 3) * det + rbar ** 2 * (1 - r23) ** 3))
    return t, 2 * stats.t.sf(abs(t), n - 3)


def test_williams_t2_matches_the_published_example_and_a_numpy_reference():
    # psych::r.test(103, .4, .5, .1), the example of its manual (Steiger's 1980 case of two
    # correlations sharing a variable), prints "t value -0.89 with probability < 0.37".
    t, p = williams_t2(0.4, 0.5, 0.1, 103)
    assert (round(t, 2), round(p, 2)) == (-0.89, 0.37)
    rng = np.random.default_rng(12)
    for n in (5, 12, 50, 400, 1379):
        # three correlations that can occur together: those of a sample of three variables
        r = np.corrcoef(rng.normal(size=(3, 3)) @ rng.normal(size=(3, 40)))
        t, p = williams_t2(r[0, 1], r[0, 2], r[1, 2], n)
        expected_t, expected_p = _williams_reference(r[0, 1], r[0, 2], r[1, 2], n)
        assert t == pytest.approx(expected_t, rel=1e-12, abs=1e-12)
        assert p == pytest.approx(expected_p, rel=1e-12, abs=1e-15)


def test_steiger_z_matches_hand_computation():
    # Steiger (1980), eqs. 10, 11, 14 with rbar = .5, r23 = .5:
    #   psi = .5 (1 - .5) - .5 * .25 (1 - .5 - .25) = .25 - .03125 = .21875
    #   s = psi / (1 - .25)^2 = .38888...;  Z = (atanh .6 - atanh .4) sqrt(47) / sqrt(2 - 2 s)
    expected = (0.5 * math.log(1.6 / 0.4) - 0.5 * math.log(1.4 / 0.6)) * math.sqrt(47) \
        / math.sqrt(2 - 2 * 0.21875 / 0.5625)
    z, p = steiger_z(0.6, 0.4, 0.5, 50)
    assert z == pytest.approx(expected, abs=1e-12)
    assert p == pytest.approx(2 * (1 - stats.norm.cdf(expected)), abs=1e-12)


def test_significance_table_pipeline(tmp_path):
    gold = _gold(3)
    weak, strong = tmp_path / "weak.json", tmp_path / "strong.json"
    sims_weak, sims_strong = _noisy(gold, 3.0, 5), _noisy(gold, 0.5, 6)
    _synthetic_run(weak, "weak", sims_weak, gold)
    _synthetic_run(strong, "strong", sims_strong, gold)
    frame = _csv(tmp_path, weak, strong, "--significance", "--resamples", "300")
    row = frame[frame["Model"] == "strong"].iloc[0]
    # STS-B: one correlation, so Williams applies; recompute it here from scipy's Spearman.
    a, b = sims_strong["STSBenchmark"]["test"], sims_weak["STSBenchmark"]["test"]
    g = gold["STSBenchmark"]["test"]
    r12, r13 = stats.spearmanr(g, a)[0], stats.spearmanr(g, b)[0]
    r23, n = stats.spearmanr(a, b)[0], len(g)
    det = 1 - r12 ** 2 - r13 ** 2 - r23 ** 2 + 2 * r12 * r13 * r23
    t = (r12 - r13) * math.sqrt((n - 1) * (1 + r23)
                                / (2 * (n - 1) / (n - 3) * det + ((r12 + r13) / 2) ** 2
                                   * (1 - r23) ** 3))
    assert row["STS-B p_williams"] == pytest.approx(2 * stats.t.sf(abs(t), n - 3), rel=1e-9)
    assert row["STS-B delta"] == pytest.approx(100 * (r12 - r13), abs=1e-9)
    assert row["STS12 p_boot"] < 0.01 and row["STS12 delta"] > 0
    assert math.isnan(frame[frame["Model"] == "weak"].iloc[0]["STS12 p_boot"])

    same = tmp_path / "same.json"
    _synthetic_run(same, "same", sims_weak, gold)
    frame = _csv(tmp_path, weak, same, "--significance", "--resamples", "100")
    row = frame[frame["Model"] == "same"].iloc[0]
    assert row["Avg. delta"] == 0 and row["Avg. p_boot"] == 1.0


def test_significance_refuses_different_pairs(tmp_path, capsys):
    gold = _gold(0)
    other_gold = _gold(1)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    _synthetic_run(a, "a", _noisy(gold, 1, 1), gold)
    _synthetic_run(b, "b", _noisy(other_gold, 1, 1), other_gold)
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--significance"]) == 2
    assert "same pairs" in capsys.readouterr().err


# ---------------------------------------------------------------- formats and views

def test_markdown_and_latex_layout(tmp_path, capsys):
    table5 = str(LITERATURE / "simcse-table5.json")
    capsys.readouterr()
    assert main(["compare", table5, "--format", "md"]) == 0
    md = capsys.readouterr().out
    header = next(line for line in md.splitlines() if line.startswith("| Model"))
    assert [c.strip() for c in header.strip("|").split("|")][3:] == STS_COLUMNS + ["Avg."]
    assert "**83.76**" in md  # best Avg. (sup. SimCSE-RoBERTa-large) in bold
    assert main(["compare", table5, "--format", "latex"]) == 0
    tex = capsys.readouterr().out
    assert "\\begin{tabular}" in tex and "\\textbf{83.76}" in tex and "\\caption{" in tex
    assert tex.count("\\\\") >= 24  # header + 23 rows


def test_sensitivity_flags_the_table_b2_rank_flip(tmp_path):
    frame = _csv(tmp_path, LITERATURE / "simcse-tableB2.json", "--sensitivity")
    flips = dict(zip(frame["Model"], frame["Rank flip"].fillna("")))
    assert flips["BERT-whitening (NLI)"] == "yes" and flips["BERT-whitening (target)"] == "yes"
    assert flips["SBERT-base"] == ""


def test_rank_flips_on_hand_made_values():
    values = {"a": {"p": 2.0, "q": 1.0}, "b": {"p": 1.0, "q": 3.0}, "c": {"p": 0.5, "q": 0.1}}
    assert rank_flips(values) == [("a", "b", "p", "q")]


def test_sensitivity_of_one_run_lists_every_protocol(tmp_path):
    gold = _gold()
    path = tmp_path / "run.json"
    _synthetic_run(path, "m", _noisy(gold, 1, 9), gold)
    frame = _csv(tmp_path, path, "--sensitivity")
    assert set(frame["Protocol"]) == {f"{a}-{m}" for a in ("all", "mean", "wmean")
                                      for m in ("spearman", "pearson")}


def test_transfer_columns_when_present(tmp_path):
    gold = _gold()
    path = tmp_path / "run.json"
    report = _synthetic_run(path, "m", _noisy(gold, 1, 9), gold)
    report["transfer"] = {t: {"acc": 80.0 + i, "devacc": 79.0} for i, t in
                          enumerate(["MR", "CR", "SUBJ", "MPQA", "SST2", "TREC", "MRPC"])}
    report["transfer"]["MRPC"]["f1"] = 81.0
    report["run"] = {"transfer_config": "test", "classifier": "torch"}  # Table E.1's setting
    path.write_text(json.dumps(report))
    frame = _csv(tmp_path, path, LITERATURE / "simcse-tableE1.json")
    assert frame.loc[0, "MR (transfer)"] == 80.0 and frame.loc[0, "Avg. (transfer)"] == 83.0
    assert set(frame["Protocol (transfer)"]) == {"senteval"}
    glove = frame[frame["Model"] == "GloVe embeddings (avg.)"].iloc[0]
    assert glove["SST (transfer)"] == 80.18 and math.isnan(glove["STS12"])


# ---------------------------------------------------------------- literature reports

@pytest.mark.parametrize("name", ["simcse-table5.json", "simcse-tableB2.json",
                                  "simcse-tableB3.json", "simcse-tableC1.json"])
def test_literature_rows_are_tagged_and_consistent(name):
    report = json.loads((LITERATURE / name).read_text(encoding="utf-8"))
    assert report["schema_version"] == 1 and report["kind"] == "literature"
    for row in report["rows"]:
        assert row["source"].startswith("SimCSE Table") and len(row["protocols"]) == 1
        (key, scores), = row["scores"].items()
        assert key == row["protocols"][0]["key"] and "sts" not in row
        tasks = [scores[t] for t in TASK_KEYS]
        if "differs from the mean" not in row["note"]:  # the paper's own Avg. slip, noted
            assert np.mean(tasks) == pytest.approx(scores["avg"], abs=0.011), row["model"]


# ---------------------------------------------------------------- reports index

def test_reports_index_lists_runs_and_literature(tmp_path):
    folder = tmp_path / "reports"
    gold = _gold()
    _synthetic_run(folder / "kept" / "m.json", "model-m", _noisy(gold, 1, 1), gold)
    _synthetic_run(folder / "runs" / "scratch.json", "model-s", _noisy(gold, 1, 1), gold)
    (folder / "literature").mkdir()
    (folder / "literature" / "t5.json").write_text(
        (LITERATURE / "simcse-table5.json").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["reports", "index", "--dir", str(folder)]) == 0
    text = (folder / "README.md").read_text()
    assert "[kept/m.json](kept/m.json)" in text and "model-m" in text
    assert "scratch" not in text  # runs/ is bench run's git-ignored scratch folder
    assert "SimCSE Table 5" in text
    assert main(["reports", "index", "--dir", str(folder), "--check"]) == 0
    (folder / "README.md").write_text(text + "edited\n")
    assert main(["reports", "index", "--dir", str(folder), "--check"]) == 1


# ---------------------------------------------------------------- bad input

def _one_line_error(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("bench: error: ")
    return err


def test_bad_input_errors(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert "not a bench report" in _one_line_error(capsys, ["compare", str(text)])
    future = tmp_path / "future.json"
    future.write_text(json.dumps({"schema_version": 99, "kind": "run"}))
    err = _one_line_error(capsys, ["compare", str(future)])
    assert "schema_version 99" in err and "future.json" in err
    assert "no reports given" in _one_line_error(capsys, ["compare"])
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"schema_version": 1, "kind": "poem"}))
    assert "unknown report kind 'poem'" in _one_line_error(capsys, ["compare", str(odd)])
    assert "no such report" in _one_line_error(capsys, ["compare", str(tmp_path / "x.json")])
    assert "unknown protocol" in _one_line_error(
        capsys, ["compare", str(LITERATURE / "simcse-table5.json"), "--protocol", "median-r"])


# ---------------------------------------------------------------- data integrity (issue 11)

FILES = {"STS12": ["STS/STS12-en-test/STS.input.a.txt", "STS/STS12-en-test/STS.gs.a.txt"],
         "STSBenchmark": ["STS/STSBenchmark/sts-test.csv"]}


def _with_data(path: Path, report: dict, changed: str | None = None, old_keys: bool = False
               ) -> Path:
    """Add a data section (one digest per file; ``changed`` gets another digest)."""
    sums = {k: ("b" if k == changed else "a") * 64 for keys in FILES.values() for k in keys}
    data: dict = {"verified": True, "sha256": sums, "files": FILES}
    if old_keys:  # reports written before issue 11: downstream/ prefix, no per-task files
        data = {"verified": True, "sha256": {f"downstream/{k}": v for k, v in sums.items()}}
    report["data"] = data
    write_report(report, path)
    return path


def _md_rows(text: str) -> dict[str, list[str]]:
    """Model label -> cells of the first Markdown table in ``text``."""
    rows = {}
    for line in text.split("\n\n", 2)[1].splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.setdefault(cells[0], cells)
    return rows


def _two_runs(tmp_path: Path, changed: str | None, **kw) -> tuple[Path, Path]:
    gold = _gold()
    a = _with_data(tmp_path / "a.json", _synthetic_run(tmp_path / "a.json", "model-a",
                                                       _noisy(gold, 2.0, 1), gold))
    b = _with_data(tmp_path / "b.json", _synthetic_run(tmp_path / "b.json", "model-b",
                                                       _noisy(gold, 1.0, 2), gold), changed, **kw)
    return a, b


def test_compare_refuses_reports_measured_on_different_data(tmp_path, capsys):
    a, b = _two_runs(tmp_path, changed="STS/STS12-en-test/STS.gs.a.txt")
    assert main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "different data for STS12" in err[0]
    assert "STS/STS12-en-test/STS.gs.a.txt" in err[0] and "--allow-mixed" in err[0]


def test_allow_mixed_marks_only_the_task_whose_data_differs(tmp_path, capsys):
    a, b = _two_runs(tmp_path, changed="STS/STS12-en-test/STS.gs.a.txt")
    assert main(["compare", str(a), str(b), "--allow-mixed", "--format", "md"]) == 0
    text = capsys.readouterr().out
    rows = _md_rows(text)
    sts12, stsb, avg = 3, 4, 5
    assert rows["model-b"][sts12].endswith("\u2020") and "**" not in rows["model-b"][sts12]
    assert "\u2020" not in rows["model-b"][stsb] and rows["model-b"][avg].endswith("\u2020")
    assert "\u2020" not in "".join(rows["model-a"])
    assert "**" in rows["model-b"][stsb]  # same data for STS-B: still ranked (less noise)
    assert "sha256 differs" in text


def test_same_digests_under_old_and_new_keys_compare(tmp_path, capsys):
    a, b = _two_runs(tmp_path, changed=None, old_keys=True)
    assert main(["compare", str(a), str(b), "--format", "md"]) == 0
    assert "\u2020" not in capsys.readouterr().out


def test_unverified_report_gets_a_note(tmp_path, capsys):
    a, b = _two_runs(tmp_path, changed=None)
    report = json.loads(b.read_text())
    report["data"]["verified"] = False
    b.write_text(json.dumps(report))
    assert main(["compare", str(a), str(b), "--format", "md"]) == 0
    assert "model-b (b.json): its data was not verified" in capsys.readouterr().out


def test_avg_over_different_task_sets_is_not_bolded_across(tmp_path, capsys):
    gold = _gold()
    both = _synthetic_run(tmp_path / "two.json", "two-tasks", _noisy(gold, 2.0, 1), gold)
    again = _synthetic_run(tmp_path / "two2.json", "two-tasks-b", _noisy(gold, 1.5, 3), gold)
    only_b = {"STSBenchmark": gold["STSBenchmark"]}
    one = _synthetic_run(tmp_path / "one.json", "one-task", _noisy(only_b, 0.1, 2), only_b)
    assert one["scores"]["all-spearman"]["avg"] > max(both["scores"]["all-spearman"]["avg"],
                                                      again["scores"]["all-spearman"]["avg"])
    assert main(["compare", str(tmp_path / "two.json"), str(tmp_path / "two2.json"),
                 str(tmp_path / "one.json"), "--format", "md"]) == 0
    text = capsys.readouterr().out
    rows = _md_rows(text)
    avg = -1
    assert "**" not in rows["one-task"][avg]
    best_two = max(("two-tasks", "two-tasks-b"),
                   key=lambda m: {"two-tasks": both, "two-tasks-b": again}[m]["scores"]
                   ["all-spearman"]["avg"])
    assert rows[best_two][avg].startswith("**")
    assert "Avg. over other tasks than the other rows, not ranked: one-task" in text
    assert main(["compare", str(tmp_path / "two.json"), str(tmp_path / "two2.json"),
                 str(tmp_path / "one.json"), "--sensitivity", "--format", "md"]) == 0
    text = capsys.readouterr().out
    assert "not ranked, their Avg. covers other tasks: one-task" in text
    assert "(#" not in _md_rows(text)["one-task"][1]  # shown, never given a rank


def test_nan_and_missing_look_different():
    from bench.compare.render import cell_text
    from bench.compare.tables import Cell

    assert cell_text(Cell(None), "STS12", "md") == "-"
    assert cell_text(Cell(float("nan")), "STS12", "md") == "nan"


def test_null_score_in_a_report_is_shown_as_nan(tmp_path, capsys):
    gold = _gold()
    report = _synthetic_run(tmp_path / "a.json", "model-a", _noisy(gold, 2.0, 1), gold)
    report["scores"]["all-spearman"]["STS12"] = None
    report["scores"]["all-spearman"]["avg"] = None
    for part in report["sts"]["STS12"]["parts"].values():  # every subset, so pooled is nan too
        part["spearman"] = part["pearson"] = None  # a run stores for constant similarities:
        part["sim"] = [0.0] * len(part["sim"])  # recomputing from them gives nan again
    write_report(report, tmp_path / "a.json")
    assert main(["compare", str(tmp_path / "a.json"), "--format", "md"]) == 0
    assert _md_rows(capsys.readouterr().out)["model-a"][3] == "nan"
    assert main(["compare", str(tmp_path / "a.json"), "--format", "md", "--protocol",
                 "mean-spearman"]) == 0
    assert _md_rows(capsys.readouterr().out)["model-a"][3] == "nan"
