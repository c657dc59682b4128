"""No wasted work (issue 27): only the parts the protocols read are encoded, the same weights
are encoded once whatever folder they are loaded from, and each sentence is tokenized once."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

import bench
from tests.helpers import HashEncoder

SPLITS = ("train", "dev", "test")


class Recorder(HashEncoder):
    """A HashEncoder that remembers every sentence it was asked to encode."""

    def __init__(self) -> None:
        super().__init__(dim=8)
        self.seen: list[str] = []

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.seen.extend(sentences)
        return super().encode(sentences, batch_size)


def split_stsb(root: Path, pairs: int = 12) -> tuple[Path, dict[str, list[tuple[str, str, float]]]]:
    """A small STS-B whose every sentence names its split (no sentence shared by two)."""
    folder = root / "STS" / "STSBenchmark"
    folder.mkdir(parents=True)
    rows: dict[str, list[tuple[str, str, float]]] = {}
    for split in SPLITS:
        rows[split] = [(f"{split} sentence {i} a", f"{split} other {i * 7 % 5} b{i}",
                        round((i * 1.3) % 5.0, 2)) for i in range(pairs)]
        (folder / f"sts-{split}.csv").write_text("".join(
            f"g\tf\t2012\t{i}\t{g:.2f}\t{a}\t{b}\n" for i, (a, b, g) in enumerate(rows[split])))
    return root, rows


def _cosine_spearman(rows: list[tuple[str, str, float]]) -> float:
    """Reference: SentEval's score (Spearman of the cosine with gold, points), by hand."""
    enc = HashEncoder(dim=8)
    u = enc.encode([a for a, _, _ in rows]).astype(np.float64)
    v = enc.encode([b for _, b, _ in rows]).astype(np.float64)
    cos = (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
    return 100 * spearmanr(cos, [g for _, _, g in rows]).statistic


def test_a_cosine_run_encodes_no_train_or_dev_sentence(tmp_path):
    data, rows = split_stsb(tmp_path / "data")
    enc = Recorder()
    report = bench.evaluate(enc, tasks=["STSBenchmark"], protocols="simcse", data_dir=data,
                            use_cache=False, verify_data=False)
    test = {s for a, b, _ in rows["test"] for s in (a, b)}
    assert set(enc.seen) == test and len(enc.seen) == len(test)
    assert list(report.tasks["STSBenchmark"].parts) == ["test"]  # claims no part it skipped
    value = report.scores[0].values["STSBenchmark"]
    assert value == pytest.approx(_cosine_spearman(rows["test"]), abs=1e-9)


def test_a_regressor_run_encodes_train_and_dev(tmp_path):
    data, rows = split_stsb(tmp_path / "data")
    enc = Recorder()
    report = bench.evaluate(enc, tasks=["STSBenchmark"], protocols="all-spearman-reg",
                            data_dir=data, use_cache=False, verify_data=False)
    every = {s for split in SPLITS for a, b, _ in rows[split] for s in (a, b)}
    assert set(enc.seen) == every
    assert set(report.tasks["STSBenchmark"].parts) == set(SPLITS)
    assert report.tasks["STSBenchmark"].regression is not None


def _checkpoint(tiny_bert: Path, folder: Path, state: bool) -> Path:
    """A bench checkpoint folder (weights, tokenizer, bench_checkpoint.json) as training
    writes one: the last step keeps the optimizer state, best/ does not."""
    from bench.train import rundir

    shutil.copytree(tiny_bert, folder)
    (folder / rundir.META_FILE).write_text(json.dumps(
        {"format": rundir.FORMAT, "version": 1, "step": 10, "eval_pooler": "cls"}, indent=2))
    if state:
        (folder / rundir.STATE_FILE).write_bytes(b"optimizer state")
    return folder


def _run(model: str, data: Path, cache: Path) -> dict:
    report = bench.evaluate(model, tasks=["STSBenchmark"], protocols="simcse", data_dir=data,
                            cache_dir=cache, verify_data=False)
    return {"fingerprint": report.model.fingerprint, "encoded": report.timings[
        "sentences_encoded"], "cached": report.timings["sentences_cached"],
        "score": report.scores[0].values["STSBenchmark"]}


@pytest.mark.slow  # five runs of a tiny BERT (~2 s)
def test_identical_weights_are_encoded_once_whatever_folder_holds_them(tmp_path, tiny_bert,
                                                                     monkeypatch):
    data, rows = split_stsb(tmp_path / "data")
    n_test = len({s for a, b, _ in rows["test"] for s in (a, b)})
    runs = tmp_path / "runs" / "r"
    last = _checkpoint(tiny_bert, runs / "checkpoints" / "step-00010", state=True)
    best = _checkpoint(tiny_bert, runs / "best", state=False)
    cache = tmp_path / "cache"
    first = _run(str(last), data, cache)
    assert (first["encoded"], first["cached"]) == (n_test, 0)
    again = _run(str(best), data, cache)  # best/ after its identical last checkpoint
    assert again["fingerprint"] == first["fingerprint"]
    assert (again["encoded"], again["cached"]) == (0, n_test)
    assert again["score"] == first["score"]
    # another spelling of the path, and a hard-linked copy: the same files, nothing encoded
    linked = tmp_path / "elsewhere" / "model"
    linked.mkdir(parents=True)
    for f in best.iterdir():
        os.link(f, linked / f.name)
    monkeypatch.chdir(tmp_path / "elsewhere")
    for spelling in ("model", "../elsewhere/model", "./model/"):
        other = _run(spelling, data, cache)
        assert other["fingerprint"] == first["fingerprint"], spelling
        assert (other["encoded"], other["cached"]) == (0, n_test), spelling
    # a changed weight is another model: all encoded again
    weights = linked / "model.safetensors"
    content = bytearray(weights.read_bytes())
    weights.unlink()  # break the link: best/ keeps its bytes
    content[-1] ^= 0x01
    weights.write_bytes(bytes(content))
    changed = _run("model", data, cache)
    assert changed["fingerprint"] != first["fingerprint"] and changed["encoded"] == n_test


@pytest.mark.slow  # loads a tiny BERT (the session fixture: ~4 s when first)
def test_each_sentence_is_tokenized_once_and_the_vectors_are_unchanged(tiny_bert):
    from bench.embed import embed, plan_batches
    from bench.encoders.transformer import TransformerEncoder

    enc = TransformerEncoder(str(tiny_bert), "avg", max_length=12)
    tokenizer = enc._loaded[0]
    seen: list[str] = []

    class Counting:  # the tokenizer, counting the texts it is given
        def __getattr__(self, name):
            return getattr(tokenizer, name)

        def __call__(self, texts, *args, **kwargs):
            seen.extend([texts] if isinstance(texts, str) else texts)
            return tokenizer(texts, *args, **kwargs)

    enc.__dict__["_loaded"] = (Counting(), enc._loaded[1])
    sentences = [f"sentence {i} " + "word " * (i % 17) for i in range(40)]
    table = embed(enc, sentences, batch_size=6, show_progress=False)
    assert sorted(seen) == sorted(sentences)  # planning tokenized them; encoding did not
    # reference: the same batches tokenized and padded by transformers, as before
    plain = TransformerEncoder(str(tiny_bert), "avg", max_length=12)
    batches = [b for _, b, _ in plan_batches(plain, sentences, 6)]
    plain._tokens.clear()
    for batch in batches:
        assert np.array_equal(table.lookup(batch), plain.encode(batch, batch_size=6))
