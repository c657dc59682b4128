"""Poolers as SimCSE's ``evaluation.py`` defines them (``cls``, ``cls_before_pooler``, ``avg``,
``avg_first_last``, ``avg_top2``; its ``models.py`` ``Pooler``), plus ``lasttoken`` for decoder
embedders (Qwen3-Embedding, gte-Qwen2, e5-mistral: the hidden state of the last real token,
an EOS that ``bench.encoders.decoder`` makes sure is there).

Averages are masked means over all tokens, [CLS] and [SEP] included.
"""

from __future__ import annotations

from typing import Any

import torch

POOLERS = ("cls", "cls_before_pooler", "avg", "avg_first_last", "avg_top2", "lasttoken")
LAST_TOKEN = "lasttoken"
FIRST_LAYERS = ("first", "embeddings")  # hidden_states[1] (fixed code) or [0] (paper's 56.70 row)


def needs_hidden_states(pooler: str) -> bool:
    return pooler in ("avg_first_last", "avg_top2")


def uses_cls_only(pooler: str) -> bool:
    """Poolers that read the last layer at [CLS] alone (see ``bench.encoders.cls_only``)."""
    return pooler in ("cls", "cls_before_pooler")


def _masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1)


def last_token(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The hidden state at each row's last non-padding position: right under right padding
    (the position before the padding starts) and under left padding (the final position),
    and for a row that is not padded at all. The position is the last 1 of the mask, as
    sentence-transformers' ``Pooling(pooling_mode="lasttoken")`` finds it."""
    mask = attention_mask.to(torch.long)
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    last = torch.where(mask > 0, positions, torch.full_like(positions, -1)).max(1).values
    last = last.clamp(min=0)  # an all-padding row (never tokenized here) reads position 0
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def pool(outputs: Any, attention_mask: torch.Tensor, pooler: str,
         first_layer: str = "first") -> torch.Tensor:
    """Sentence vectors from a Hugging Face model output.

    ``first_layer`` only matters for ``avg_first_last``: ``first`` uses hidden_states[1]
    (SimCSE after commit 206d7ae), ``embeddings`` hidden_states[0] (the paper's rows).
    """
    last = outputs.last_hidden_state
    if pooler == "cls":
        if getattr(outputs, "pooler_output", None) is None:
            raise ValueError("pooler 'cls' needs a model with a pooler layer; "
                             "use 'cls_before_pooler' for this model")
        return outputs.pooler_output
    if pooler == "cls_before_pooler":
        return last[:, 0]
    if pooler == "avg":
        return _masked_mean(last, attention_mask)
    if pooler == LAST_TOKEN:
        return last_token(last, attention_mask)
    hidden = outputs.hidden_states
    if pooler == "avg_first_last":
        first = hidden[0] if first_layer == "embeddings" else hidden[1]
        return _masked_mean((first + hidden[-1]) / 2.0, attention_mask)
    if pooler == "avg_top2":
        return _masked_mean((hidden[-1] + hidden[-2]) / 2.0, attention_mask)
    raise ValueError(f"unknown pooler {pooler!r}; valid: {', '.join(POOLERS)}")
