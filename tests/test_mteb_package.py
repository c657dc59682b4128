"""MTEB interop against the mteb package itself (``pip install 'sentbench[mteb]'``; run by
``nox -s mteb``, skipped where mteb is not installed): exported folders load with mteb's own
result loader, published files read by mteb and by bench agree, and bench models run MTEB
evaluations end to end, offline, on mteb's mock tasks and on a small task built here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import HashEncoder
from scipy import stats
from sklearn.linear_model import LogisticRegression

import bench
import bench.mteb
from bench.cli import main

mteb = pytest.importorskip("mteb")

PUBLISHED = Path(__file__).parent / "data" / "mteb" / "mtebpaper" / "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def mteb_run(data_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mteb-run") / "hash-mteb.json"
    bench.evaluate(HashEncoder(dim=16), tasks=["STS12", "STSBenchmark", "SICK-R-all"],
                   protocols="mteb", data_dir=data_dir, use_cache=False, out=path)
    return path


def test_exported_folder_loads_with_mtebs_loader_and_gives_the_same_numbers(mteb_run,
                                                                            tmp_path):
    from bench.reports import load

    root = tmp_path / "cache"
    assert main(["export", "mteb", str(mteb_run), "--out", str(root / "results")]) == 0
    loaded = mteb.ResultCache(cache_path=root).load_results(include_remote=False,
                                                            require_model_meta=True)
    (model,) = loaded.model_results
    assert model.model_name == "bench/hash-16"
    got = {r.task_name: r for r in model.task_results}
    assert sorted(got) == ["SICK-R", "STS12", "STSBenchmark"]
    report = load(mteb_run)
    printed = report.scores[0].values  # the numbers bench printed (points)
    names = {"STS12": "STS12", "STSBenchmark": "STSBenchmark", "SICK-R": "SICKRelatednessAll"}
    for mteb_name, result in got.items():
        task = report.tasks[names[mteb_name]]
        assert result.get_score() == pytest.approx(printed[names[mteb_name]] / 100, abs=1e-6)
        (entry,) = result.scores["test"]
        for kind in ("cosine", "euclidean", "manhattan"):
            for metric in ("pearson", "spearman"):
                assert entry[f"{kind}_{metric}"] == pytest.approx(
                    task.similarities[kind][metric] / 100, abs=1e-6)
    # mteb's own ModelMeta accepts the exported model_meta.json
    (meta_file,) = (root / "results").glob("*/*/model_meta.json")
    from mteb.models.model_meta import ModelMeta

    meta = ModelMeta.model_validate_json_resolved(meta_file.read_text())
    assert meta.name == "bench/hash-16"


def test_published_files_read_by_mteb_and_by_bench_agree(tmp_path):
    from bench.compare.rows import load_rows

    (row,) = load_rows([PUBLISHED])
    ours = row.stored[0].values
    names = {"STSBenchmark": "STSBenchmark", "SICK-R": "SICKRelatednessAll"}
    for path in sorted(PUBLISHED.glob("*.json")):
        # mteb 2.26's pre-1.11 converter iterates every top-level value and fails on the
        # paper files' "dataset_version": null; bench reads them as they are
        data = json.loads(path.read_text())
        data.pop("dataset_version")
        copy = tmp_path / path.name
        copy.write_text(json.dumps(data))
        result = mteb.TaskResult.from_disk(copy)
        bench_name = names.get(result.task_name, result.task_name)
        assert 100 * result.get_score(splits=["test"]) == pytest.approx(ours[bench_name],
                                                                        abs=1e-9)


def test_r_p_lists_and_new_shape_read_like_mteb(tmp_path):
    """A file in mteb's current shape, with one value as an [r, p] list (1.12.x): bench takes
    r; mteb's loader reads the plain-number version of the same file to the same number."""
    from bench.compare.rows import load_rows

    entry = {"cosine_spearman": 0.6543, "cosine_pearson": 0.7, "main_score": 0.6543,
             "hf_subset": "default", "languages": ["eng-Latn"]}
    data = {"dataset_revision": "x", "task_name": "STS15", "mteb_version": "2.1.0",
            "evaluation_time": 1.0, "kg_co2_emissions": None, "scores": {"test": [entry]}}
    plain = tmp_path / "plain" / "STS15.json"
    plain.parent.mkdir()
    plain.write_text(json.dumps(data))
    listed = tmp_path / "listed" / "STS15.json"
    listed.parent.mkdir()
    listed.write_text(json.dumps({**data, "scores": {"test": [
        {**entry, "cosine_spearman": [0.6543, 1e-200]}]}}))
    mteb_value = 100 * mteb.TaskResult.from_disk(plain).get_score()
    for path in (plain, listed):
        (row,) = load_rows([path])
        assert row.stored[0].values["STS15"] == pytest.approx(mteb_value, abs=1e-9)


# ------------------------------------------------------------------------- the adapter

class _SmallSts(mteb.abstasks.AbsTaskSTS):
    """Forty STS-B test pairs, built in the test (no download)."""

    metadata = mteb.TaskMetadata(
        name="BenchSmallSTS", description="40 STS-B test pairs for a bench test",
        reference="https://github.com/embeddings-benchmark/mteb",
        dataset={"path": "NA", "revision": "NA"}, type="STS", category="t2t",
        modalities=["text"], eval_splits=["test"], eval_langs=["eng-Latn"],
        main_score="cosine_spearman", date=("2017-01-01", "2017-12-31"),
        domains=[], task_subtypes=[], license="cc-by-sa-4.0",
        annotations_creators="human-annotated",
        dialect=[], sample_creation="found", bibtex_citation="")
    min_score = 0
    max_score = 5
    pairs: tuple[list[str], list[str], list[float]] = ([], [], [])

    def load_data(self, **kwargs):
        from datasets import Dataset, DatasetDict

        s1, s2, gold = self.pairs
        self.dataset = DatasetDict({"test": Dataset.from_dict(
            {"sentence1": s1, "sentence2": s2, "score": gold})})
        self.data_loaded = True


def _stsb_pairs(data_dir: Path, n: int = 40):
    s1, s2, gold = [], [], []
    for line in (data_dir / "STS/STSBenchmark/sts-test.csv").read_text(
            encoding="utf-8").splitlines()[:n]:
        cols = line.split("\t")
        gold.append(float(cols[4]))
        s1.append(cols[5])
        s2.append(cols[6])
    return s1, s2, gold


def test_bench_model_runs_mteb_evaluations_offline(data_dir):
    from mteb.mocks.mock_tasks import MockClassificationTask, MockSTSTask

    encoder = HashEncoder(dim=16)
    model = bench.mteb.as_model(encoder, name="bench/hash")
    assert isinstance(model, mteb.EncoderProtocol)
    assert model.mteb_model_meta.name == "bench/hash"
    _SmallSts.pairs = _stsb_pairs(data_dir)
    result = mteb.evaluate(model, [_SmallSts(), MockSTSTask(), MockClassificationTask()],
                           cache=None, show_progress_bar=False)
    got = {r.task_name: r for r in result.task_results}
    assert sorted(got) == ["BenchSmallSTS", "MockClassificationTask", "MockSTSTask"]
    s1, s2, gold = _SmallSts.pairs
    u = HashEncoder(dim=16).encode(s1).astype(np.float64)
    v = HashEncoder(dim=16).encode(s2).astype(np.float64)
    cos = (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
    assert got["BenchSmallSTS"].get_score() == pytest.approx(stats.spearmanr(cos, gold)[0],
                                                             abs=1e-6)
    # the mock's classifier (scikit-learn's LogisticRegression, max_iter=10) fitted here on the
    # encoder's vectors of the mock's two training texts; every experiment uses both of them
    mock = MockClassificationTask()
    mock.load_data()
    train, test = mock.dataset["train"], mock.dataset["test"]
    hashed = HashEncoder(dim=16)
    fitted = LogisticRegression(max_iter=10).fit(hashed.encode(train["text"]), train["label"])
    accuracy = np.mean(fitted.predict(hashed.encode(test["text"])) == np.array(test["label"]))
    assert got["MockClassificationTask"].get_score() == pytest.approx(accuracy, abs=1e-12)
    assert encoder.encoded > 0  # vectors came from the bench encoder


def test_recipe_as_mteb_model_and_target_fit_refused(tmp_path):
    from mteb.mocks.mock_tasks import MockSTSTask

    model = bench.mteb.as_model("minilm-avg", cache_dir=tmp_path)
    assert model.mteb_model_meta.name == "bench/minilm-avg"
    (result,) = mteb.evaluate(model, MockSTSTask(), cache=None,
                              show_progress_bar=False).task_results
    # Spearman of numpy cosines of the recipe's vectors with the mock's gold (two pairs: +-1)
    mock = MockSTSTask()
    mock.load_data()
    pairs = mock.dataset["test"]
    u = model.encoder.encode(pairs["sentence1"]).astype(np.float64)
    v = model.encoder.encode(pairs["sentence2"]).astype(np.float64)
    cos = (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
    assert result.get_score() == pytest.approx(stats.spearmanr(cos, pairs["score"])[0],
                                               abs=1e-12)
    with pytest.raises(bench.mteb.MtebError, match="own sentences"):
        bench.mteb.as_model("minilm-whitening-target")


@pytest.mark.slow
def test_whitening_recipe_as_mteb_model_applies_its_postprocessor(data_dir, tmp_path):
    """``as_model("minilm-whitening-nli")`` scores an MTEB task with whitened vectors: the
    reference whitens the base vectors here (BERT-whitening: mean, covariance, SVD,
    ``U diag(s^-1/2)``, fitted on the NLI sentences) with numpy."""
    import csv

    from bench.embed import encode_tasks

    model = bench.mteb.as_model("minilm-whitening-nli", cache_dir=tmp_path)
    _SmallSts.pairs = _stsb_pairs(data_dir)
    (result,) = mteb.evaluate(model, _SmallSts(), cache=None,
                              show_progress_bar=False).task_results
    base = model.encoder.base
    with open(model.encoder.nli_path, encoding="utf-8", newline="") as fh:
        fit = [" ".join(s.split()) for row in list(csv.reader(fh))[1:] for s in row]
    s1, s2, gold = _SmallSts.pairs
    views, _ = encode_tasks(base, {"fit": fit, "pairs": s1 + s2}, cache_root=tmp_path,
                            show_progress=False)
    x = views["fit"].lookup(fit).astype(np.float64)
    mu = x.mean(0)
    u, s, _ = np.linalg.svd(np.cov(x.T))
    w = u / np.sqrt(s)
    a = (views["pairs"].lookup(s1).astype(np.float64) - mu) @ w
    b = (views["pairs"].lookup(s2).astype(np.float64) - mu) @ w
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert result.get_score() == pytest.approx(stats.spearmanr(cos, gold)[0], abs=1e-6)
