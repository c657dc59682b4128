"""The Python API with every model kind, the training-loop evaluator, and a task added by one
registry record: each gives the numbers `bench run` gives for the same model and data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import bench
from bench.cli import main
from bench.data.manifest import Entry, load_manifest
from bench.data.sts import ColumnsReader
from bench.encoders.registry import EncoderOptions, resolve
from bench.fingerprint import sha256_file
from bench.tasks.registry import TaskMetadata, register, unregister
from tests.helpers import HashEncoder


def _values(report) -> dict[str, dict[str, float]]:
    return {s.protocol.key: s.values for s in report.scores}


def _cli(tmp_path: Path, data_dir: Path, *argv: str) -> dict[str, dict[str, float]]:
    out = tmp_path / "cli.json"
    assert main(["run", *argv, "--data-dir", str(data_dir), "--out", str(out), "--quiet"]) == 0
    return {s["protocol"]["key"]: s["values"] for s in json.loads(out.read_text())["scores"]}


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_evaluate_gives_bench_run_numbers_for_every_model_kind(tiny_bert, my_sts, tmp_path):
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoModel, AutoTokenizer

    data_dir, _ = my_sts  # a small task, so that five encodings stay cheap
    common = {"tasks": "MySTS", "protocols": "every-cosine", "data_dir": data_dir,
              "cache_dir": tmp_path / "cache"}
    expected = _cli(tmp_path, data_dir, "--model", str(tiny_bert), "--pooler", "avg",
                    "--tasks", "MySTS", "--protocol", "every-cosine",
                    "--cache-dir", str(tmp_path / "cli-cache"))
    st = SentenceTransformer(modules=[models.Transformer(str(tiny_bert)),
                                      models.Pooling(32, "mean")], device="cpu")
    # the reference: sentence-transformers' own mean pooling, cosine and scipy, outside bench
    # (its batches are padded differently: float noise)
    _assert_close(expected, _st_reference(st, data_dir / "MYSTS" / "test.tsv"), 1e-4)
    by_path = bench.evaluate(str(tiny_bert), pooler="avg", **common)
    assert _values(by_path) == expected

    hf_model, tokenizer = AutoModel.from_pretrained(tiny_bert), AutoTokenizer.from_pretrained(
        tiny_bert)
    by_object = bench.evaluate(hf_model, tokenizer=tokenizer, pooler="avg", **common)
    assert _values(by_object) == expected
    assert by_object.model.spec["type"] == "transformer-object"
    assert by_object.model.n_parameters == sum(p.numel() for p in hf_model.parameters())

    encoder = resolve(str(tiny_bert), EncoderOptions(pooler="avg"))  # what --model builds
    by_callable = bench.evaluate(lambda sentences: encoder.encode(sentences), **common)
    assert by_callable.timings["sentences_cached"] == 0  # a callable is never cached
    # batches are formed by characters, not tokens, for a callable: other padding, float noise
    _assert_close(_values(by_callable), expected, 1e-5)

    by_st = bench.evaluate(st, **common)  # its own mean pooling: the same up to float noise
    _assert_close(_values(by_st), expected, 1e-4)


def _assert_close(got, expected, tolerance):
    assert got.keys() == expected.keys()
    for key, row in expected.items():
        for task, value in row.items():
            assert got[key][task] == pytest.approx(value, abs=tolerance)


def _st_reference(st, tsv: Path) -> dict[str, dict[str, float]]:
    """every-cosine values (points) of a one-split task file (s1, s2, gold per line), from
    ``st.encode``, numpy's cosine and scipy: with one part, all = mean = wmean."""
    rows = [line.split("\t") for line in tsv.read_text(encoding="utf-8").splitlines()]
    a = st.encode([r[0] for r in rows], convert_to_numpy=True).astype(np.float64)
    b = st.encode([r[1] for r in rows], convert_to_numpy=True).astype(np.float64)
    sim = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    gold = np.array([float(r[2]) for r in rows])
    value = {"spearman": 100 * stats.spearmanr(sim, gold)[0],
             "pearson": 100 * stats.pearsonr(sim, gold)[0]}
    return {f"{agg}-{metric}": {"MySTS": value[metric]}
            for metric in ("spearman", "pearson") for agg in ("all", "mean", "wmean")}


# GloVe 6B 50d averages on the SentEval data; tests/references.py recomputes these with numpy
# and scipy alone (tests/test_run.py). The kept report reports/glove-avg-sts-every.json,
# scored before the tie rule (bench.correlation: no 'ties' field, exact ranks), stores
# all-spearman 42.37513097057328; a run now ranks cosines equal to 6 decimals as ties.
GLOVE_STS13 = {"all-spearman": 42.37548942764032, "wmean-pearson": 45.28067754134375}


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_evaluate_with_a_recipe_name_gives_the_kept_numbers(data_dir, tmp_path):
    expected = {key: {"STS13": value} for key, value in GLOVE_STS13.items()}
    cli = _cli(tmp_path, data_dir, "--model", "glove-avg", "--tasks", "STS13",
               "--protocol", "simcse,wmean-pearson")
    report = bench.evaluate("glove-avg", tasks=["STS13"], protocols=["simcse", "wmean-pearson"],
                            data_dir=data_dir)
    _assert_close(cli, expected, 1e-9)
    _assert_close(_values(report), expected, 1e-9)
    assert "STS13" in bench.table(report) and report.model.training_data


def test_evaluate_writes_nothing_unless_asked(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    report = bench.evaluate(HashEncoder(), tasks="STS13", data_dir=data_dir,
                            cache_dir=tmp_path / "cache")
    assert not (tmp_path / "reports").exists()
    out = tmp_path / "kept" / "hash.json"
    bench.evaluate(HashEncoder(), tasks="STS13", data_dir=data_dir, cache_dir=tmp_path / "cache",
                   out=out)
    loaded = bench.load(out)
    assert _values(loaded) == _values(report) and loaded.has_pairs


def test_bad_model_objects_are_one_line_errors(data_dir):
    from bench.errors import ModelError

    with pytest.raises(ModelError, match="cannot evaluate a int"):
        bench.evaluate(42, tasks="STS13", data_dir=data_dir)
    with pytest.raises(ModelError, match=r"returned an array of shape \(3,\)"):
        bench.evaluate(lambda s: np.zeros(3), tasks="STS13", data_dir=data_dir)


# ------------------------------------------------------------------ training-loop evaluator

def test_sts_evaluator_equals_an_independent_dev_spearman(data_dir):
    from bench.callbacks import StsEvaluator
    from bench.tasks.registry import load_sts_task

    evaluator = StsEvaluator("sts-b", "dev", data_dir=data_dir)
    encoder = HashEncoder(16)
    got = evaluator(encoder.encode)
    dev = load_sts_task(data_dir, "STSBenchmark").parts["dev"]
    a = encoder.encode(list(dev.sent1)).astype(np.float64)
    b = encoder.encode(list(dev.sent2)).astype(np.float64)
    sim = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    # the tie rule of a run (bench.correlation): cosines equal to 6 decimals are ties
    assert got == pytest.approx(stats.spearmanr(np.round(sim, 6), dev.gold)[0], abs=1e-12)
    assert len(evaluator) == 1500 and evaluator.name == "STSBenchmark-dev-spearman"


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_sentence_transformers_evaluator_adapter(tiny_bert, my_sts):
    from sentence_transformers import SentenceTransformer, models

    from bench.callbacks import StsEvaluator, sentence_transformers_evaluator

    data_dir, _ = my_sts
    st = SentenceTransformer(modules=[models.Transformer(str(tiny_bert)),
                                      models.Pooling(32, "mean")], device="cpu")
    evaluator = sentence_transformers_evaluator("MySTS", "test", data_dir=data_dir)
    metrics = evaluator(st)
    key = "bench_MySTS-test-spearman_spearman"
    assert evaluator.primary_metric == key and set(metrics) == {key}
    direct = StsEvaluator("MySTS", "test", data_dir=data_dir)(
        lambda s: st.encode(list(s), convert_to_numpy=True))
    assert metrics[key] == pytest.approx(direct, abs=1e-12)


# ------------------------------------------------------------------ a task added by a record

@pytest.fixture
def my_sts(tmp_path, monkeypatch):
    """A small STS-style task in a temporary data folder: one record plus its manifest line."""
    rng = np.random.default_rng(5)
    words = ["a", "cat", "dog", "sat", "on", "the", "mat", "ran", "far", "away", "big", "red"]
    lines = []
    for _ in range(60):
        s1 = " ".join(rng.choice(words, 5))
        s2 = " ".join(rng.choice(words, 5))
        lines.append(f"{s1}\t{s2}\t{rng.uniform(0, 5):.2f}")
    data = tmp_path / "data"
    (data / "MYSTS").mkdir(parents=True)
    (data / "MYSTS" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    meta = register(TaskMetadata(
        name="MySTS", family="sts", reader=ColumnsReader((("test", "MYSTS/test.tsv"),),
                                                         s1=0, s2=1, score=2),
        score_range=(0.0, 5.0), sizes={"test": 60}, citation="made in this test"))
    manifest = dict(load_manifest())
    path = data / "MYSTS" / "test.tsv"
    manifest["MYSTS/test.tsv"] = Entry("MYSTS/test.tsv", path.stat().st_size,
                                       sha256_file(path), 60)
    monkeypatch.setattr("bench.data.manifest.load_manifest", lambda: manifest)
    yield data, meta
    unregister("MySTS")


def test_a_registered_task_runs_through_run_compare_and_the_bootstrap(my_sts, tmp_path,
                                                                       capsys):
    data, meta = my_sts
    glove = tmp_path / "glove.json"
    assert main(["run", "--model", "glove-avg", "--tasks", "MySTS", "--protocol", "simcse",
                 "--data-dir", str(data), "--out", str(glove), "--quiet"]) == 0
    report = bench.load(glove)
    assert list(report.tasks) == ["MySTS"]
    assert report.tasks["MySTS"].files == {"MYSTS/test.tsv": sha256_file(data / "MYSTS/test.tsv")}
    hashed = tmp_path / "hash.json"
    bench.evaluate(HashEncoder(), tasks="MySTS", data_dir=data, out=hashed)
    capsys.readouterr()
    assert main(["compare", str(glove), str(hashed), "--ci", "--significance",
                 "--resamples", "50", "--format", "md"]) == 0
    text = capsys.readouterr().out
    assert "MySTS" in text and "Paired significance" in text
