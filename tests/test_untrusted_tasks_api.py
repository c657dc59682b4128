"""Untrusted input through task files and the Python API: what cannot be scored is refused in
one line naming file, line and field (before any encoding, nothing written); what can be
scored gives the number its data supports; no machine path goes into a report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import bench
from bench.cli import main
from bench.errors import BenchError, DataError, ModelError
from bench.tasks.registry import tasks, unregister
from bench.tasks.taskfile import parse_task_file

TOY = Path(__file__).parent / "data" / "tasks"
HEADER = "sentence1\tsentence2\tscore"
ROWS = ["a man plays a guitar\ta man plays music\t4.2",
        "a dog runs in a park\ta cat sleeps on a sofa\t0.4",
        "two kids ride bikes\tchildren are riding bicycles\t4.8",
        "a woman cuts onions\ta woman is slicing an onion\t4.5",
        "the sky is blue\tstocks fell on monday\t0.0"]


def _toml(name: str = "MySTS", files: str = 'test = "test.tsv"', fmt: str = "tsv",
          score_range: str = "[0, 5]") -> str:
    return (f'name = "{name}"\nformat = "{fmt}"\nsentence1 = "sentence1"\n'
            f'sentence2 = "sentence2"\nscore = "score"\nscore_range = {score_range}\n'
            f"[files]\n{files}\n")


@pytest.fixture(autouse=True)
def _unregister_task_files():
    yield
    for name in [n for n, m in tasks().items() if m.origin is not None]:
        unregister(name)


def _task(folder: Path, rows: list[str] = ROWS, **toml: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.tsv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    (folder / "my.toml").write_text(_toml(**toml), encoding="utf-8")
    return folder / "my.toml"


def _hash_vectors(sentences: list[str]) -> np.ndarray:
    """Deterministic vectors that need no model: 8 bytes of each sentence's hash."""
    import hashlib

    return np.array([[b / 255 for b in hashlib.sha256(s.encode()).digest()[:8]]
                     for s in sentences])


def _refused(argv_files: list[Path], tmp_path: Path, capsys) -> str:
    """Run the CLI on task files that must be refused; return the one error line."""
    out, cache = tmp_path / "report.json", tmp_path / "cache"
    argv = ["run", "--model", "glove-avg", "--out", str(out), "--quiet", "--cache-dir",
            str(cache)]
    for f in argv_files:
        argv += ["--task-file", str(f)]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("bench: error: "), err
    assert not out.exists() and not cache.exists()
    return err


# ------------------------------------------------------------------ 1. no machine path


def test_absolute_data_paths_leave_no_machine_path_in_the_report(tmp_path):
    inside = _task(tmp_path / "tf")
    outside = tmp_path / "elsewhere" / "pairs.tsv"
    outside.parent.mkdir()
    outside.write_text((inside.parent / "test.tsv").read_text(encoding="utf-8"),
                       encoding="utf-8")
    (inside.parent / "sub").mkdir()
    (inside.parent / "sub" / "dev.tsv").write_text(outside.read_text(encoding="utf-8"),
                                                    encoding="utf-8")
    inside.write_text(_toml(files=f'test = "{outside}"\nx = "{inside.parent / "sub/dev.tsv"}"')
                      .replace("[files]", 'evaluate = ["test", "x"]\n[files]'),
                      encoding="utf-8")
    out = tmp_path / "out" / "r.json"
    bench.evaluate(_hash_vectors, task_files=[inside], protocols="all-spearman",
                   use_cache=False, out=out)
    written = [p for p in out.parent.iterdir()]
    assert {p.name for p in written} == {"r.json", "r.pairs.npz"}
    for path in written:
        assert str(tmp_path).encode() not in path.read_bytes(), path.name
    sums = json.loads(out.read_text())["data"]["sha256"]
    assert set(sums) == {"MySTS:my.toml", "MySTS:pairs.tsv", "MySTS:sub/dev.tsv"}


# ------------------------------------------------------------------ 2. what cannot be scored


def test_a_name_with_a_slash_is_refused(tmp_path, capsys):
    toml = _task(tmp_path / "t", name="my/sts")
    err = _refused([toml], tmp_path, capsys)
    assert f"{toml}: 'name': task name 'my/sts' must be 1-64 ASCII letters" in err


@pytest.mark.parametrize("name", ["sts", "STS", "every", "user", "transfer", "all"])
def test_a_task_named_like_a_set_is_refused(tmp_path, capsys, name):
    toml = _task(tmp_path / "t", name=name)
    err = _refused([toml], tmp_path, capsys)
    assert f"{toml}: task {name!r}: name or alias {name!r} is the name of a task set" in err


def test_constant_gold_is_refused_naming_file_and_column(tmp_path, capsys):
    rows = [r.rsplit("\t", 1)[0] + "\t2.5" for r in ROWS]
    toml = _task(tmp_path / "t", rows)
    err = _refused([toml], tmp_path, capsys)
    assert f"{toml.parent / 'test.tsv'}: column 'score': every gold score is 2.5" in err


@pytest.mark.parametrize("n", [1, 2])
def test_fewer_than_three_pairs_are_refused(tmp_path, capsys, n):
    toml = _task(tmp_path / "t", ROWS[:n])
    err = _refused([toml], tmp_path, capsys)
    assert f"{toml.parent / 'test.tsv'}: {n} sentence pair(s); a part needs at least 3" in err


def test_three_pairs_are_scored_as_scipy_scores_them(tmp_path):
    from scipy import stats

    toml = _task(tmp_path / "t", ROWS[:3])
    report = bench.evaluate(_hash_vectors, task_files=[toml], protocols="all-spearman",
                            use_cache=False)
    a = _hash_vectors([r.split("\t")[0] for r in ROWS[:3]])
    b = _hash_vectors([r.split("\t")[1] for r in ROWS[:3]])
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    gold = [float(r.split("\t")[2]) for r in ROWS[:3]]
    assert report.scores[0].values["MySTS"] == pytest.approx(
        100 * stats.spearmanr(cos, gold)[0], abs=1e-9)


@pytest.mark.parametrize("score_range", ["[-inf, inf]", "[0, inf]", "[nan, 5]", "[5, 5]"])
def test_score_range_must_be_finite_and_increasing(tmp_path, score_range):
    toml = _task(tmp_path / "t", score_range=score_range)
    with pytest.raises(DataError, match=r"'score_range' must be \[low, high\], two finite"):
        parse_task_file(toml)


def test_a_tsv_sentence_over_128_kib_is_read_whole(tmp_path):
    long = " ".join(["word"] * 40_000)  # 200 KB, past csv's default field limit
    toml = _task(tmp_path / "t", [f"{long}\tshort one\t1.0", *ROWS[1:]])
    task = parse_task_file(toml).load(tmp_path)
    assert task.parts["test"].sent1[0] == long
    import csv

    assert csv.field_size_limit() == 131072  # put back as it was


def test_jsonl_duplicate_keys_are_refused_naming_line(tmp_path, capsys):
    folder = tmp_path / "t"
    folder.mkdir()
    lines = [json.dumps({"sentence1": r.split("\t")[0], "sentence2": r.split("\t")[1],
                         "score": float(r.split("\t")[2])}) for r in ROWS]
    lines[2] = lines[2][:-1] + ', "score": 0.1}'
    (folder / "test.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "my.toml").write_text(_toml(fmt="jsonl", files='test = "test.jsonl"'),
                                    encoding="utf-8")
    err = _refused([folder / "my.toml"], tmp_path, capsys)
    assert f"{folder / 'test.jsonl'}:3: key 'score' appears twice" in err


@pytest.mark.parametrize("field,value,message", [
    ("sentence1", 5, "column 'sentence1': expected a string, got int"),
    ("score", True, "column 'score': score True is not a number")])
def test_jsonl_values_of_the_wrong_kind_are_refused(tmp_path, field, value, message):
    folder = tmp_path / "t"
    folder.mkdir()
    rows = [{"sentence1": r.split("\t")[0], "sentence2": r.split("\t")[1],
             "score": float(r.split("\t")[2])} for r in ROWS]
    rows[1][field] = value
    (folder / "test.jsonl").write_text("\n".join(map(json.dumps, rows)), encoding="utf-8")
    (folder / "my.toml").write_text(_toml(fmt="jsonl", files='test = "test.jsonl"'),
                                    encoding="utf-8")
    with pytest.raises(DataError, match=f"test.jsonl:2: {message}"):
        parse_task_file(folder / "my.toml").load(tmp_path)


# ------------------------------------------------------------------ more hostile files


def test_a_byte_order_mark_and_crlf_read_as_plain_utf8(tmp_path):
    toml = _task(tmp_path / "t")
    data = toml.parent / "test.tsv"
    data.write_bytes(b"\xef\xbb\xbf" + data.read_bytes().replace(b"\n", b"\r\n"))
    toml.write_bytes(b"\xef\xbb\xbf" + toml.read_bytes())
    task = parse_task_file(toml).load(tmp_path)
    assert task.parts["test"].sent2 == tuple(r.split("\t")[1] for r in ROWS)
    assert task.parts["test"].gold.tolist() == [float(r.split("\t")[2]) for r in ROWS]


def test_a_nul_byte_is_refused_naming_its_line(tmp_path):
    toml = _task(tmp_path / "t", [*ROWS[:3], "a\0b\tc\t1", *ROWS[3:]])
    with pytest.raises(DataError, match=r"test.tsv:5: NUL byte"):
        parse_task_file(toml).load(tmp_path)


@pytest.mark.parametrize("kind", ["folder", "fifo", "device"])
def test_a_data_path_that_is_no_regular_file_is_refused(tmp_path, kind):
    target = {"folder": tmp_path / "dir", "fifo": tmp_path / "fifo",
              "device": Path("/dev/zero")}[kind]
    if kind == "folder":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    toml = _task(tmp_path / "t", files=f'test = "{target}"')
    with pytest.raises(DataError, match=f"{target}: not a regular file"):
        parse_task_file(toml).load(tmp_path)


def test_a_data_file_past_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    import bench.data.records as records

    toml = _task(tmp_path / "t")
    size = (toml.parent / "test.tsv").stat().st_size
    monkeypatch.setattr(records, "MAX_FILE_BYTES", size - 1)
    with pytest.raises(DataError, match=f"test.tsv: {size} bytes, more than"):
        parse_task_file(toml).load(tmp_path)


# ------------------------------------------------------------------ 3. over-long inputs


def _reference_avg(folder: Path, text: str, max_length: int) -> np.ndarray:
    """Masked mean of the last layer over the first ``max_length`` tokens, with transformers
    directly (not through bench)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder)
    inputs = tok([text], truncation=True, max_length=max_length, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**inputs).last_hidden_state
    mask = inputs["attention_mask"].unsqueeze(-1).float()
    return ((hidden * mask).sum(1) / mask.sum(1)).numpy()


def test_an_over_long_input_is_truncated_to_the_model_limit(tiny_bert):
    from bench.encoders.transformer import TransformerEncoder

    long = " ".join(f"word{i % 50} and" for i in range(20_000))  # ~190 KB, ~60k tokens
    encoder = TransformerEncoder(str(tiny_bert), "avg")
    got = encoder.encode([long, "a short one"], batch_size=2)
    # 512: the tiny BERT's max_position_embeddings (tests.helpers.TINY_BERT_CONFIG)
    np.testing.assert_allclose(got[:1], _reference_avg(tiny_bert, long, 512), atol=1e-5)
    np.testing.assert_allclose(got[1:], _reference_avg(tiny_bert, "a short one", 512),
                               atol=1e-5)


def test_the_truncation_limit_is_recorded_in_the_report(tiny_bert):
    toml = TOY / "toy-sts.toml"
    common = {"task_files": [toml], "pooler": "avg", "protocols": "all-spearman",
              "use_cache": False}
    own = bench.evaluate(str(tiny_bert), **common).model.extra["truncation"]
    told = bench.evaluate(str(tiny_bert), max_length=16, **common).model.extra["truncation"]
    assert (own["max_tokens"], own["from"]) == (512, "model")
    assert (told["max_tokens"], told["from"]) == (16, "max_length")


# ------------------------------------------------------------------ 4. the Python API


def _strings(batch):
    return [["x", "y"] for _ in batch]


def _complex(batch):
    return np.ones((len(batch), 4)) + 1j


def _ragged(batch):
    return [[1.0] * (i % 3 + 1) for i in range(len(batch))]


class _Growing:
    """A dimension that changes from one batch to the next."""

    def __init__(self) -> None:
        self.dim = 3

    def __call__(self, batch):
        self.dim += 1
        return np.random.default_rng(self.dim).standard_normal((len(batch), self.dim))


@pytest.mark.parametrize("encoder,message", [
    (_strings, "model 'enc' returned <U1 values for 16 sentences; expected real numbers"),
    (_complex, "model 'enc' returned complex128 values for 16 sentences; expected real"),
    (_ragged, "model 'enc' returned no rectangular array for 16 sentences"),
    (_Growing(), "model 'enc' returned vectors of dimension 5 after vectors of dimension 4")])
def test_bad_encoder_outputs_give_one_line_naming_the_model(encoder, message):
    with pytest.raises(ModelError) as info:
        bench.evaluate(encoder, task_files=[TOY / "toy-sts.toml"], protocols="all-spearman",
                       use_cache=False, batch_size=16, name="enc")
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("option,value,api,cli", [
    ("batch_size", 0, "batch_size must be a positive integer, got 0",
     "--batch-size must be a positive integer, got 0"),
    ("max_length", 0, "max_length must be a positive number of tokens, got 0",
     "--max-length must be a positive number of tokens, got 0"),
    ("jobs", 0, "jobs must be at least 1, got 0", "--jobs must be at least 1, got 0"),
    ("precision", "fp23", "precision: unknown value 'fp23'; valid: fp32, bf16, fp16", None),
    ("dtype", "float32", "dtype: unknown value 'float32'; valid: fp32, bf16, fp16", None)])
def test_api_and_cli_refuse_the_same_options(option, value, api, cli, tmp_path, capsys):
    with pytest.raises(BenchError) as info:
        bench.evaluate(_hash_vectors, task_files=[TOY / "toy-sts.toml"], use_cache=False,
                       protocols="all-spearman", **{option: value})
    assert str(info.value) == api
    if cli is not None:  # argparse's choices refuse the other two before bench sees them
        capsys.readouterr()
        out = tmp_path / "r.json"
        assert main(["run", "--model", "glove-avg", "--task-file", str(TOY / "toy-sts.toml"),
                     "--out", str(out), f"--{option.replace('_', '-')}", str(value)]) == 2
        assert capsys.readouterr().err.strip() == f"bench: error: {cli}"
        assert not out.exists()


def test_a_column_named_twice_in_the_header_is_refused(tmp_path):
    toml = _task(tmp_path / "t")
    lines = [HEADER + "\tscore", *(r + "\t1" for r in ROWS)]
    (toml.parent / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"test.tsv:1: column 'score' appears twice"):
        parse_task_file(toml).load(tmp_path)


def test_an_oversized_task_file_is_refused_unread(tmp_path):
    toml = _task(tmp_path / "t")
    with open(toml, "a", encoding="utf-8") as f:
        f.write("#" * (1 << 20) + "\n")
    with pytest.raises(DataError, match=r"my.toml: \d+ bytes; a task file is a few lines"):
        parse_task_file(toml)


@pytest.mark.parametrize("name", ["a/b", "../up", "<b>", "sts"])
def test_a_task_registered_in_code_obeys_the_same_names(name):
    from bench.data.sts import ColumnsReader
    from bench.tasks.registry import TaskMetadata, register

    meta = TaskMetadata(name=name, family="sts", reader=ColumnsReader((), 0, 1, 2))
    with pytest.raises(DataError, match=repr(name)):
        register(meta)
    assert name not in tasks()
