"""What a report says about a sentence-transformers model: the pooling, normalisation, max
length, weights dtype and prompts of the modules that ran, not library defaults."""

from __future__ import annotations

import json

import pytest

from bench.encoders.sbert import SentenceTransformerEncoder, declared_prompts, pipeline_setup
from tests.helpers import make_tiny_bert

SLOW = pytest.mark.slow  # builds and loads a sentence-transformers folder (seconds)


def _folder(tmp_path, *, normalize: bool, prompts: dict[str, str] | None = None,
            mode: str = "mean", include_prompt: bool = True):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import (
        Normalize,
        Pooling,
        Transformer,
    )

    bert = make_tiny_bert(tmp_path / "bert")
    modules = [Transformer(str(bert), max_seq_length=48),
               Pooling(32, pooling_mode=mode, include_prompt=include_prompt)]
    if normalize:
        modules.append(Normalize())
    folder = tmp_path / "st"
    SentenceTransformer(modules=modules, prompts=prompts, device="cpu").save(str(folder))
    return folder


@SLOW
def test_what_ran_is_stated(tmp_path):
    folder = _folder(tmp_path, normalize=True, mode="cls", include_prompt=False)
    meta = SentenceTransformerEncoder(str(folder)).model_meta()
    assert (meta["pooling"], meta["normalize"], meta["weights_dtype"], meta["max_tokens"]) == (
        "cls", True, "float32", 48)
    assert meta["pooling_include_prompt"] is False
    assert "model_prompts" not in meta  # sentence-transformers' query/document placeholders
    saved = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert set(saved.get("prompts", {})) >= {"query", "document"}  # what the file holds


@SLOW
def test_declared_prompts_are_kept_and_placeholders_dropped(tmp_path):
    folder = _folder(tmp_path, normalize=False, prompts={"query": "query: ", "document": ""})
    encoder = SentenceTransformerEncoder(str(folder))
    meta = encoder.model_meta()
    assert meta["model_prompts"] == {"query": "query: "}
    assert (meta["pooling"], meta["normalize"]) == ("mean", False)
    assert declared_prompts(encoder._model) == {"query": "query: "}


def test_a_model_without_modules_is_described_without_guessing():
    class Bare:
        prompts = {"query": None, "document": ""}

    assert pipeline_setup(Bare()) == {"pooling": "none", "normalize": False}
    assert declared_prompts(Bare()) == {}
