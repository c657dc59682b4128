"""How long an input a transformer encoder takes, and the cut that keeps a pathological one
(a 0.8 MB "sentence" in a user's file) from exhausting memory.

A model cannot read past its position embeddings: before this, a longer input ended in a
RuntimeError after gigabytes of attention (transformer encoders did not truncate, as SimCSE's
``evaluation.py``). Inputs are now truncated to the model's maximum, or to ``max_length``
when one is given, and the limit is recorded in the report (``model.extra.truncation``).
Every input that ran before is at most that long, so its tokens and vectors are unchanged.

Before tokenization, a text is cut to ``CHARS_PER_TOKEN`` characters per token of the limit:
tokenizing a megabyte costs seconds and hundreds of MB for tokens that are dropped anyway.
The bound is generous: English averages about 4 characters per token, and WordPiece turns a
word of over 100 characters into one [UNK]; a text cut here has far more tokens than the
limit (except one made of such words or of characters the tokenizer deletes), so the tokens
kept are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CHARS_PER_TOKEN = 64
_UNSET = 1_000_000  # transformers' model_max_length when a tokenizer declares none (1e30)


def model_max_tokens(tokenizer: Any, model: Any) -> int | None:
    """The longest input the model reads: the tokenizer's ``model_max_length`` and the
    position embeddings (less RoBERTa's padding offset), whichever is smaller."""
    limits = []
    declared = getattr(tokenizer, "model_max_length", None)
    if isinstance(declared, int) and 0 < declared < _UNSET:
        limits.append(declared)
    config = getattr(model, "config", None)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        # RoBERTa-style position ids start after the padding index (positions 0 and 1)
        offset = 2 if "roberta" in str(getattr(config, "model_type", "")) else 0
        limits.append(positions - offset)
    return min(limits) if limits else None


def precut(texts: Sequence[str], max_tokens: int | None) -> list[str]:
    """``texts`` with any text over ``max_tokens * CHARS_PER_TOKEN`` characters cut there."""
    if max_tokens is None:
        return list(texts)
    limit = max_tokens * CHARS_PER_TOKEN
    return [t if len(t) <= limit else t[:limit] for t in texts]


def truncation_record(max_tokens: int | None, told: bool) -> dict[str, Any]:
    """What a report records (``model.extra.truncation``): the token limit, whether
    ``max_length`` set it or the model's own, and the character cut before tokenization."""
    if max_tokens is None:
        return {}
    return {"truncation": {"max_tokens": max_tokens,
                           "from": "max_length" if told else "model",
                           "chars_per_token_cut": CHARS_PER_TOKEN}}
