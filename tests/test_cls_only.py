"""The [CLS]-only last layer gives the full model's [CLS] output and gradients.

An identity of the computation, true for any weights: checked on the tiny random BERT, and
on the packaged MiniLM (whose attention implementation and layer sizes are the real ones)."""

from __future__ import annotations

import pytest
import torch

from bench.encoders.cls_only import cls_only_last_layer
from bench.encoders.packaged import packaged_path

SENTENCES = ["A man is playing a guitar on a crowded street corner tonight.",
             "Short one.", "Two dogs run.", "The quick brown fox jumps over the lazy dog again."]


def _model(attn: str, location: str):
    from transformers import AutoModel, AutoTokenizer

    return (AutoTokenizer.from_pretrained(location),
            AutoModel.from_pretrained(location, attn_implementation=attn).eval())


@pytest.fixture(params=["tiny", "minilm"])
def location(request, tiny_bert) -> str:
    return str(tiny_bert if request.param == "tiny"
               else packaged_path("packaged:all-MiniLM-L6-v2"))


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_cls_row_and_pooler_equal_the_full_forward(attn, location):
    tokenizer, model = _model(attn, location)
    inputs = tokenizer(SENTENCES, padding=True, return_tensors="pt")  # padded rows included
    with torch.no_grad():
        full = model(**inputs)
        with cls_only_last_layer(model) as active:
            short = model(**inputs)
    assert active
    assert short.last_hidden_state.shape == (len(SENTENCES), 1, model.config.hidden_size)
    torch.testing.assert_close(short.last_hidden_state[:, 0], full.last_hidden_state[:, 0],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(short.pooler_output, full.pooler_output, atol=1e-5, rtol=1e-5)
    # Outside the block the model is whole again.
    with torch.no_grad():
        assert model(**inputs).last_hidden_state.shape[1] == inputs["input_ids"].shape[1]


def test_gradients_equal_the_full_forward(tiny_bert):
    # eval(): no dropout, so both passes are deterministic
    tokenizer, model = _model("sdpa", str(tiny_bert))
    inputs = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    target = torch.randn(len(SENTENCES), model.config.hidden_size, generator=torch.Generator()
                         .manual_seed(0))

    def grads(short: bool) -> dict[str, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        with cls_only_last_layer(model, enabled=short):
            cls = model(**inputs).last_hidden_state[:, 0]
        (cls * target).sum().backward()
        return {n: p.grad.clone() for n, p in model.named_parameters()
                if p.grad is not None}

    full, short = grads(False), grads(True)
    assert full.keys() == short.keys()
    for name in full:
        torch.testing.assert_close(short[name], full[name], atol=1e-4, rtol=1e-3, msg=name)


def test_other_architectures_are_left_alone():
    from transformers import GPT2Config, GPT2Model

    model = GPT2Model(GPT2Config(n_layer=1, n_head=2, n_embd=8, vocab_size=20)).eval()
    ids = torch.tensor([[1, 2, 3]])
    with cls_only_last_layer(model) as active:
        out = model(input_ids=ids).last_hidden_state
    assert not active and out.shape == (1, 3, 8)
