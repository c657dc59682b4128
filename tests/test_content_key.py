"""A local model folder is keyed by its files, not by the path as typed (issue 27); the
inference backend is part of the key, and an int8 model is named as another model."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import bench.fingerprint as fp
from bench.encoders.onnx import OnnxEncoder, as_backend
from bench.encoders.transformer import TransformerEncoder
from bench.errors import ModelError
from tests.conftest import REPO

FILES = {"config.json": b'{"hidden_size": 4}', "model.safetensors": bytes(range(256)) * 64,
         "vocab.txt": b"[PAD]\n[UNK]\nhello\n", "tokenizer_config.json": b"{}"}


def _folder(path: Path) -> Path:
    path.mkdir(parents=True)
    for name, data in FILES.items():
        (path / name).write_bytes(data)
    return path


def test_a_hard_linked_copy_is_hashed_once(tmp_path, monkeypatch):
    original = _folder(tmp_path / "a" / "model")
    linked = tmp_path / "b" / "model"
    linked.mkdir(parents=True)
    for f in original.iterdir():
        os.link(f, linked / f.name)
    hashed: list[Path] = []
    real = fp.sha256_file
    monkeypatch.setattr(fp, "sha256_file", lambda p: hashed.append(Path(p)) or real(p))
    first = fp.folder_digest(original)
    assert len(hashed) == len(FILES)
    assert fp.folder_digest(linked) == first and len(hashed) == len(FILES)  # no second read


def test_a_local_folder_gets_one_fingerprint_whatever_its_path_and_a_new_one_per_content(
        tmp_path, monkeypatch):
    folder = _folder(tmp_path / "x" / "model")
    copy = tmp_path / "y" / "copy"
    shutil.copytree(folder, copy)  # another inode, the same bytes
    monkeypatch.chdir(tmp_path / "x")
    keys = {spelling: TransformerEncoder(spelling, "avg").fingerprint
            for spelling in ("model", "./model/", "../x/model", str(folder), str(copy))}
    assert len(set(keys.values())) == 1, keys
    assert TransformerEncoder("model", "cls").fingerprint != keys["model"]  # the spec counts
    (copy / "tokenizer_config.json").write_bytes(b'{"do_lower_case": false}')  # a config
    assert TransformerEncoder(str(copy), "avg").fingerprint != keys["model"]


@pytest.mark.slow  # hashes MiniLM's 90 MB once (~0.6 s)
def test_the_packaged_model_keeps_the_fingerprint_kept_reports_record():
    recorded = json.loads((REPO / "reports" / "minilm-avg-sts-every.json").read_text())
    enc = TransformerEncoder("packaged:all-MiniLM-L6-v2", "avg")
    assert enc.fingerprint == recorded["model"]["fingerprint"]


def test_the_backend_is_in_the_key_and_int8_is_named_as_another_model(tmp_path):
    folder = _folder(tmp_path / "model")
    torch_enc = TransformerEncoder(str(folder), "avg", name="m")
    onnx = OnnxEncoder(TransformerEncoder(str(folder), "avg", name="m"), "onnx")
    int8 = OnnxEncoder(TransformerEncoder(str(folder), "avg", name="m"), "onnx-int8")
    assert len({torch_enc.fingerprint, onnx.fingerprint, int8.fingerprint}) == 3
    assert onnx.spec() == {**torch_enc.spec(), "backend": "onnx"}
    assert (onnx.name, int8.name) == ("m [onnx]", "m [onnx-int8]")
    assert as_backend(torch_enc, "torch") is torch_enc


@pytest.mark.parametrize("options, needle", [({"device": "meta"}, "runs on the CPU"),
                                             ({"precision": "bf16"}, "is fp32")])
def test_the_onnx_backend_refuses_what_it_cannot_run_in_one_line(tmp_path, options, needle):
    enc = TransformerEncoder(str(_folder(tmp_path / "model")), "avg")
    for key, value in options.items():
        setattr(enc, key, value)  # a device torch knows but ONNX Runtime's CPU provider not
    with pytest.raises(ModelError, match=needle) as info:
        as_backend(enc, "onnx")
    assert "\n" not in str(info.value)


@pytest.mark.long  # three ONNX exports of a tiny BERT (~50 s on two busy cores): nox -s long
def test_fp32_onnx_gives_pytorchs_vectors_and_int8_others(tiny_bert):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    sentences = [f"a sentence {i} " + "word " * (i % 9) for i in range(20)] + ["x"]
    for pooler in ("avg", "cls"):
        reference = TransformerEncoder(str(tiny_bert), pooler).encode(sentences, batch_size=8)
        onnx = as_backend(TransformerEncoder(str(tiny_bert), pooler), "onnx")
        vectors = onnx.encode(sentences, batch_size=8)
        assert np.abs(vectors - reference).max() < 1e-5
    int8 = as_backend(TransformerEncoder(str(tiny_bert), "avg"), "onnx-int8")
    assert np.abs(int8.encode(sentences, batch_size=8) - reference).max() > 1e-4
