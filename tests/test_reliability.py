"""Integrity checks that always apply, no silent NaN, no lost results, one line per fault.

Each test here failed on the code before issue 11 (see the issue for the cases) and locks
the fix in. They run on one small STS year (STS13, 1500 pairs) with HashEncoder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

import bench.reports
import bench.runner
from bench.cache import EmbeddingCache
from bench.cli import main
from bench.encoders.glove import GloveAverageEncoder
from bench.encoders.registry import EncoderOptions, resolve
from bench.errors import BenchError, ModelError
from bench.protocols import parse_protocols
from bench.runner import RunConfig, run
from bench.tasks.registry import load_sts_task
from tests.helpers import HashEncoder

STS13 = Path("STS") / "STS13-en-test"


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.fixture
def hash_model(monkeypatch):
    """``--model`` resolves to a HashEncoder (fast, and it counts its calls)."""
    enc = HashEncoder()
    monkeypatch.setattr(bench.runner, "resolve", lambda name, options: enc)
    return enc


@pytest.fixture
def renamed_copy(data_dir, tmp_path) -> Path:
    """STS13 in a data folder that is not called ``downstream``."""
    root = tmp_path / "senteval-2024"
    shutil.copytree(data_dir / STS13, root / STS13)
    return root


def sts13_config(data_dir: Path, **kw) -> RunConfig:
    return RunConfig(model="fake", protocols=parse_protocols("simcse"), tasks=["STS13"],
                     data_dir=str(data_dir), show_progress=False, **kw)


def strict_json(path: Path) -> dict:
    def refuse(token: str):
        raise AssertionError(f"{path}: non-standard JSON token {token}")
    return json.loads(path.read_text(), parse_constant=refuse)


# 1. verification does not depend on the folder's name ------------------------------------

def flip_one_byte(path: Path) -> None:
    """Change one gold score digit: the file still parses, only its checksum differs."""
    data = bytearray(path.read_bytes())
    i = next(i for i, b in enumerate(data) if chr(b).isdigit() and chr(b) != "5")
    data[i] = ord("5")
    path.write_bytes(bytes(data))


def test_modified_file_is_caught_under_any_folder_name(renamed_copy, tmp_path, hash_model,
                                                       capsys):
    target = renamed_copy / STS13 / "STS.gs.FNWN.txt"
    flip_one_byte(target)
    code = main(["run", "--model", "fake", "--tasks", "STS13", "--data-dir", str(renamed_copy),
                 "--out", str(tmp_path / "r.json"), "--quiet"])
    line = one_error_line(capsys)
    assert code == 2 and "checksum mismatch" in line and str(target) in line
    assert hash_model.calls == 0 and not (tmp_path / "r.json").exists()


def test_renamed_folder_is_verified_and_the_report_says_so(renamed_copy, tmp_path):
    report = run(sts13_config(renamed_copy), encoder=HashEncoder())
    data = report.data
    assert data["verified"] is True and len(data["status"]) == 6
    assert set(data["status"].values()) == {"verified"}
    assert "STS/STS13-en-test/STS.gs.FNWN.txt" in data["sha256"]
    assert sorted(report.tasks["STS13"].files) == sorted(data["sha256"])


def test_data_verify_works_on_a_folder_of_any_name(renamed_copy, capsys):
    flip_one_byte(renamed_copy / STS13 / "STS.gs.OnWN.txt")
    assert main(["data", "verify", "--data-dir", str(renamed_copy)]) == 2
    captured = capsys.readouterr()
    mismatched = [ln for ln in captured.out.splitlines() if ln.startswith("mismatch")]
    assert len(mismatched) == 1 and mismatched[0].endswith("STS.gs.OnWN.txt")
    assert "6/83 files verified" in captured.out  # 7 STS13 files, one changed
    assert "1 corrupt" in captured.err


def test_file_unknown_to_the_manifest_is_unverified(data_dir, monkeypatch, capsys, tmp_path,
                                                    hash_model):
    from bench.data import manifest

    full = manifest.load_manifest()
    dropped = "STS/STS13-en-test/STS.input.FNWN.txt"
    monkeypatch.setattr(manifest, "load_manifest",
                        lambda: {k: v for k, v in full.items() if k != dropped})
    out = tmp_path / "r.json"
    assert main(["run", "--model", "fake", "--tasks", "STS13", "--data-dir", str(data_dir),
                 "--out", str(out), "--quiet"]) == 0
    data = strict_json(out)["data"]
    assert data["verified"] is False and data["status"][dropped] == "unverified-unknown"
    assert sum(s == "verified" for s in data["status"].values()) == 5
    printed = capsys.readouterr().out
    assert "data: UNVERIFIED, 1 of 6 files" in printed and dropped in printed


def test_skip_verify_warns_once_and_marks_the_report(renamed_copy, tmp_path, hash_model,
                                                     capsys):
    flip_one_byte(renamed_copy / STS13 / "STS.gs.FNWN.txt")
    out = tmp_path / "r.json"
    assert main(["run", "--model", "fake", "--tasks", "STS13", "--data-dir", str(renamed_copy),
                 "--out", str(out), "--quiet", "--skip-verify"]) == 0
    captured = capsys.readouterr()
    warnings = [ln for ln in captured.err.splitlines() if "--skip-verify" in ln]
    assert len(warnings) == 1
    assert "UNVERIFIED" in captured.out
    data = strict_json(out)["data"]
    assert data["verified"] is False and data["verify_requested"] is False
    assert data["status"]["STS/STS13-en-test/STS.gs.FNWN.txt"] == "mismatch"


# 2. zero and non-finite vectors -------------------------------------------------------------

def _is_odd(sentence: str) -> bool:
    return hashlib.sha1(sentence.encode()).digest()[0] % 2 == 1


class ZeroForSomeEncoder(HashEncoder):
    """Zero vectors for the sentences whose sha1 starts with an odd byte (about half)."""

    def encode(self, sentences, batch_size=64):
        out = super().encode(sentences, batch_size)
        out[[_is_odd(s) for s in sentences]] = 0.0
        return out


class AllZeroEncoder(HashEncoder):
    def encode(self, sentences, batch_size=64):
        return np.zeros((len(sentences), self.dim), dtype=np.float32)


class NanForSomeEncoder(HashEncoder):
    def encode(self, sentences, batch_size=64):
        out = super().encode(sentences, batch_size)
        out[[_is_odd(s) for s in sentences], 0] = np.nan
        return out


def test_zero_vectors_are_counted_and_score_as_cosine_zero(data_dir):
    report = run(sts13_config(data_dir, use_cache=False), encoder=ZeroForSomeEncoder())
    sentences = set(load_sts_task(data_dir, "STS13").sentences())
    assert report.run["zero_vectors"] == sum(_is_odd(s) for s in sentences)
    # cosine of a pair with a zero vector is 0 (SentEval's fork: nan_to_num)
    fnwn = report.tasks["STS13"].parts["FNWN"]
    task = load_sts_task(data_dir, "STS13").parts["FNWN"]
    zero_pairs = [i for i, (a, b) in enumerate(zip(task.sent1, task.sent2))
                  if _is_odd(a) or _is_odd(b)]
    assert zero_pairs and all(fnwn.sim[i] == 0.0 for i in zero_pairs)
    assert np.isfinite(report.scores[0].average.value)


def test_all_zero_vectors_give_strict_json_and_say_nan(data_dir, tmp_path, monkeypatch,
                                                       capsys):
    monkeypatch.setattr(bench.runner, "resolve", lambda name, options: AllZeroEncoder())
    out = tmp_path / "r.json"
    assert main(["run", "--model", "zeros", "--tasks", "STS13", "--data-dir", str(data_dir),
                 "--out", str(out), "--quiet", "--no-cache"]) == 0
    report = strict_json(out)
    assert report["scores"][0]["values"]["STS13"] is None  # a computed NaN, not missing
    printed = capsys.readouterr().out
    assert "nan" in printed and "zero vectors:" in printed and "nan:" in printed


def test_non_finite_vectors_are_an_error_and_never_cached(data_dir, tmp_path):
    enc = NanForSomeEncoder()
    sentences = set(load_sts_task(data_dir, "STS13").sentences())
    bad = sum(_is_odd(s) for s in sentences)
    with pytest.raises(ModelError) as info:
        run(sts13_config(data_dir, cache_dir=str(tmp_path / "cache")), encoder=enc)
    assert f"'{enc.name}'" in str(info.value) and f"for {bad} of {len(sentences)}" in str(
        info.value)
    cache = EmbeddingCache(tmp_path / "cache", enc.fingerprint)
    assert len(cache) == len(sentences) - bad  # the finite ones are kept, NaN ones never
    assert np.isfinite(cache.get([s for s in sentences if not _is_odd(s)])).all()


def test_non_finite_vectors_give_one_line(data_dir, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(bench.runner, "resolve", lambda name, options: NanForSomeEncoder())
    code = main(["run", "--model", "nan", "--tasks", "STS13", "--data-dir", str(data_dir),
                 "--out", str(tmp_path / "r.json"), "--quiet", "--no-cache"])
    assert code == 2 and "non-finite" in one_error_line(capsys)
    assert not (tmp_path / "r.json").exists()


# 3. corrupt cache chunks ---------------------------------------------------------------------

def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _damage(path: Path) -> None:
    """Keep the zip header and directory intact, overwrite bytes of the stored vectors."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 64] = bytes(b ^ 0xFF for b in data[mid:mid + 64])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("spoil", [_truncate, _damage], ids=["truncated", "damaged"])
def test_unreadable_chunk_is_set_aside_and_re_encoded(data_dir, tmp_path, capsys, spoil):
    cache_dir = tmp_path / "cache"
    first = run(sts13_config(data_dir, cache_dir=str(cache_dir)), encoder=HashEncoder())
    chunks = sorted((cache_dir / HashEncoder().fingerprint).glob("chunk-*.npz"))
    assert len(chunks) >= 2
    with np.load(chunks[0]) as f:
        lost = len(f["keys"])
    assert chunks[0].read_bytes()[:2] == b"PK"
    spoil(chunks[0])
    capsys.readouterr()
    again = HashEncoder()
    second = run(sts13_config(data_dir, cache_dir=str(cache_dir)), encoder=again)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(chunks[0]) in err[0] and "unreadable cache chunk" in err[0]
    assert again.encoded == lost
    assert not chunks[0].exists() and chunks[0].with_name(chunks[0].name + ".corrupt").exists()
    assert [s.values for s in second.scores] == [s.values for s in first.scores]
    third = HashEncoder()
    run(sts13_config(data_dir, cache_dir=str(cache_dir)), encoder=third)
    assert third.encoded == 0 and capsys.readouterr().err == ""


def test_cache_that_cannot_be_written_warns_once_and_the_run_goes_on(data_dir, tmp_path,
                                                                      monkeypatch, capsys):
    import bench.cache

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bench.cache, "atomic_open", disk_full)
    enc = HashEncoder()
    reference = run(sts13_config(data_dir, use_cache=False), encoder=HashEncoder())
    report = run(sts13_config(data_dir, cache_dir=str(tmp_path / "cache")), encoder=enc)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left" in err[0] and str(tmp_path / "cache") in err[0]
    assert [s.values for s in report.scores] == [s.values for s in reference.scores]


# 4. results are never lost or overwritten ----------------------------------------------------

class FrozenClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 1, 2, 3, 4, 5, tzinfo=tz)


def test_two_runs_in_the_same_second_keep_both_reports(data_dir, tmp_path, monkeypatch,
                                                       hash_model):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bench.reports, "datetime", FrozenClock)
    for tasks in ("STS13", "STS13"):
        assert main(["run", "--model", "fake", "--tasks", tasks, "--data-dir", str(data_dir),
                     "--quiet"]) == 0
    written = sorted((tmp_path / "reports" / "runs").glob("*.json"))
    assert [p.name for p in written] == ["fake-20260102-030405-2.json",
                                         "fake-20260102-030405.json"]
    assert all(strict_json(p)["kind"] == "run" for p in written)


def test_concurrent_default_paths_are_distinct(tmp_path, monkeypatch):
    monkeypatch.setattr(bench.reports, "datetime", FrozenClock)
    paths: list[Path] = []
    barrier = threading.Barrier(8)

    def write(i: int) -> None:
        barrier.wait()
        paths.append(bench.reports.write_new_report({"kind": "run", "i": i}, "m", tmp_path))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(paths)) == 8 and all(p.exists() for p in paths)
    assert sorted(json.loads(p.read_text())["i"] for p in paths) == list(range(8))
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("case", ["out-is-dir", "parent-is-file", "reports-is-file",
                                  "cache-is-file"])
def test_unwritable_output_is_found_before_encoding(data_dir, tmp_path, monkeypatch, capsys,
                                                    hash_model, case):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    argv = ["run", "--model", "fake", "--tasks", "STS13", "--data-dir", str(data_dir),
            "--quiet"]
    blame = {"out-is-dir": ["--out", str(tmp_path)],
             "parent-is-file": ["--out", str(tmp_path / "afile" / "r.json")],
             "reports-is-file": [],
             "cache-is-file": ["--cache-dir", str(tmp_path / "afile" / "cache"),
                               "--out", str(tmp_path / "r.json")]}[case]
    if case == "reports-is-file":
        (tmp_path / "reports").write_text("x")
    assert main(argv + blame) == 2
    line = one_error_line(capsys)
    named = {"out-is-dir": str(tmp_path), "parent-is-file": "afile",
             "reports-is-file": "reports", "cache-is-file": "afile"}[case]
    assert named in line
    assert hash_model.calls == 0


def test_report_goes_to_a_fallback_when_the_final_write_fails(data_dir, tmp_path, monkeypatch,
                                                              capsys, hash_model):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    def disk_full(report, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bench.reports, "write_report", disk_full)
    out = tmp_path / "r.json"
    assert main(["run", "--model", "fake", "--tasks", "STS13", "--data-dir", str(data_dir),
                 "--out", str(out), "--quiet"]) == 2
    line = one_error_line(capsys)
    spare = Path(line.split("written to ")[1].split(" instead")[0])
    assert str(out) in line and "No space left" in line
    assert spare.parent.parent == tmp_path / "tmp" and list(strict_json(spare)["tasks"]) == ["STS13"]


def test_analyze_checks_its_out_dir_before_encoding(data_dir, tmp_path, capsys, monkeypatch):
    import bench.analysis.compute as compute

    def never(*a, **k):
        raise AssertionError("encoded before the output folder was checked")

    monkeypatch.setattr(compute, "model_tables", never)
    (tmp_path / "afile").write_text("x")
    assert main(["analyze", "spectrum", "--model", "glove-avg", "--data-dir", str(data_dir),
                 "--out-dir", str(tmp_path / "afile" / "sub"), "--quiet"]) == 2
    assert "--out-dir" in one_error_line(capsys)


def test_compare_checks_out_before_reading(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "none.json"), "--out", str(tmp_path)]) == 2
    assert "--out" in one_error_line(capsys)


# 5. devices -------------------------------------------------------------------------------

@pytest.mark.parametrize("device,message", [
    ("gpu", "--device 'gpu' is not a device; valid forms: cpu, cuda, cuda:N, mps"),
    ("cuda:x", "is not a device"),
    ("cuda", "CUDA is not available"),
    ("cuda:1", "CUDA is not available"),
])
def test_device_is_validated_up_front(data_dir, tmp_path, capsys, monkeypatch, hash_model,
                                      device, message):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = main(["run", "--model", "fake", "--tasks", "STS13", "--data-dir", str(data_dir),
                 "--device", device, "--out", str(tmp_path / "r.json"), "--quiet"])
    assert code == 2 and message in one_error_line(capsys)
    assert hash_model.calls == 0


def test_device_checked_by_api_analyze_and_train(data_dir, tmp_path, capsys):
    with pytest.raises(BenchError, match="'gpu' is not a device"):
        run(sts13_config(data_dir, device="gpu"), encoder=HashEncoder())
    assert main(["analyze", "spectrum", "--model", "glove-avg", "--device", "gpu",
                 "--out-dir", str(tmp_path)]) == 2
    assert "'gpu' is not a device" in one_error_line(capsys)
    assert main(["train", "simcse", "--device", "gpu", "--mode", "unsup", "--data", "x",
                 "--backbone", "y", "--name", "z"]) == 2
    assert "'gpu' is not a device" in one_error_line(capsys)


# 6. model names ---------------------------------------------------------------------------

def test_bare_hub_id_reaches_the_hf_loader(monkeypatch):
    import bench.encoders.registry as registry
    import bench.encoders.transformer as transformer

    seen = []

    def fake_load(location, display, dtype="fp32"):
        seen.append(location)
        raise ModelError("stop here")

    monkeypatch.setattr(transformer, "load_hf", fake_load)
    monkeypatch.setattr(registry, "_in_hub_cache", lambda name: True)  # downloaded before
    enc = resolve("bert-base-uncased", EncoderOptions(pooler="cls"))
    assert enc.spec()["model"] == "bert-base-uncased" and enc.spec()["pooler"] == "cls"
    with pytest.raises(ModelError, match="stop here"):
        enc.encode(["x"])
    assert seen == ["bert-base-uncased"]


def test_unknown_bare_name_suggests_recipes():
    with pytest.raises(ModelError) as info:
        resolve("glove-avgg")  # issue 26: no hub look-up for a bare name, suggestions first
    text = str(info.value)
    assert text.startswith("unknown model 'glove-avgg'; did you mean glove-avg")
    assert "bench list models" in text and "\n" not in text


@pytest.mark.parametrize("broken", ["config", "weights"])
def test_local_folder_errors_name_the_folder_without_the_wrong_hint(tmp_path, broken):
    from bench.encoders.packaged import packaged_path

    folder = tmp_path / "my-model"
    shutil.copytree(packaged_path("packaged:all-MiniLM-L6-v2"), folder)
    if broken == "config":
        (folder / "config.json").write_text("{ not json")
    else:
        (folder / "model.safetensors").unlink()
    enc = resolve(str(folder), EncoderOptions(pooler="avg"))
    with pytest.raises(ModelError) as info:
        enc.encode(["x"])
    text = str(info.value)
    assert str(folder) in text and "no local folder of that name" not in text


def test_glove_840b_words_with_spaces(tmp_path):
    vectors = tmp_path / "glove.840B-like.txt"
    vectors.write_text("the 1 0 0\n. . . 0 1 0\nat name@domain.com 0 0 2\ncat 0 0 1\n",
                       encoding="utf-8")
    enc = GloveAverageEncoder(str(vectors))
    vocab, matrix = enc._table
    assert list(vocab) == ["the", ". . .", "at name@domain.com", "cat"]
    np.testing.assert_array_equal(matrix[vocab[". . ."]], [0, 1, 0])
    np.testing.assert_allclose(enc.encode(["The cat"]), [[0.5, 0, 0.5]])


def test_glove_header_gives_the_dimension(tmp_path):
    vectors = tmp_path / "w2v.txt"
    vectors.write_text("2 3\n1 2 0.5 0.5 0.5\nb 1 1 1\n", encoding="utf-8")
    vocab, matrix = GloveAverageEncoder(str(vectors))._table
    assert list(vocab) == ["1 2", "b"] and matrix.shape == (2, 3)


# 8. small ones ----------------------------------------------------------------------------

def test_unknown_task_lists_every_valid_name(capsys, data_dir):
    assert main(["run", "--model", "glove-avg", "--tasks", "NOPE", "--data-dir",
                 str(data_dir)]) == 2
    line = one_error_line(capsys)
    # issue 26: by the names tables print (STS-B, SICK-R, SST); aliases: bench list tasks
    for name in ("sts", "transfer", "every", "STS12", "STS-B", "SICK-R", "MR", "SST", "MRPC"):
        assert name in line


def test_list_models_piped_prints_full_names_and_json(capsys):
    from bench.encoders.paper import is_paper_model
    from bench.recipes import load_recipes

    recipes = load_recipes()  # the paper's names (simcse-bert, ...) first, then the rest
    names = (sorted(n for n, r in recipes.items() if is_paper_model(r))
             + sorted(n for n, r in recipes.items() if not is_paper_model(r)))
    assert main(["list", "models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split("\t")[0] for ln in lines] == names
    assert main(["list", "models", "--json"]) == 0
    assert [e["name"] for e in json.loads(capsys.readouterr().out)] == names
