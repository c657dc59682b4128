"""bench analyze: metrics against independent numpy/scipy computations, sets, commands, PNGs,
the analysis modules' discovery and the typed analysis report."""

from __future__ import annotations

import csv
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from bench.analysis import kinds, metrics
from bench.analysis.report import AnalysisReport, load
from bench.analysis.sets import build_sets, parse_splits
from bench.analysis.targets import checkpoint_targets, find_sts_average
from bench.cli import main as cli
from bench.errors import BenchError
from bench.reports import ReportError
from tests.helpers import HashEncoder, write_tiny_stsb
from tests.references import glove_average, stsb_split

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.sqrt((x ** 2).sum(axis=1))[:, None]


# --- metrics -----------------------------------------------------------------------------

def test_alignment_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 7)) * 3, rng.normal(size=(50, 7))
    ua, ub = _unit(a), _unit(b)
    ref2 = np.mean([np.dot(x - y, x - y) for x, y in zip(ua, ub)])
    ref1 = np.mean([np.sqrt(np.dot(x - y, x - y)) for x, y in zip(ua, ub)])
    assert metrics.alignment(a, b) == pytest.approx(ref2, rel=1e-12)
    assert metrics.alignment(a, b, alpha=1) == pytest.approx(ref1, rel=1e-12)
    assert metrics.alignment(a, a) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n", [40, 1100])  # 1100 > one row block: exercises the blocking
def test_uniformity_matches_numpy_over_distinct_pairs(n):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 5)) + 0.5  # not centred, so the value is far from the minimum
    u = _unit(x)
    ref = np.log(np.mean(np.exp(-2 * pdist(u, "sqeuclidean"))))
    assert metrics.uniformity(x) == pytest.approx(ref, rel=1e-9)
    # Including i == j (and both orders) would give a different number: the metric must not.
    full = np.exp(-2 * ((u[:, None, :] - u[None, :, :]) ** 2).sum(-1))
    assert not np.isclose(metrics.uniformity(x), np.log(full.mean()), rtol=1e-6)
    ref_t1 = np.log(np.mean(np.exp(-1 * pdist(u, "sqeuclidean"))))
    assert metrics.uniformity(x, t=1) == pytest.approx(ref_t1, rel=1e-9)


def test_spectrum_isotropic_gaussian_is_flat():
    x = np.random.default_rng(1).normal(size=(4000, 10))
    for normalize in ("none", "l2"):
        s = metrics.singular_spectrum(x, normalize=normalize)
        assert s[0] == pytest.approx(1.0) and s.shape == (10,)
        assert np.all(np.diff(s) <= 1e-12)  # largest first
        assert s[-1] > 0.85  # every direction carries about the same energy


def test_spectrum_rank_two_has_two_nonzero_values():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 12))
    for normalize in ("none", "l2"):  # unit rows stay in the same 2-d subspace
        s = metrics.singular_spectrum(x, normalize=normalize)
        assert np.all(s[:2] > 1e-3) and np.all(s[2:] < 1e-10)


def test_spectrum_center_removes_a_common_offset():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 6)) + 20.0  # one huge common direction before centring
    raw = metrics.singular_spectrum(x, normalize="none")
    centred = metrics.singular_spectrum(x, normalize="none", center=True)
    assert raw[1] < 0.1 and centred[-1] > 0.7
    ref = np.linalg.svd(x - x.mean(0), compute_uv=False)
    assert np.allclose(centred, ref / ref[0])
    with pytest.raises(ValueError):
        metrics.singular_spectrum(x, normalize="l1")


def test_gold_groups_follow_figure_g1():
    gold = np.array([0.0, 0.99, 1.0, 2.5, 3.99, 4.0, 4.8, 5.0])
    assert metrics.group_index(gold).tolist() == [0, 0, 1, 2, 3, 4, 4, 4]
    assert metrics.group_labels() == ["[0,1)", "[1,2)", "[2,3)", "[3,4)", "[4,5]"]


# --- sets ----------------------------------------------------------------------------------

def test_sets_positives_are_gold_strictly_above_threshold(data_dir):
    path = data_dir / "STS" / "STSBenchmark" / "sts-test.csv"
    with path.open(encoding="utf-8") as fh:
        gold = [float(row[4]) for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]
    sets = build_sets(data_dir, ("test",))
    assert len(sets.gold) == len(gold)
    assert len(sets.positives(4.0)[0]) == sum(g > 4 for g in gold)
    assert len(sets.positives(3.0)[0]) == sum(g > 3 for g in gold)
    assert len(sets.sentences) == 2 * len(gold)
    unique = build_sets(data_dir, ("test",), unique=True)
    assert len(unique.sentences) == len(set(sets.sentences)) < len(sets.sentences)
    sample = build_sets(data_dir, ("test",), max_pairs=100, seed=7)
    assert len(sample.gold) == 100 and sample.sampled_from == len(gold)
    pairs = set(zip(sets.sent1, sets.sent2, sets.gold))
    assert set(zip(sample.sent1, sample.sent2, sample.gold)) <= pairs
    assert build_sets(data_dir, ("test",), max_pairs=100, seed=7).sent1 == sample.sent1
    assert build_sets(data_dir, ("test",), max_pairs=10**6).sampled_from is None
    assert parse_splits(["all"]) == ("train", "dev", "test")
    assert parse_splits(["test,train"]) == ("train", "test")
    with pytest.raises(BenchError, match="unknown STS-B split"):
        parse_splits(["validation"])


# --- targets -------------------------------------------------------------------------------

def test_checkpoints_sorted_by_step_and_runs_found(tmp_path):
    for run, steps in (("b", (20, 3, 100)), ("a", (5,))):
        for step in steps:
            (tmp_path / run / "checkpoints" / f"step-{step:d}").mkdir(parents=True)
    (tmp_path / "b" / "checkpoints" / "notes").mkdir()
    one = checkpoint_targets(tmp_path / "b")
    assert [t.step for t in one] == [3, 20, 100] and {t.run for t in one} == {"b"}
    every = checkpoint_targets(tmp_path)
    assert [(t.run, t.step) for t in every] == [("a", 5), ("b", 3), ("b", 20), ("b", 100)]
    with pytest.raises(BenchError, match="no checkpoints"):
        checkpoint_targets(tmp_path / "a" / "checkpoints")


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_plot_groups_checkpoints_by_run_in_step_order(tmp_path):
    from bench.analysis.kinds.align_uniform import plot
    from bench.analysis.plots import split_runs

    models = [{"label": "m", "align": 0.2, "uniform": -2.0, "avg_sts": 70.0}]
    for run, step, u in (("r", 20, -2.5), ("r", 3, -1.0), ("q", 5, -1.5), ("r", 10, -2.0)):
        models.append({"label": f"{run}@{step}", "align": 0.1, "uniform": u,
                       "checkpoint": {"run": run, "step": step}})
    singles, runs = split_runs(models)
    assert [m["label"] for m in singles] == ["m"]
    assert {k: [m["checkpoint"]["step"] for m in v] for k, v in runs.items()} == \
        {"r": [3, 10, 20], "q": [5]}
    png = plot(models, None, {}, tmp_path / "f.png", "t")  # this plot does not read the sets
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_sts_average_found_by_fingerprint(tmp_path):
    def report(name, fp, avg, created):
        (tmp_path / "runs").mkdir(exist_ok=True)
        (tmp_path / "runs" / name).write_text(json.dumps({
            "schema_version": 1, "kind": "run", "created": created,
            "model": {"fingerprint": fp}, "scores": {"all-spearman": {"avg": avg}}}))

    report("old.json", "fp1", 50.0, "2026-01-01T00:00:00")
    report("new.json", "fp1", 60.0, "2026-02-01T00:00:00")
    report("other.json", "fp2", 70.0, "2026-03-01T00:00:00")
    (tmp_path / "broken.json").write_text("{not json")
    found = find_sts_average("fp1", "all-spearman", tmp_path)
    assert found["avg"] == 60.0 and found["report"].endswith("new.json")
    assert find_sts_average("fp3", "all-spearman", tmp_path) is None
    assert find_sts_average("fp1", "mean-pearson", tmp_path) is None


# --- commands ------------------------------------------------------------------------------

def _check_outputs(out: Path, analysis: str) -> dict:
    reports = sorted(out.glob(f"{analysis}-*.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    png = out / report["plot"]
    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC and 10_000 < len(data) < 3_000_000
    assert report["kind"] == "analysis" and report["analysis"] == analysis
    assert report["schema_version"] == 2
    assert "dir" not in report["data"]  # no machine path: files relative to the data folder
    assert all(f.startswith("STS/STSBenchmark/sts-") for f in report["data"]["files"])
    assert load(reports[0]).to_dict() == report
    assert not list(out.glob(".*.tmp"))  # atomic writes leave nothing behind
    return report


@pytest.mark.slow
def test_commands_write_json_and_png(data_dir, tmp_path, capsys):
    from bench.encoders.registry import resolve

    fp = resolve("glove-avg").fingerprint
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "run.json").write_text(json.dumps({
        "schema_version": 1, "kind": "run", "created": "x", "model": {"fingerprint": fp},
        "scores": {"all-spearman": {"avg": 42.0}}}))
    base = ["--model", "glove-avg", "--data-dir", str(data_dir), "--splits", "test", "--quiet"]

    out = tmp_path / "au"
    assert cli(["analyze", "align-uniform", *base, "--out-dir", str(out),
                "--reports-dir", str(tmp_path / "reports")]) == 0
    rep = _check_outputs(out, "align-uniform")
    (m,) = rep["models"]
    assert m["fingerprint"] == fp and m["avg_sts"] == 42.0
    assert rep["options"]["threshold"] == 4.0 and rep["options"]["splits"] == ["test"]
    # Wang & Isola (2020), eqs. 1 and 2 (alpha = t = 2) on unit GloVe averages made here:
    # l_align over the pairs with gold > 4, l_uniform over every sentence of both sides
    s1, s2, gold = stsb_split(data_dir, "test")
    a, b = _unit(glove_average(s1)), _unit(glove_average(s2))
    positive = gold > 4.0
    assert m["positive_pairs"] == positive.sum() and m["sentences"] == 2 * len(gold)
    assert m["align"] == pytest.approx(
        np.mean(((a[positive] - b[positive]) ** 2).sum(1)), rel=1e-12)
    assert m["uniform"] == pytest.approx(
        np.log(np.mean(np.exp(-2 * pdist(np.vstack([a, b]), "sqeuclidean")))), rel=1e-9)
    assert m["timings"]["sentences_encoded"] > 0
    assert "l_align" in capsys.readouterr().out

    out = tmp_path / "sp"
    assert cli(["analyze", "spectrum", *base, "--out-dir", str(out), "--center"]) == 0
    rep = _check_outputs(out, "spectrum")
    (m,) = rep["models"]
    assert len(m["singular_values"]) == 50 and m["singular_values"][0] == 1.0
    assert rep["options"]["center"] is True and rep["options"]["normalize"] == "l2"
    assert m["timings"]["sentences_encoded"] == 0  # the cache served every sentence

    out = tmp_path / "cd"
    assert cli(["analyze", "cosine-dist", *base, "--out-dir", str(out)]) == 0
    rep = _check_outputs(out, "cosine-dist")
    groups = rep["models"][0]["groups"]
    assert list(groups) == metrics.group_labels()
    assert sum(g["n"] for g in groups.values()) == rep["data"]["pairs"] == 1379
    assert all(sum(g["histogram"]) == g["n"] for g in groups.values())


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_analyze_errors_are_one_line(data_dir, tmp_path, capsys):
    assert cli(["analyze", "spectrum", "--data-dir", str(data_dir),
                "--out-dir", str(tmp_path)]) == 2
    assert "nothing to analyse" in capsys.readouterr().err
    assert cli(["analyze", "spectrum", "--model", "glove-avg", "--splits", "nope",
                "--data-dir", str(data_dir), "--out-dir", str(tmp_path)]) == 2
    assert "unknown STS-B split" in capsys.readouterr().err


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_align_uniform_over_fake_checkpoints(tmp_path, tiny_bert):
    torch = pytest.importorskip("torch")
    from transformers import AutoModel, AutoTokenizer

    run = tmp_path / "runs" / "fake"
    source = tiny_bert  # random weights: the claim is about checkpoint handling, not values
    tokenizer = AutoTokenizer.from_pretrained(source)
    gen = torch.Generator().manual_seed(0)
    for step, scale in ((20, 0.02), (3, 0.0)):  # written out of order on purpose
        model = AutoModel.from_pretrained(source)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(scale * torch.randn(p.shape, generator=gen))
        model.save_pretrained(run / "checkpoints" / f"step-{step}")
        tokenizer.save_pretrained(run / "checkpoints" / f"step-{step}")
    data = write_tiny_stsb(tmp_path / "data")
    out = tmp_path / "out"
    torch.set_num_threads(1)
    assert cli(["analyze", "align-uniform", "--checkpoints", str(tmp_path / "runs"),
                "--pooler", "avg", "--data-dir", str(data), "--out-dir", str(out),
                "--reports-dir", str(tmp_path / "none"), "--quiet", "--batch-size", "8"]) == 0
    rep = _check_outputs(out, "align-uniform")
    models = rep["models"]
    assert [(m["checkpoint"]["run"], m["checkpoint"]["step"]) for m in models] == \
        [("fake", 3), ("fake", 20)]
    assert all(m["spec"]["pooler"] == "avg" for m in models)
    assert models[0]["fingerprint"] != models[1]["fingerprint"]
    assert models[0]["uniform"] != models[1]["uniform"]
    assert models[0]["positive_pairs"] == sum(((i * 0.9) % 5.0) > 4 for i in range(6)) * 3


# --- analysis modules ----------------------------------------------------------------------

@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_command_names_no_analysis():
    """Analyses are discovered; the command's source names none of them."""
    import bench.commands.analyze as command

    source = Path(command.__file__).read_text()
    names = list(kinds.discover())
    assert names == ["align-uniform", "cosine-dist", "spectrum"]
    assert not [n for n in names if n in source]


_MEAN_NORM = '''
    """Mean vector length of the STS-B sentences (an analysis added by one module)."""
    import numpy as np

    from bench.analysis.kinds import Rows
    from bench.analysis.plots import save_png

    NAME = "mean-norm"
    HELP = "mean L2 norm of the sentence vectors"


    def add_arguments(p):
        p.add_argument("--power", type=float, default=1.0)


    def options(args):
        return {"power": args.power}


    def compute(table, sets, options, args, model):
        x = table.lookup(sets.sentences)
        return {"mean_norm": float(np.mean(np.linalg.norm(x, axis=1) ** options["power"])),
                "seen": model["fingerprint"]}


    def rows(entries, options):
        return Rows(["mean norm"], [[f"{e['mean_norm']:.5f}"] for e in entries], "norms")


    def title(options, sets):
        return f"mean norm, power {options['power']:g}, {len(sets.sentences)} sentences"


    def plot(entries, sets, options, path, title):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.bar([e["label"] for e in entries], [e["mean_norm"] for e in entries])
        ax.set_title(title)
        return save_png(fig, path)
'''


@pytest.fixture
def extra_analysis(tmp_path, monkeypatch):
    """A folder added to ``bench.analysis.kinds``: a module put there is an analysis."""
    folder = tmp_path / "extra_kinds"
    folder.mkdir()
    monkeypatch.setattr(kinds, "__path__", [*kinds.__path__, str(folder)])
    before = set(sys.modules)
    yield folder
    for name in set(sys.modules) - before:
        if name.startswith("bench.analysis.kinds."):
            del sys.modules[name]


def _fake_models(monkeypatch, encoder):
    from bench.analysis import compute

    monkeypatch.setattr(compute, "resolve", lambda name, options: encoder)


def test_new_analysis_is_one_module(extra_analysis, tmp_path, monkeypatch, capsys):
    (extra_analysis / "mean_norm.py").write_text(textwrap.dedent(_MEAN_NORM))
    encoder = HashEncoder(dim=6)
    _fake_models(monkeypatch, encoder)
    data = write_tiny_stsb(tmp_path / "data")
    out = tmp_path / "out"
    assert cli(["analyze", "mean-norm", "--model", "fake", "--data-dir", str(data),
                "--out-dir", str(out), "--power", "2", "--quiet", "--no-cache"]) == 0
    rep = _check_outputs(out, "mean-norm")
    (m,) = rep["models"]
    sets = build_sets(data)
    vectors = HashEncoder(dim=6).encode(list(sets.sentences)).astype(np.float64)
    assert m["mean_norm"] == pytest.approx(np.mean((vectors ** 2).sum(axis=1)), rel=1e-6)
    assert m["seen"] == m["fingerprint"] == encoder.fingerprint and m["label"] == "fake"
    assert rep["options"]["power"] == 2.0 and rep["options"]["splits"] == ["train", "dev", "test"]
    printed = capsys.readouterr().out
    assert "mean norm" in printed and "norms" in printed and "power=2.0" in printed


def test_analysis_module_lacking_a_member_is_named(extra_analysis):
    (extra_analysis / "broken.py").write_text('NAME = "broken"\nHELP = "x"\n')
    with pytest.raises(TypeError, match="broken lacks add_arguments, options, compute"):
        kinds.discover()


def test_threshold_without_positives_fails_before_encoding(tmp_path, monkeypatch, capsys):
    encoder = HashEncoder()
    _fake_models(monkeypatch, encoder)
    data = write_tiny_stsb(tmp_path / "data")
    assert cli(["analyze", "align-uniform", "--model", "fake", "--data-dir", str(data),
                "--out-dir", str(tmp_path / "out"), "--threshold", "5", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has gold > 5; lower --threshold" in err
    assert encoder.encoded == 0 and not (tmp_path / "out").exists()


# --- analysis report -----------------------------------------------------------------------

def _schema1(tmp: str) -> dict:
    """An analysis report as bench wrote it before schema 2 (absolute data paths)."""
    return {"schema_version": 1, "kind": "analysis", "analysis": "spectrum",
            "bench_version": "0.1.0", "created": "2026-01-01T00:00:00+00:00",
            "options": {"splits": ["test"], "normalize": "l2"},
            "data": {"dir": f"{tmp}/downstream", "found_via": "--data-dir",
                     "task": "STSBenchmark", "splits": ["test"], "pairs": 2,
                     "files": [f"{tmp}/downstream/STS/STSBenchmark/sts-test.csv"]},
            "models": [{"label": "m", "fingerprint": "f", "singular_values": [1.0, 0.25]}],
            "plot": "sp.png"}


def test_schema1_analysis_report_is_converted(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_schema1("/somewhere")))
    report = load(path)
    assert report.schema_version == 2 and report.kind == "analysis"
    assert report.data == {"found_via": "--data-dir", "task": "STSBenchmark",
                           "splits": ["test"], "pairs": 2,
                           "files": ["STS/STSBenchmark/sts-test.csv"]}
    assert report.models == _schema1("/somewhere")["models"]  # values as they were stored
    again = AnalysisReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report and list(report.to_dict())[:2] == ["schema_version", "kind"]


@pytest.mark.parametrize("change, message", [
    (lambda d: [], "a JSON object is expected"),
    (lambda d: {**d, "kind": "run"}, "kind is 'run', expected 'analysis'"),
    (lambda d: {**d, "schema_version": 7}, "schema_version 7 is not readable"),
    (lambda d: {k: v for k, v in d.items() if k != "options"}, "field 'options' must be"),
    (lambda d: {**d, "models": {"m": 1}}, "field 'models' must be a JSON array"),
    (lambda d: {**d, "models": [{"fingerprint": "f"}]}, r"models\[0\] must be an object"),
])
def test_bad_analysis_report_is_one_line(tmp_path, change, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(change(_schema1("/x"))))
    with pytest.raises(ReportError, match=message) as info:
        load(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_unreadable_analysis_report_file(tmp_path):
    with pytest.raises(ReportError, match="no such report file"):
        load(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ReportError, match="not a bench report"):
        load(tmp_path / "broken.json")
