"""Tokenization for decoder embedders read at their last token (pooler ``lasttoken``).

A decoder embedder reads the hidden state of the last token, trained to be an EOS:
Qwen3-Embedding's tokenizer appends ``<|endoftext|>`` itself (a post-processor in its
``tokenizer.json``), e5-mistral's reference code appends ``eos_token_id`` by hand after
truncating to ``max_length - 1``. bench does what the model's tokenizer does not: with
``eos = "auto"`` the EOS is appended unless the tokenizer's own output already ends with it;
``eos = "never"`` leaves the tokenizer's output as it is. What happened is recorded
(``eos_applied``: ``tokenizer``, ``appended`` or ``none``).

Padding is on the side the spec says (``left``, as Qwen3-Embedding and gte-Qwen2 are run, or
``right``); ``bench.encoders.pooling.last_token`` is right under both. Under left padding the
position ids are given explicitly (each row counts from 0 at its first real token, as
``generate`` does for padded prompts): a model with absolute positions would otherwise see
its text shifted by the padding, and a rotary one gets the same positions as unpadded text.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from bench.errors import ModelError

EOS_MODES = ("auto", "never")
PADDING_SIDES = ("left", "right")
EOS_BY_TOKENIZER, EOS_APPENDED, EOS_NONE = "tokenizer", "appended", "none"


def check_decoder_options(model: str, eos: str, padding_side: str) -> None:
    """One line naming the model and the bad value, before anything loads."""
    if eos not in EOS_MODES:
        raise ModelError(f"model {model!r}: unknown eos {eos!r}; valid: {', '.join(EOS_MODES)}")
    if padding_side not in PADDING_SIDES:
        raise ModelError(f"model {model!r}: unknown padding_side {padding_side!r}; valid: "
                         f"{', '.join(PADDING_SIDES)}")


def eos_applied(tokenizer: Any, eos: str) -> str:
    """What the EOS setting means for this tokenizer: ``tokenizer`` (it appends the EOS
    itself), ``appended`` (bench appends ``eos_token_id``) or ``none``."""
    eos_id = getattr(tokenizer, "eos_token_id", None)
    if eos == "never" or eos_id is None:
        return EOS_NONE
    probe = tokenizer(["a"], add_special_tokens=True)["input_ids"][0]
    return EOS_BY_TOKENIZER if probe and probe[-1] == eos_id else EOS_APPENDED


def ensure_pad_token(tokenizer: Any) -> None:
    """Decoder tokenizers often have no pad token (Mistral's): pad with the EOS, masked out."""
    if getattr(tokenizer, "pad_token", None) is None and getattr(tokenizer, "eos_token", None):
        tokenizer.pad_token = tokenizer.eos_token


def takes_position_ids(model: Any) -> bool:
    """Whether the model's ``forward`` accepts ``position_ids`` (BERT, GPT-2, Llama, Qwen2 do;
    DistilBERT does not)."""
    try:
        return "position_ids" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def tokenize(tokenizer: Any, texts: Sequence[str], limit: int | None, applied: str,
             padding_side: str, positions: bool = False) -> Any:
    """Padded ``input_ids``/``attention_mask`` tensors of ``texts``; with ``applied ==
    "appended"`` each row is cut to ``limit - 1`` tokens and ends with the EOS; with
    ``positions`` and left padding, ``position_ids`` counted from each row's first token."""
    if applied != EOS_APPENDED:
        inputs = tokenizer(list(texts), padding=True, truncation=limit is not None,
                           max_length=limit, padding_side=padding_side, return_tensors="pt")
    else:
        cut = None if limit is None else max(limit - 1, 1)
        ids = tokenizer(list(texts), padding=False, truncation=cut is not None, max_length=cut,
                        return_attention_mask=False)["input_ids"]
        rows = {"input_ids": [row + [tokenizer.eos_token_id] for row in ids]}
        inputs = tokenizer.pad(rows, padding=True, padding_side=padding_side,
                               return_attention_mask=True, return_tensors="pt")
    if positions and padding_side == "left":
        inputs["position_ids"] = (inputs["attention_mask"].long().cumsum(-1) - 1).clamp(min=0)
    return inputs


def describe(eos: str, padding_side: str, applied: str | None) -> dict[str, Any]:
    """What a report records of a last-token encoder's tokenization."""
    out: dict[str, Any] = {"eos": eos, "padding_side": padding_side}
    if applied is not None:
        out["eos_applied"] = applied
    return out
