"""MTEB interop without the mteb package: the SICK-R-all task, the mteb preset's tasks, the
export's files and numbers, MTEB result files read by compare, and bad input.

Reference numbers are computed here from SentEval's files with a few lines of numpy/scipy, or
read from the published MTEB result files in tests/data/mteb (MTEB paper's results repository,
see its README); never by the code under test. The round trip through mteb's own loader and
the MTEB-model adapter are in tests/test_mteb_package.py (they need ``sentbench[mteb]``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import HashEncoder
from scipy import stats

import bench
import bench.mteb
from bench.cli import main
from bench.errors import BenchError

PUBLISHED = Path(__file__).parent / "data" / "mteb" / "mtebpaper" / "all-MiniLM-L6-v2"
MTEB_TASKS = ["STS12", "STS13", "STS14", "STS15", "STS16", "STSBenchmark", "SICKRelatednessAll"]
SICK_FILES = ("SICK_train.txt", "SICK_trial.txt", "SICK_test_annotated.txt")


# ------------------------------------------------------------- independent data readers

def _sick_all(data_dir: Path) -> tuple[list[str], list[str], np.ndarray]:
    s1, s2, gold = [], [], []
    for name in SICK_FILES:
        lines = (data_dir / "SICK" / name).read_text(encoding="utf-8").splitlines()[1:]
        for line in lines:
            cols = line.split("\t")
            s1.append(" ".join(cols[1].split()))
            s2.append(" ".join(cols[2].split()))
            gold.append(float(cols[3]))
    return s1, s2, np.array(gold)


def _stsb_test(data_dir: Path) -> tuple[list[str], list[str], np.ndarray]:
    s1, s2, gold = [], [], []
    for line in (data_dir / "STS/STSBenchmark/sts-test.csv").read_text(
            encoding="utf-8").splitlines():
        cols = line.split("\t")
        gold.append(float(cols[4]))
        s1.append(" ".join(cols[5].split()))
        s2.append(" ".join(cols[6].split()))
    return s1, s2, np.array(gold)


def _hash_vectors(sentences: list[str]) -> np.ndarray:
    return HashEncoder(dim=16).encode(sentences).astype(np.float64)


def _mteb_scores(s1, s2, gold) -> dict[str, float]:
    """MTEB's STS metrics (fractions), computed here: cosine, negative L2 and L1 distance."""
    u, v = _hash_vectors(s1), _hash_vectors(s2)
    sims = {"cosine": (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1),
            "euclidean": -np.linalg.norm(u - v, axis=1), "manhattan": -np.abs(u - v).sum(1)}
    out = {}
    for kind, sim in sims.items():
        out[f"{kind}_pearson"] = stats.pearsonr(sim, gold)[0]
        out[f"{kind}_spearman"] = stats.spearmanr(sim, gold)[0]
    return out


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def mteb_run(data_dir, tmp_path_factory) -> Path:
    """A run under --protocol mteb on two of MTEB's tasks, with the fast hash encoder."""
    path = tmp_path_factory.mktemp("mteb-run") / "hash-mteb.json"
    bench.evaluate(HashEncoder(dim=16), tasks=["STSBenchmark", "SICK-R-all"], protocols="mteb",
                   data_dir=data_dir, use_cache=False, name="hash-16", out=path)
    return path


@pytest.fixture(scope="module")
def senteval_run(data_dir, tmp_path_factory) -> Path:
    """A run under all-spearman on SentEval's STS-B and SICK-R (test split)."""
    path = tmp_path_factory.mktemp("senteval-run") / "hash-senteval.json"
    bench.evaluate(HashEncoder(dim=16), tasks=["STSBenchmark", "SICK-R"],
                   protocols="all-spearman", data_dir=data_dir, use_cache=False,
                   name="hash-16", out=path)
    return path


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: error: "), err
    return err[0]


# --------------------------------------------------------------------- task and preset

def test_sick_r_all_is_its_own_task_of_all_9927_pairs(data_dir):
    from bench.tasks.registry import get, select

    meta = get("SICK-R-all")
    assert meta.name == "SICKRelatednessAll" and meta.label == "SICK-R-all"
    assert meta is not get("SICK-R")
    # not in the sts set nor in every: default runs are unchanged
    assert meta not in select(["sts"]) and meta not in select(["every"])
    task = meta.load(data_dir)
    s1, s2, gold = _sick_all(data_dir)
    assert len(gold) == 4500 + 500 + 4927 == 9927
    (part,) = task.parts.values()
    assert list(part.sent1) == s1 and list(part.sent2) == s2
    np.testing.assert_array_equal(part.gold, gold)


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_mteb_preset_names_its_tasks_and_run_uses_them(monkeypatch, tmp_path, data_dir):
    from bench.protocols import load_presets, preset_tasks

    preset = load_presets()["mteb"]
    assert [p.key for p in preset.protocols] == ["all-spearman"] and "MTEB" in preset.source
    assert list(preset.tasks) == MTEB_TASKS
    assert preset_tasks("mteb") == MTEB_TASKS
    assert preset_tasks("simcse") == ["sts"]
    seen = {}

    def fake_evaluate(model, tasks=None, protocols="simcse", **kw):
        seen["tasks"], seen["protocols"] = tasks, protocols
        raise BenchError("stop here")

    monkeypatch.setattr("bench.commands.run.evaluate", fake_evaluate)
    assert main(["run", "--model", "minilm-avg", "--protocol", "mteb"]) == 2
    assert seen["tasks"] is None  # no --tasks: evaluate takes the preset's (checked below)
    report = bench.evaluate(HashEncoder(dim=8), protocols="mteb", data_dir=data_dir,
                            use_cache=False)
    assert list(report.tasks) == MTEB_TASKS
    assert [s.protocol.key for s in report.scores] == ["all-spearman"]


# ---------------------------------------------------------------------------- export

def test_export_writes_mteb_layout_with_independent_numbers(mteb_run, data_dir, tmp_path,
                                                            capsys):
    out = tmp_path / "results"
    assert main(["export", "mteb", str(mteb_run), "--out", str(out)]) == 0
    revision_dirs = list(out.glob("*/*"))
    assert len(revision_dirs) == 1
    folder = revision_dirs[0]
    assert folder.parent.name == "bench__hash-16"
    assert sorted(p.name for p in folder.iterdir()) == ["SICK-R.json", "STSBenchmark.json",
                                                        "model_meta.json"]
    meta = json.loads((folder / "model_meta.json").read_text())
    assert meta["name"] == "bench/hash-16" and meta["revision"] == folder.name
    assert meta["similarity_fn_name"] == "cosine"
    for fname, reader in (("STSBenchmark.json", _stsb_test), ("SICK-R.json", _sick_all)):
        data = json.loads((folder / fname).read_text())
        assert data["task_name"] == fname.removesuffix(".json")
        (entry,) = data["scores"]["test"]
        assert entry["hf_subset"] == "default" and entry["languages"] == ["eng-Latn"]
        expected = _mteb_scores(*reader(data_dir))
        for key, value in expected.items():
            assert entry[key] == pytest.approx(value, abs=1e-6), (fname, key)  # rounding ties
        assert entry["main_score"] == pytest.approx(expected["cosine_spearman"], abs=1e-6)
        assert entry["spearman"] == entry["cosine_spearman"]
        assert entry["pearson"] == pytest.approx(expected["cosine_pearson"], abs=1e-6)


def test_export_refuses_other_protocol_unknown_task_and_writes_nothing(
        mteb_run, senteval_run, data_dir, tmp_path, capsys):
    out = tmp_path / "results"
    other = tmp_path / "wmean.json"
    bench.evaluate(HashEncoder(dim=16), tasks=["STSBenchmark"], protocols="wmean-pearson",
                   data_dir=data_dir, use_cache=False, out=other)
    assert main(["export", "mteb", str(other), "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert "wmean.json" in line and "wmean-pearson" in line and "all-spearman" in line
    # SentEval's SICK-R is under all-spearman but is not MTEB's SICK-R
    assert main(["export", "mteb", str(senteval_run), "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert "SICK-R" in line and "SICK-R-all" in line and "9,927" in line
    # a good report before a bad one: nothing of the good one is written either
    assert main(["export", "mteb", str(mteb_run), str(other), "--out", str(out)]) == 2
    _error_line(capsys)
    assert not out.exists()
    lit = Path(__file__).parents[1] / "reports" / "literature" / "simcse-table5.json"
    assert main(["export", "mteb", str(lit), "--out", str(out)]) == 2
    assert "literature" in _error_line(capsys)
    assert not out.exists()


# ---------------------------------------------------------------------------- import

def _published_spearman() -> dict[str, float]:
    """Cosine Spearman (points) straight from the published files."""
    names = {"STSBenchmark": "STSBenchmark", "SICK-R": "SICKRelatednessAll"}
    out = {}
    for path in PUBLISHED.glob("*.json"):
        data = json.loads(path.read_text())
        out[names.get(path.stem, path.stem)] = 100 * data["test"]["cos_sim"]["spearman"]
    return out


def test_published_mteb_folder_reads_as_one_literature_row():
    from bench.compare.rows import load_rows

    (row,) = load_rows([PUBLISHED])
    assert row.kind == "literature" and row.label == "all-MiniLM-L6-v2"
    (scores,) = row.stored
    assert scores.protocol.key == "all-spearman" and "MTEB" in scores.protocol.source
    assert scores.values == pytest.approx(_published_spearman(), abs=1e-12)
    assert list(scores.values) == MTEB_TASKS  # registry order
    assert "0.0.2" in row.note
    # the files one by one give the same single row
    (again,) = load_rows(sorted(PUBLISHED.glob("*.json")))
    assert again.stored[0].values == scores.values


def _new_style(task: str, value, version: str | None = "1.12.41") -> dict:
    data = {"dataset_revision": "abc", "task_name": task, "evaluation_time": 1.0,
            "scores": {"test": [{"cosine_spearman": value, "cosine_pearson": value,
                                 "main_score": value, "hf_subset": "default",
                                 "languages": ["eng-Latn"]}]}}
    if version is not None:
        data["mteb_version"] = version
    return data


def test_mteb_result_shapes_numbers_r_p_lists_nested_and_versions(tmp_path):
    from bench.compare.rows import load_rows

    folder = tmp_path / "results" / "org__model" / ("a" * 40)
    folder.mkdir(parents=True)
    (folder / "STS12.json").write_text(json.dumps(_new_style("STS12", 0.7123, "2.12.16-2.15.4")))
    (folder / "STS13.json").write_text(json.dumps(_new_style("STS13", [0.8123, 1.5e-300],
                                                             None)))
    (folder / "SICK-R.json").write_text(json.dumps(
        {"mteb_dataset_name": "SICK-R", "mteb_version": "1.0.0",
         "test": {"cos_sim": {"pearson": 0.8, "spearman": 0.7711}}}))
    (folder / "Banking77Classification.json").write_text(json.dumps(
        {"task_name": "Banking77Classification", "scores": {"test": [{"main_score": 0.8}]}}))
    (folder / "model_meta.json").write_text(json.dumps({"name": "org/model",
                                                        "revision": "a" * 40}))
    (row,) = load_rows([tmp_path / "results"])
    assert row.label == "org/model"
    assert row.stored[0].values == pytest.approx(
        {"STS12": 71.23, "STS13": 81.23, "SICKRelatednessAll": 77.11}, abs=1e-12)
    assert "1 result files of other tasks skipped" in row.note
    assert "2.12.16-2.15.4" in row.note and "unknown" in row.note


@pytest.mark.parametrize("content, named", [
    ({"task_name": None}, "'task_name'"),
    ({"task_name": "STS12", "scores": []}, "'scores'"),
    ({"task_name": "STS12", "scores": {"test": [{"cosine_spearman": "high",
                                                  "hf_subset": "default"}]}},
     "'scores.test[0].cosine_spearman'"),
    ({"task_name": "STS12", "scores": {"test": [{"hf_subset": "default"}]}},
     "'scores.test[0]'"),
    ({"mteb_dataset_name": "STS12", "test": {"cos_sim": {"pearson": 0.5}}},
     "'test.cos_sim'"),
    ({"mteb_dataset_name": "STS12", "test": {"cos_sim": {"spearman": 3.0}}},
     "'test.cos_sim.spearman'"),
    (_new_style("STS12", 0.5, version=2), "'mteb_version'"),
    (_new_style("BIOSSES", 0.5), "'task_name'"),
])
def test_bad_mteb_result_file_is_one_line_naming_file_and_key(tmp_path, capsys, content, named):
    path = tmp_path / "STS12.json"
    path.write_text(json.dumps(content))
    assert main(["compare", str(path)]) == 2
    line = _error_line(capsys)
    assert str(path) in line and named in line, line


def test_unknown_shape_in_a_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "m" / "rev"
    folder.mkdir(parents=True)
    (folder / "STS12.json").write_text(json.dumps({"foo": 1}))
    assert main(["compare", str(tmp_path / "m")]) == 2
    line = _error_line(capsys)
    assert "STS12.json" in line and "'task_name'" in line and "'mteb_dataset_name'" in line
    (folder / "STS12.json").write_text("not json")
    assert main(["compare", str(tmp_path / "m")]) == 2
    assert "STS12.json" in _error_line(capsys)


# --------------------------------------------------------------------------- compare

def test_published_compares_with_mteb_run_and_is_refused_against_senteval_sick(
        mteb_run, senteval_run, tmp_path, capsys):
    out = tmp_path / "table.csv"
    assert main(["compare", str(PUBLISHED), str(mteb_run), "--format", "csv",
                 "--out", str(out)]) == 0
    text = out.read_text()
    assert "all-MiniLM-L6-v2" in text and "hash-16" in text and "SICK-R-all" in text
    header = text.splitlines()[0].split(",")
    assert "SICK-R" not in header  # only MTEB's SICK-R column
    capsys.readouterr()
    assert main(["compare", str(PUBLISHED), str(senteval_run)]) == 2
    line = _error_line(capsys)
    assert "SICK-R-all" in line and "SICK-R " in line and "SICK corpus" in line
    assert "--allow-mixed" in line
    assert main(["compare", str(PUBLISHED), str(senteval_run), "--allow-mixed", "--format",
                 "md", "--out", str(out)]) == 0
    text = out.read_text()
    assert "DIFFERENT TASKS" in text and "SICK-R-all" in text


# ------------------------------------------------------------------ the published numbers

@pytest.mark.slow
@pytest.mark.reproduction
def test_mteb_protocol_reproduces_published_minilm_numbers(data_dir, tmp_path, capsys):
    """``bench run --model minilm-avg --protocol mteb`` gives MTEB's published cosine Spearman
    for all-MiniLM-L6-v2 (embeddings-benchmark/mtebpaper, results/all-MiniLM-L6-v2/*.json,
    copied to tests/data/mteb; also cited in baselines/minilm-avg.toml [published]) to 0.01
    points on STS12-16, STS-B and SICK-R (bench's SICK-R-all). The seven tasks are encoded in
    one pass: a sentence shared by several tasks is encoded once."""
    from bench.reports import load

    out = tmp_path / "minilm-mteb.json"
    assert main(["run", "--model", "minilm-avg", "--protocol", "mteb", "--data-dir",
                 str(data_dir), "--out", str(out), "--quiet"]) == 0
    report = load(out)
    (scores,) = report.scores
    assert list(scores.values) == MTEB_TASKS
    published = _published_spearman()
    for task in MTEB_TASKS:
        assert abs(scores.values[task] - published[task]) < 0.01, task
    assert report.timings["sentences_unique"] < report.timings["sentences_requested"]
    assert report.timings["sentences_encoded"] <= report.timings["sentences_unique"]


def test_as_model_without_mteb_is_one_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mteb", None)  # as if the extra were not installed
    monkeypatch.delitem(sys.modules, "bench.mteb.model", raising=False)
    with pytest.raises(bench.mteb.MtebError, match=r"pip install 'sentbench\[mteb\]'"):
        bench.mteb.as_model("minilm-avg")
