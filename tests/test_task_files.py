"""STS task files: a user's own data through bench run (every protocol, the regressor),
compare --ci --significance and bench.evaluate; bad files give one line and write nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import bench
from bench.cli import main
from bench.errors import DataError
from bench.tasks.registry import tasks, unregister
from bench.tasks.taskfile import parse_task_file
from tests.helpers import HashEncoder

HEADER = ("sentence1", "sentence2", "score")


def _stsb_rows(data_dir: Path, start: int, stop: int) -> list[tuple[str, str, str]]:
    lines = (data_dir / "STS/STSBenchmark/sts-train.csv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in lines.splitlines()[start:stop]]
    return [(r[5], r[6], r[4]) for r in rows]


def _write_tsv(path: Path, rows) -> None:
    path.write_text("\n".join("\t".join(r) for r in [HEADER, *rows]) + "\n", encoding="utf-8")


TOML = """name = "{name}"
format = "tsv"
sentence1 = "sentence1"
sentence2 = "sentence2"
score = "score"
score_range = [0, 5]
train = "train"
dev = "dev"
evaluate = "test"
citation = "made in the test from STS-B train pairs"
[files]
train = "train.tsv"
dev = "dev.tsv"
test = "test.tsv"
"""


@pytest.fixture
def user_task(data_dir, tmp_path):
    """A three-split STS set in tmp_path/mysts/ (slices of STS-B train), unregistered after."""
    folder = tmp_path / "mysts"
    folder.mkdir()
    for split, (a, b) in {"train": (0, 120), "dev": (120, 180), "test": (180, 260)}.items():
        _write_tsv(folder / f"{split}.tsv", _stsb_rows(data_dir, a, b))
    (folder / "my.toml").write_text(TOML.format(name="MySTS"), encoding="utf-8")
    yield folder / "my.toml"
    for name in [n for n, m in tasks().items() if m.origin is not None]:
        unregister(name)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _reference_spearman(encoder, rows) -> float:
    """Cosine Spearman in points, computed here with numpy/scipy, not with bench's scorer."""
    a = encoder.encode([" ".join(r[0].split()) for r in rows]).astype(np.float64)
    b = encoder.encode([" ".join(r[1].split()) for r in rows]).astype(np.float64)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return 100 * stats.spearmanr(cos, [float(r[2]) for r in rows])[0]


@pytest.mark.slow
def test_task_file_runs_through_run_compare_and_evaluate(user_task, tiny_bert, data_dir,
                                                         tmp_path, capsys):
    folder = user_task.parent
    reports = []
    for pooler in ("avg", "cls"):
        out = tmp_path / f"{pooler}.json"
        assert main(["run", "--model", str(tiny_bert), "--pooler", pooler, "--task-file",
                     str(user_task), "--protocol", "every", "--out", str(out), "--quiet",
                     "--cache-dir", str(tmp_path / "cache")]) == 0
        reports.append(out)
    data = json.loads(reports[0].read_text())
    values = {s["protocol"]["key"]: s["values"] for s in data["scores"]}
    assert len(values) == 12 and all(set(v) == {"MySTS"} for v in values.values())
    task = data["tasks"]["MySTS"]
    assert task["regression"] is not None and task["eval_parts"] == ["test"]
    assert task["regression"]["label_fix"] is True  # classes span the declared score range
    assert task["files"] == {f"MySTS:{n}": _sha(folder / n)
                             for n in ("my.toml", "train.tsv", "dev.tsv", "test.tsv")}
    assert data["data"]["status"] == dict.fromkeys(task["files"], "unverified-unknown")
    assert data["data"]["verified"] is False  # digested, but no manifest vouches for them
    capsys.readouterr()
    assert main(["compare", *map(str, reports), "--ci", "--significance"]) == 0
    printed = capsys.readouterr().out
    assert "MySTS" in printed and "Paired significance" in printed

    encoder = HashEncoder(dim=16)
    report = bench.evaluate(encoder, task_files=[user_task], protocols="every",
                            cache_dir=tmp_path / "cache2")
    assert set(report.tasks) == {"MySTS"}
    got = {s.protocol.key: s.values["MySTS"] for s in report.scores}
    expected = _reference_spearman(encoder, _stsb_rows(data_dir, 180, 260))
    assert got["all-spearman"] == pytest.approx(expected, abs=1e-9)
    assert "all-spearman-reg" in got
    assert report.tasks["MySTS"].files["MySTS:test.tsv"] == _sha(folder / "test.tsv")


def test_subsets_make_mean_and_wmean_differ(data_dir, tmp_path, user_task):
    folder = tmp_path / "subsets"
    folder.mkdir()
    parts = {"forum": _stsb_rows(data_dir, 0, 30), "news": _stsb_rows(data_dir, 30, 100)}
    for name, rows in parts.items():
        (folder / f"{name}.csv").write_text(
            "score,sentence1,sentence2\n" + "".join(
                f'{r[2]},"{r[0].replace(chr(34), 2 * chr(34))}","{r[1].replace(chr(34), 2 * chr(34))}"\n'
                for r in rows), encoding="utf-8")
    (folder / "sub.toml").write_text(
        'name = "SubSTS"\nformat = "csv"\nsentence1 = "sentence1"\nsentence2 = "sentence2"\n'
        'score = "score"\nscore_range = [0, 5]\nevaluate = ["forum", "news"]\n'
        '[files]\nforum = "forum.csv"\nnews = "news.csv"\n', encoding="utf-8")
    encoder = HashEncoder(dim=16)
    report = bench.evaluate(encoder, task_files=[folder / "sub.toml"],
                            protocols="mean-spearman,wmean-spearman", use_cache=False)
    got = {s.protocol.key: s.values["SubSTS"] for s in report.scores}
    per = [_reference_spearman(encoder, rows) for rows in parts.values()]
    assert got["mean-spearman"] == pytest.approx(np.mean(per), abs=1e-9)
    assert got["wmean-spearman"] == pytest.approx(np.average(per, weights=[30, 70]), abs=1e-9)


def test_jsonl_and_header_less_tsv_read_the_same_pairs(data_dir, tmp_path, user_task):
    rows = _stsb_rows(data_dir, 0, 40)
    (tmp_path / "p.jsonl").write_text("".join(
        json.dumps({"a": r[0], "b": r[1], "y": float(r[2])}) + "\n" for r in rows))
    (tmp_path / "p.tsv").write_text("".join(f"{r[2]}\t{r[0]}\t{r[1]}\n" for r in rows))
    (tmp_path / "j.toml").write_text('name = "J"\nformat = "jsonl"\nsentence1 = "a"\n'
                                     'sentence2 = "b"\nscore = "y"\nscore_range = [0, 5]\n'
                                     '[files]\ntest = "p.jsonl"\n')
    (tmp_path / "t.toml").write_text('name = "T"\nformat = "tsv"\nheader = false\n'
                                     'sentence1 = 1\nsentence2 = 2\nscore = 0\n'
                                     'score_range = [0, 5]\n[files]\ntest = "p.tsv"\n')
    loaded = [parse_task_file(tmp_path / f).load(data_dir) for f in ("j.toml", "t.toml")]
    for task in loaded:
        part = task.parts["test"]
        assert part.sent1 == tuple(" ".join(r[0].split()) for r in rows)
        assert part.sent2 == tuple(" ".join(r[1].split()) for r in rows)
        assert part.gold.tolist() == [float(r[2]) for r in rows]


def test_tasks_dir_and_env_make_the_task_nameable(user_task, tmp_path, monkeypatch):
    report = bench.evaluate(HashEncoder(), tasks="MySTS", tasks_dir=user_task.parent,
                            protocols="all-spearman", use_cache=False)
    assert set(report.tasks) == {"MySTS"}
    unregister("MySTS")
    monkeypatch.setenv("BENCH_TASKS_DIR", str(user_task.parent))
    report = bench.evaluate(HashEncoder(), tasks="user", protocols="all-spearman",
                            use_cache=False)
    assert set(report.tasks) == {"MySTS"}
    assert "MySTS" not in bench.tasks.registry.set_names()["sts"]  # "sts" stays the paper's


def _bad(folder: Path, case: str) -> tuple[Path, str]:
    """A broken variant of the user task; returns (task file, expected message part)."""
    toml = folder / "my.toml"
    test = folder / "test.tsv"
    lines = test.read_text(encoding="utf-8").splitlines()
    if case == "ragged":
        lines[5] = lines[5] + "\textra"
        test.write_text("\n".join(lines) + "\n")
        return toml, f"{test}:6: 4 tsv columns, expected 3"
    if case == "range":
        cols = lines[3].split("\t")
        test.write_text("\n".join([*lines[:3], "\t".join([*cols[:2], "5.5"]), *lines[4:]]))
        return toml, f"{test}:4: column 'score': score '5.5' outside the declared range [0, 5]"
    if case == "empty-sentence":
        cols = lines[2].split("\t")
        test.write_text("\n".join([*lines[:2], "\t".join([cols[0], "  ", cols[2]]), *lines[3:]]))
        return toml, f"{test}:3: column 'sentence2': empty sentence"
    if case == "empty-file":
        test.write_text("sentence1\tsentence2\tscore\n")
        return toml, f"{test}: no sentence pairs (empty file)"
    if case == "format":
        toml.write_text(toml.read_text().replace('"tsv"', '"xlsx"'))
        return toml, f"{toml}: unknown format 'xlsx'; valid: tsv, csv, jsonl"
    if case == "duplicate":
        other = folder / "other.toml"
        other.write_text(toml.read_text())
        return other, f"{other}: task 'MySTS' is already registered (by {toml})"
    if case == "builtin-name":
        toml.write_text(toml.read_text().replace('"MySTS"', '"STSBenchmark"'))
        return toml, f"{toml}: task 'STSBenchmark' is already registered (a built-in task)"
    if case == "regressor-subsets":
        toml.write_text(toml.read_text().replace('evaluate = "test"', 'evaluate = ["test", "x"]')
                        .replace('test = "test.tsv"', 'test = "test.tsv"\nx = "test.tsv"'))
        return toml, f"{toml}: with train and dev, 'evaluate' names one test part"
    if case == "missing-part":
        toml.write_text(toml.read_text().replace('evaluate = "test"', 'evaluate = "tst"'))
        return toml, f"{toml}: evaluate part 'tst' is not in [files]"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["ragged", "range", "empty-sentence", "empty-file", "format",
                                  "duplicate", "builtin-name", "missing-part",
                                  "regressor-subsets"])
def test_bad_task_files_give_one_line_and_write_nothing(user_task, tmp_path, capsys, case):
    bad, message = _bad(user_task.parent, case)
    out, cache = tmp_path / "report.json", tmp_path / "cache"
    files = [str(user_task), str(bad)] if case == "duplicate" else [str(bad)]
    argv = ["run", "--model", "minilm-avg", "--out", str(out), "--quiet", "--cache-dir",
            str(cache)]
    for f in files:
        argv += ["--task-file", f]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("bench: error: ")
    assert message in err, err
    assert not out.exists() and not cache.exists()


def test_task_file_errors_are_data_errors(tmp_path):
    (tmp_path / "x.toml").write_text('name = "X"\nformat = "tsv"\n')
    with pytest.raises(DataError, match=r"x.toml: task file needs 'sentence1'"):
        parse_task_file(tmp_path / "x.toml")
