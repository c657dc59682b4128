"""The built-in encoder types transformer, sentence-transformers and glove-avg (declared in
``bench.encoders.registry``)."""

from __future__ import annotations

from typing import Any

from bench.encoders.glove import DEFAULT_VECTORS, GloveAverageEncoder
from bench.encoders.registry import EncoderOptions
from bench.encoders.sbert import SentenceTransformerEncoder
from bench.encoders.transformer import TransformerEncoder
from bench.errors import ModelError


def transformer(cfg: dict[str, Any], opt: EncoderOptions, name: str) -> TransformerEncoder:
    return TransformerEncoder(cfg["model"], cfg.get("pooler", "cls"),
                              first_layer=cfg.get("first_layer", "first"),
                              max_length=opt.max_length or cfg.get("max_length"),
                              device=opt.device, precision=opt.precision,
                              dtype=opt.dtype or cfg.get("dtype", "fp32"), name=name,
                              eos=cfg.get("eos", "auto"),
                              padding_side=cfg.get("padding_side", "left"))


def sentence_transformers(cfg: dict[str, Any], opt: EncoderOptions, name: str) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(cfg["model"], device=opt.device, precision=opt.precision,
                                      dtype=opt.dtype or cfg.get("dtype", "fp32"),
                                      max_length=opt.max_length or cfg.get("max_length"),
                                      name=name)


def glove_avg(cfg: dict[str, Any], opt: EncoderOptions, name: str) -> GloveAverageEncoder:
    if opt.max_length is not None or opt.dtype not in (None, "fp32"):
        raise ModelError(f"model {name!r}: --max-length and --dtype apply to transformer and "
                         f"sentence-transformers models, not to word vectors")
    return GloveAverageEncoder(cfg.get("vectors", DEFAULT_VECTORS),
                               lowercase=cfg.get("lowercase", True), name=name)

