"""Runs made elsewhere (bench.mteb.predictions): MTEB prediction files and a CSV of
similarities get the same intervals and paired tests as the same vectors evaluated by bench."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bench
from bench.cli import main
from bench.tasks.registry import get, load_sts_task
from tests.helpers import HashEncoder

TASKS = ["STS12", "SICKRelatedness"]  # five subsets in registry order; one test split


def _cosines(encoder, data_dir, name):
    """The task's scored pairs in bench's order, cosine computed here (numpy, float64)."""
    task = load_sts_task(data_dir, name)
    out = []
    for part in get(name).eval_parts:
        a = np.asarray(encoder.encode(list(task.parts[part].sent1)), dtype=np.float64)
        b = np.asarray(encoder.encode(list(task.parts[part].sent2)), dtype=np.float64)
        out.append((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))
    return np.concatenate(out)


def _mteb_folder(folder, encoder, data_dir, model):
    """One {task}_predictions.json per task, as mteb's AbsTask._save_task_predictions writes
    an STS evaluator's scores."""
    folder.mkdir()
    for name in TASKS:
        cos = _cosines(encoder, data_dir, name)
        scores = {"cosine_scores": cos.tolist(), "manhattan_distances": (-cos).tolist(),
                  "euclidean_distances": (-cos).tolist(), "similarity_scores": cos.tolist()}
        data = {"mteb_model_meta": {"model_name": model, "revision": "r1"},
                "default": {"test": scores}}
        (folder / f"{name}_predictions.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


def _significance(capsys, a, b):
    assert main(["compare", str(a), str(b), "--significance", "--ci", "--resamples", "50",
                 "--format", "json"]) == 0
    tables = json.loads(capsys.readouterr().out)["tables"]
    sig = next(t for t in tables if t["title"] == "Paired significance")["rows"]
    sts = [{k: v for k, v in r.items() if k != "Source"} for r in tables[0]["rows"]]
    return sig, sts


@pytest.mark.slow  # two native runs, three imports, two bootstrapped comparisons (~5 s)
def test_mteb_predictions_and_csv_give_the_native_intervals_and_p(data_dir, tmp_path, capsys):
    enc_a, enc_b = HashEncoder(8), HashEncoder(16)
    native = []
    for enc, name in ((enc_a, "a"), (enc_b, "b")):
        path = tmp_path / f"native-{name}.json"
        bench.evaluate(enc, tasks=TASKS, protocols="all-spearman", data_dir=data_dir,
                       out=path, use_cache=False)
        native.append(path)
    imported = []
    for enc, name in ((enc_a, "a"), (enc_b, "b")):
        folder = _mteb_folder(tmp_path / f"mteb-{name}", enc, data_dir, enc.name)
        out = tmp_path / f"imported-{name}.json"
        assert main(["import-predictions", "--mteb", str(folder), "--protocol",
                     "all-spearman", "--data-dir", str(data_dir), "--out", str(out)]) == 0
        imported.append(out)
    got_native = _significance(capsys, *native)
    got_imported = _significance(capsys, *imported)
    # every delta, interval and p, and each row's numbers and intervals (not its file name)
    assert got_imported == got_native
    assert len(got_native[0]) == 3  # STS12, SICK-R, Avg.

    # the CSV route for model b: the same report numbers
    csv_path = tmp_path / "b.csv"
    lines = ["task,pair,similarity"]
    for name in TASKS:
        lines += [f"{name},{i},{float(v)!r}" for i, v in enumerate(_cosines(enc_b, data_dir, name))]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "csv-b.json"
    assert main(["import-predictions", "--csv", str(csv_path), "--model", enc_b.name,
                 "--protocol", "all-spearman", "--data-dir", str(data_dir),
                 "--out", str(out)]) == 0
    assert _significance(capsys, native[0], out) == got_native


def test_a_prediction_file_of_the_wrong_size_is_one_line(data_dir, tmp_path, capsys):
    folder = tmp_path / "preds"
    folder.mkdir()
    data = {"mteb_model_meta": {"model_name": "m"},
            "default": {"test": {"cosine_scores": [0.5, 0.25]}}}
    (folder / "STSBenchmark_predictions.json").write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "r.json"
    assert main(["import-predictions", "--mteb", str(folder), "--data-dir", str(data_dir),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "2 similarities for STSBenchmark" in err
    assert "1379" in err and not out.exists()


@pytest.mark.parametrize("text, expected", [
    ("task,pair\nSTSBenchmark,0\n", "header must name"),
    ("task,pair,similarity\nSTSBenchmark,0,nan\n", "line 2"),
    ("task,pair,similarity\nSTSBenchmark,0,0.5\nSTSBenchmark,0,0.5\n", "given twice"),
    ("task,pair,similarity\nSTSBenchmark,1,0.5\n", "lacks pair 0"),
])
def test_bad_csv_is_one_line(data_dir, tmp_path, capsys, text, expected):
    path = tmp_path / "p.csv"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "r.json"
    assert main(["import-predictions", "--csv", str(path), "--model", "m", "--data-dir",
                 str(data_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err and not out.exists()


@pytest.mark.parametrize("kind, name, content, expected", [
    ("csv", "p.csv", b"task,pair,similarity\nSTS-B,0,\xff\xfe\n", "not valid utf-8"),
    ("csv", "folder", None, "no such file"),
    ("csv", "p.csv", b"task,pair,similarity\nSTS-B,0,0.5\nSTSBenchmark,0,0.5\n",
     "STSBenchmark is given twice"),
    ("mteb", "STS12_predictions.json", b'{"default": NaN}', "not readable as JSON"),
    ("mteb", "STS12_predictions.json", b'{"default": {"test": {}}, "default": {}}',
     "appears twice")])
def test_unreadable_prediction_files_are_one_line(data_dir, tmp_path, capsys, kind, name,
                                                  content, expected):
    """Bytes that are not text, a folder, one task under two names, JSON that is not strict:
    one line naming the file, no traceback, nothing written."""
    path = tmp_path / name
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    out = tmp_path / "r.json"
    args = ["--csv", str(path), "--model", "m"] if kind == "csv" else ["--mteb", str(tmp_path)]
    assert main(["import-predictions", *args, "--data-dir", str(data_dir),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err and not out.exists(), err
