"""Decoder embedders: last-token pooling under left and right padding, the EOS, the
sentence-transformers ``lasttoken`` folder, and the cache key of each setting.

The model is a random-weight two-layer Qwen2 built here with a word-level tokenizer; the
reference vectors are computed by running that model on each sentence alone (no padding)
and taking its final position, not by bench's pooling code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.encoders.sbert import SentenceTransformerEncoder
from bench.encoders.transformer import TransformerEncoder
from bench.errors import ModelError

pytestmark = pytest.mark.slow  # a transformers model built and run per test (about 1 s each)

WORDS = ["a", "man", "is", "playing", "guitar", "woman", "cooking", "the", "dog", "runs",
         "fast", "cat", "sleeps"]
EOS = "<|endoftext|>"
SENTENCES = ["a man is playing guitar", "the dog runs", "a woman is cooking the dog fast",
             "cat"]


def _tokenizer(eos_by_post_processor: bool):
    """A byte-level BPE tokenizer with Qwen's ``<|endoftext|>`` as EOS and padding (transformers
    loads it as a ``Qwen2Tokenizer``, as it does Qwen3-Embedding's)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([" ".join(WORDS)] * 5, trainer)
    if eos_by_post_processor:  # as Qwen3-Embedding's tokenizer.json appends <|endoftext|>
        tok.post_processor = processors.TemplateProcessing(
            single=f"$A {EOS}", pair=f"$A {EOS} $B {EOS}", special_tokens=[(EOS, 0)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=EOS)


def _decoder(folder: Path, eos_by_post_processor: bool) -> Path:
    from transformers import Qwen2Config, Qwen2Model

    tokenizer = _tokenizer(eos_by_post_processor)
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=128, pad_token_id=0, eos_token_id=0)
    Qwen2Model(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def plain_decoder(tmp_path_factory) -> Path:
    """A tokenizer that adds no EOS: bench appends it."""
    return _decoder(tmp_path_factory.mktemp("qwen2-plain"), eos_by_post_processor=False)


@pytest.fixture(scope="module")
def eos_decoder(tmp_path_factory) -> Path:
    """A tokenizer whose post-processor appends the EOS itself."""
    return _decoder(tmp_path_factory.mktemp("qwen2-eos"), eos_by_post_processor=True)


def _by_hand(folder: Path, sentences: list[str], append_eos: bool,
             cut: int | None = None) -> np.ndarray:
    """Each sentence alone through the model (its first ``cut`` tokens, then the EOS when
    ``append_eos``); the hidden state at its final position."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    rows = []
    with torch.no_grad():
        for s in sentences:
            ids = tokenizer(s)["input_ids"][:cut]
            ids = ids + ([tokenizer.eos_token_id] if append_eos else [])
            out = model(input_ids=torch.tensor([ids])).last_hidden_state
            rows.append(out[0, -1].numpy())
    return np.stack(rows)


@pytest.mark.parametrize("side", ["left", "right"])
def test_last_token_appended_eos(plain_decoder, side):
    encoder = TransformerEncoder(str(plain_decoder), "lasttoken", padding_side=side)
    got = encoder.encode(SENTENCES, batch_size=4)  # one padded batch of unequal lengths
    assert encoder.eos_applied == "appended"
    np.testing.assert_allclose(got, _by_hand(plain_decoder, SENTENCES, True), atol=2e-5)


@pytest.mark.parametrize("side", ["left", "right"])
def test_last_token_tokenizer_eos(eos_decoder, side):
    encoder = TransformerEncoder(str(eos_decoder), "lasttoken", padding_side=side)
    got = encoder.encode(SENTENCES, batch_size=4)
    assert encoder.eos_applied == "tokenizer"  # not appended a second time
    np.testing.assert_allclose(got, _by_hand(eos_decoder, SENTENCES, False), atol=2e-5)
    assert encoder.model_meta()["eos_applied"] == "tokenizer"


def test_eos_never_reads_the_last_word(plain_decoder):
    encoder = TransformerEncoder(str(plain_decoder), "lasttoken", eos="never",
                                 padding_side="right")
    got = encoder.encode(SENTENCES, batch_size=4)
    np.testing.assert_allclose(got, _by_hand(plain_decoder, SENTENCES, False), atol=2e-5)


def test_truncation_keeps_the_eos(plain_decoder):
    """Cut to max_length - 1 tokens, then the EOS (e5-mistral's reference code)."""
    encoder = TransformerEncoder(str(plain_decoder), "lasttoken", max_length=5)
    got = encoder.encode(SENTENCES, batch_size=4)
    np.testing.assert_allclose(got, _by_hand(plain_decoder, SENTENCES, True, cut=4), atol=2e-5)


def test_model_object(plain_decoder):
    from transformers import AutoModel, AutoTokenizer

    from bench.encoders.objects import wrap

    encoder = wrap(AutoModel.from_pretrained(plain_decoder),
                   tokenizer=AutoTokenizer.from_pretrained(plain_decoder), pooler="lasttoken")
    np.testing.assert_allclose(encoder.encode(SENTENCES),
                               _by_hand(plain_decoder, SENTENCES, True), atol=2e-5)


def test_sentence_transformers_lasttoken_folder(eos_decoder, tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models

    st = SentenceTransformer(modules=[models.Transformer(str(eos_decoder)),
                                      models.Pooling(32, pooling_mode="lasttoken")])
    st.save(str(tmp_path / "st"))
    encoder = SentenceTransformerEncoder(str(tmp_path / "st"))
    np.testing.assert_allclose(encoder.encode(SENTENCES),
                               _by_hand(eos_decoder, SENTENCES, False), atol=2e-5)
    meta = encoder.model_meta()
    assert (meta["pooling"], meta["normalize"], meta["weights_dtype"]) == (
        "lasttoken", False, "float32")
    assert "model_prompts" not in meta  # the library's empty query/document placeholders


def test_cache_key_changes_with_each_setting(plain_decoder):
    def key(**kw):
        return TransformerEncoder(str(plain_decoder), kw.pop("pooler", "lasttoken"),
                                  **kw).fingerprint

    keys = [key(), key(padding_side="right"), key(eos="never"), key(pooler="avg"),
            key(max_length=8)]
    assert len(set(keys)) == len(keys)
    spec = TransformerEncoder(str(plain_decoder), "lasttoken").spec()
    assert (spec["eos"], spec["padding_side"]) == ("auto", "left")
    assert "eos" not in TransformerEncoder(str(plain_decoder), "avg").spec()


def test_bad_settings_are_one_line(plain_decoder):
    with pytest.raises(ModelError, match="unknown padding_side 'middle'"):
        TransformerEncoder(str(plain_decoder), "lasttoken", padding_side="middle")
    with pytest.raises(ModelError, match="unknown eos 'always'"):
        TransformerEncoder(str(plain_decoder), "lasttoken", eos="always")


def test_folder_config_is_what_was_built(plain_decoder):
    config = json.loads((plain_decoder / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"]) == (2, 32)
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(plain_decoder)  # the class bench loads
    raw = Tokenizer.from_file(str(plain_decoder / "tokenizer.json"))
    for s in SENTENCES:
        assert tokenizer(s)["input_ids"] == raw.encode(s).ids


def test_left_padding_with_absolute_positions(tmp_path, monkeypatch):
    """GPT-2 learns absolute positions: left padding is right only because each row's
    position ids start at its first real token (without them the vectors move)."""
    from transformers import GPT2Config, GPT2Model

    from bench.encoders import decoder

    tokenizer = _tokenizer(eos_by_post_processor=False)
    torch.manual_seed(0)
    GPT2Model(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=4,
                         n_positions=128, eos_token_id=0)).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    expected = _by_hand(tmp_path, SENTENCES, True)
    got = TransformerEncoder(str(tmp_path), "lasttoken", padding_side="left").encode(SENTENCES)
    np.testing.assert_allclose(got, expected, atol=2e-5)
    monkeypatch.setattr(decoder, "takes_position_ids", lambda model: False)
    shifted = TransformerEncoder(str(tmp_path), "lasttoken", padding_side="left").encode(
        SENTENCES)
    assert np.abs(shifted - expected).max() > 1e-2  # the test can tell
