"""A new metric is one registry entry: Kendall's tau, registered here, runs through cosine and
regressor protocols (bench.evaluate with glove-avg on tiny task files), the report's
save / load (its per-pair check included), and compare's re-aggregation from per-pair data;
every number is checked against scipy.stats.kendalltau computed here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import bench
from bench.aggregation import AGGREGATIONS, Aggregation
from bench.cli import main
from bench.correlation import METRICS, Metric
from bench.encoders.registry import resolve
from bench.errors import ProtocolError
from bench.protocols import Protocol
from bench.tasks.registry import tasks, unregister

HEADER = ("sentence1", "sentence2", "score")
SUPERVISED = """name = "KendallSTS"
format = "tsv"
sentence1 = "sentence1"
sentence2 = "sentence2"
score = "score"
score_range = [0, 5]
train = "train"
dev = "dev"
evaluate = "test"
[files]
train = "train.tsv"
dev = "dev.tsv"
test = "test.tsv"
"""
SUBSETS = """name = "KendallSub"
format = "tsv"
sentence1 = "sentence1"
sentence2 = "sentence2"
score = "score"
score_range = [0, 5]
evaluate = ["a", "b"]
[files]
a = "a.tsv"
b = "b.tsv"
"""
SLICES = {"train": (0, 120), "dev": (120, 180), "test": (180, 260), "a": (260, 300),
          "b": (300, 370)}


def _kendall(x: np.ndarray, y: np.ndarray) -> float:
    return float(stats.kendalltau(x, y)[0])


calls: list[int] = []  # replicates per row-wise call (the bootstrap's use of the entry)


def _rowwise_kendall(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    calls.append(len(x))
    return np.array([_kendall(a, b) for a, b in zip(x, y)])


def _rows(data_dir: Path, start: int, stop: int) -> list[tuple[str, str, str]]:
    lines = (data_dir / "STS/STSBenchmark/sts-train.csv").read_text(encoding="utf-8")
    return [(r[5], r[6], r[4]) for r in (line.split("\t") for line in
                                         lines.splitlines()[start:stop])]


@pytest.fixture
def kendall(data_dir, tmp_path):
    """Kendall's tau as one metric entry, and two task files; both removed after."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    for part, (a, b) in SLICES.items():
        rows = [HEADER, *_rows(data_dir, a, b)]
        (folder / f"{part}.tsv").write_text("\n".join("\t".join(r) for r in rows) + "\n",
                                            encoding="utf-8")
    (folder / "sup.toml").write_text(SUPERVISED, encoding="utf-8")
    (folder / "sub.toml").write_text(SUBSETS, encoding="utf-8")
    METRICS.register("kendall", Metric("kendall", _kendall, _rowwise_kendall))
    yield folder
    METRICS.unregister("kendall")
    for name in [n for n, m in tasks().items() if m.origin is not None]:
        unregister(name)


@pytest.fixture(scope="module")
def glove():
    """glove-avg, loaded once for the module (its vectors take seconds to read)."""
    return resolve("glove-avg")


def _cosine_gold(encoder, data_dir: Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of glove-avg vectors and gold, computed here with numpy (not bench's scorer)."""
    rows = _rows(data_dir, *SLICES[part])
    a = np.asarray(encoder.encode([" ".join(r[0].split()) for r in rows]), dtype=np.float64)
    b = np.asarray(encoder.encode([" ".join(r[1].split()) for r in rows]), dtype=np.float64)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return cos, np.array([float(r[2]) for r in rows])


def _run(glove, folder: Path, tmp_path: Path, protocols: str, out: Path | None = None):
    report = bench.evaluate(glove, task_files=[folder / "sup.toml", folder / "sub.toml"],
                            protocols=protocols, cache_dir=tmp_path / "cache", out=out)
    return report, {s.protocol.key: s.values for s in report.scores}


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_kendall_entry_scores_the_regressor_predictions(kendall, glove, data_dir, tmp_path):
    out = tmp_path / "k.json"
    report, got = _run(glove, kendall, tmp_path, "all-kendall,all-kendall-reg", out)
    reg = report.tasks["KendallSTS"].regression
    expected_reg = 100 * stats.kendalltau(reg.yhat, reg.gold)[0]
    assert got["all-kendall-reg"]["KendallSTS"] == pytest.approx(expected_reg, abs=1e-9)
    assert got["all-kendall-reg"]["KendallSub"] == got["all-kendall"]["KendallSub"]  # cosine
    assert expected_reg != pytest.approx(got["all-kendall"]["KendallSTS"], abs=1e-3)
    data = json.loads(out.read_text())
    assert data["tasks"]["KendallSTS"]["regression"]["kendall"] == pytest.approx(
        expected_reg, abs=1e-9)
    loaded = bench.load(out)
    assert loaded.tasks["KendallSTS"].regression.value("kendall") == pytest.approx(
        expected_reg, abs=1e-9)
    assert loaded.score(Protocol.parse("all-kendall-reg")).values == got["all-kendall-reg"]


def test_kendall_is_one_entry_through_run_and_compare(kendall, glove, data_dir, tmp_path,
                                                      capsys):
    out = tmp_path / "k.json"
    report, got = _run(glove, kendall, tmp_path, "all-kendall,mean-kendall", out)

    test_cos, test_gold = _cosine_gold(glove, data_dir, "test")
    expected_sup = 100 * stats.kendalltau(test_cos, test_gold)[0]
    assert got["all-kendall"]["KendallSTS"] == pytest.approx(expected_sup, abs=1e-9)
    (ca, ga), (cb, gb) = _cosine_gold(glove, data_dir, "a"), _cosine_gold(glove, data_dir, "b")
    pooled = 100 * stats.kendalltau(np.concatenate([ca, cb]), np.concatenate([ga, gb]))[0]
    per_part = [100 * stats.kendalltau(ca, ga)[0], 100 * stats.kendalltau(cb, gb)[0]]
    assert got["all-kendall"]["KendallSub"] == pytest.approx(pooled, abs=1e-9)
    assert got["mean-kendall"]["KendallSub"] == pytest.approx(np.mean(per_part), abs=1e-9)

    # the report stores it by name beside pearson / spearman, and reads it back
    data = json.loads(out.read_text())
    assert data["tasks"]["KendallSTS"]["parts"]["test"]["kendall"] == pytest.approx(
        expected_sup, abs=1e-9)
    loaded = bench.load(out)  # checks every stored kendall against its per-pair data
    assert loaded.tasks["KendallSub"].parts["a"].value("kendall") == pytest.approx(
        per_part[0], abs=1e-9)

    # compare: wmean-kendall was not run; it is re-aggregated from the per-pair data
    expected_w = float(np.average(per_part, weights=[len(ga), len(gb)]))
    capsys.readouterr()
    assert main(["compare", str(out), "--protocol", "wmean-kendall", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)["tables"][0]["rows"][0]
    assert row["Protocol"] == "wmean-kendall (re-aggregated)"
    assert row["KendallSub"] == pytest.approx(expected_w, abs=1e-9)
    assert row["KendallSTS"] == pytest.approx(expected_sup, abs=1e-9)

    # the bootstrap interval goes through the entry's row-wise form
    calls.clear()
    assert main(["compare", str(out), "--protocol", "all-kendall", "--ci", "--resamples", "20",
                 "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)["tables"][0]["rows"][0]
    assert row["KendallSTS"]["value"] == pytest.approx(expected_sup, abs=1e-9)
    assert calls and all(n == 20 for n in calls)  # replicates of the entry, none elsewhere


def test_an_unregistered_metric_is_refused_in_one_line(kendall):
    METRICS.unregister("kendall")
    with pytest.raises(ProtocolError, match="unknown protocol 'all-kendall'"):
        Protocol.parse("all-kendall")


def test_an_aggregation_is_one_entry(kendall, glove, data_dir, tmp_path):
    """The median of per-part values, registered as one entry, through run and load."""
    AGGREGATIONS.register("median", Aggregation("median", combine=lambda v, c: np.median(v, 0)))
    try:
        (kendall / "three.toml").write_text(SUBSETS.replace('"KendallSub"', '"Three"').replace(
            'evaluate = ["a", "b"]', 'evaluate = ["a", "b", "test"]').replace(
            'b = "b.tsv"', 'b = "b.tsv"\ntest = "test.tsv"'), encoding="utf-8")
        out = tmp_path / "m.json"
        report = bench.evaluate(glove, task_files=[kendall / "three.toml"],
                                protocols="median-spearman", cache_dir=tmp_path / "c", out=out)
        per_part = [100 * stats.spearmanr(*_cosine_gold(glove, data_dir, p))[0]
                    for p in ("a", "b", "test")]
        assert report.scores[0].values["Three"] == pytest.approx(np.median(per_part), abs=1e-9)
        assert bench.load(out).scores[0].values == report.scores[0].values
    finally:
        AGGREGATIONS.unregister("median")
