"""Registers the built-in encoder types: transformer, sentence-transformers, glove-avg."""

from __future__ import annotations

from typing import Any

from bench.encoders.glove import DEFAULT_VECTORS, GloveAverageEncoder
from bench.encoders.registry import EncoderOptions, register_type
from bench.encoders.sbert import SentenceTransformerEncoder
from bench.encoders.transformer import TransformerEncoder


def _transformer(cfg: dict[str, Any], opt: EncoderOptions, name: str) -> TransformerEncoder:
    return TransformerEncoder(cfg["model"], cfg.get("pooler", "cls"),
                              first_layer=cfg.get("first_layer", "first"),
                              max_length=cfg.get("max_length"), device=opt.device,
                              precision=opt.precision, name=name)


def _sbert(cfg: dict[str, Any], opt: EncoderOptions, name: str) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(cfg["model"], device=opt.device, precision=opt.precision,
                                      name=name)


def _glove(cfg: dict[str, Any], opt: EncoderOptions, name: str) -> GloveAverageEncoder:
    return GloveAverageEncoder(cfg.get("vectors", DEFAULT_VECTORS),
                               lowercase=cfg.get("lowercase", True), name=name)


register_type("transformer", _transformer)
register_type("sentence-transformers", _sbert)
register_type("glove-avg", _glove)
