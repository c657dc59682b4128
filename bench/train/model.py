"""The SimCSE encoder: a Hugging Face backbone, a pooler, and the optional MLP and MLM head.

As in the reference ``models.py``, pooler ``cls`` means an MLP (Linear(H, H) + Tanh, freshly
initialised) over the last layer's [CLS]; with ``mlp_only_train`` the MLP is dropped when
embeddings are computed for evaluation (the unsupervised default). The backbone's own
pre-trained pooler is never trained; a checkpoint that keeps the MLP at evaluation writes
the MLP into that pooler's slot, as ``simcse_to_huggingface.py`` does, so the exported
folder is a plain HF model whose ``pooler_output`` is SimCSE's MLP.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.encoders.cls_only import cls_only_last_layer
from bench.encoders.pooling import needs_hidden_states, pool, uses_cls_only
from bench.encoders.transformer import autocast_context, resolve_model_location, token_counts
from bench.errors import ModelError

TRAIN_POOLERS = ("cls", "cls_before_pooler", "avg", "avg_first_last", "avg_top2")
# Config attributes that hold a dropout probability in common encoder architectures.
_DROPOUT_KEYS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout",
                 "attention_dropout", "hidden_dropout", "activation_dropout")


def _load_error(display: str, exc: Exception) -> ModelError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ModelError(f"cannot load backbone {display!r}: {first[:200]} (no local folder of that "
                      f"name and the model hub is not reachable or has no such model)")


def load_backbone(backbone: str, dropout: float | None = None, mlm: bool = False):
    """Tokenizer, AutoModel (and MLM head when asked) with dropout p set everywhere, if given."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers import (  # heavy: transformers
        AutoConfig,
        AutoModel,
        AutoModelForMaskedLM,
        AutoTokenizer,
    )
    from transformers.utils import logging as hf_logging  # heavy: transformers

    hf_logging.set_verbosity_error()
    location = resolve_model_location(backbone)
    try:
        config = AutoConfig.from_pretrained(location, trust_remote_code=False)
        if dropout is not None:
            for key in _DROPOUT_KEYS:
                if isinstance(getattr(config, key, None), float):
                    setattr(config, key, float(dropout))
        tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=False)
        model = AutoModel.from_pretrained(location, config=config, trust_remote_code=False)
        head = None
        if mlm:
            mlm_model = AutoModelForMaskedLM.from_pretrained(location, config=config,
                                                             trust_remote_code=False)
            head = _mlm_head(mlm_model, model, backbone)
    except (OSError, ValueError) as exc:
        raise _load_error(backbone, exc) from None
    return tokenizer, model, head


def _mlm_head(mlm_model: nn.Module, backbone: nn.Module, display: str) -> nn.Module:
    """The LM head of ``mlm_model``, its decoder tied to ``backbone``'s word embeddings."""
    heads = [m for name, m in mlm_model.named_children() if name != mlm_model.base_model_prefix]
    if len(heads) != 1:
        raise ModelError(f"backbone {display!r}: the MLM auxiliary loss supports models with one "
                         f"LM-head module (BERT, RoBERTa); this one has {len(heads)}")
    out = mlm_model.get_output_embeddings()
    if out is not None:
        out.weight = backbone.get_input_embeddings().weight
    return heads[0]


class SimCSEModel(nn.Module):
    """Encoder + pooler (+ MLP, + MLM head) with SimCSE's training-time behaviour."""

    def __init__(self, backbone: nn.Module, pooler: str = "cls", mlp_only_train: bool = False,
                 mlm_head: nn.Module | None = None) -> None:
        super().__init__()
        if pooler not in TRAIN_POOLERS:
            raise ModelError(f"unknown training pooler {pooler!r}; valid: {', '.join(TRAIN_POOLERS)}")
        self.backbone = backbone
        self.pooler = pooler
        self.mlp_only_train = bool(mlp_only_train and pooler == "cls")
        hidden = backbone.config.hidden_size
        self.mlp: nn.Module | None = None
        if pooler == "cls":
            if not self.mlp_only_train and getattr(backbone, "pooler", None) is None:
                raise ModelError("pooler 'cls' with the MLP kept at evaluation needs a backbone "
                                 "with a pooler layer to export it into; use mlp_only_train or "
                                 "another pooler")
            linear = nn.Linear(hidden, hidden)
            std = getattr(backbone.config, "initializer_range", 0.02)
            nn.init.normal_(linear.weight, mean=0.0, std=std)  # as HF _init_weights
            nn.init.zeros_(linear.bias)
            self.mlp = nn.Sequential(linear, nn.Tanh())
        self.mlm_head = mlm_head
        # The pre-trained pooler is not part of SimCSE's computation: keep it out of training.
        if getattr(backbone, "pooler", None) is not None:
            for p in backbone.pooler.parameters():
                p.requires_grad_(False)

    @property
    def eval_pooler(self) -> str:
        """The bench pooler that reproduces this model's evaluation embeddings from the export."""
        if self.pooler == "cls":
            return "cls_before_pooler" if self.mlp_only_train else "cls"
        return self.pooler

    @property
    def mlp_at_eval(self) -> bool:
        return self.pooler == "cls" and not self.mlp_only_train

    def embed(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sentence vectors; the MLP applies in training, and at evaluation unless train-only."""
        with cls_only_last_layer(self.backbone, uses_cls_only(self.pooler)):
            outputs = self.backbone(**inputs,
                                    output_hidden_states=needs_hidden_states(self.pooler),
                                    return_dict=True)
        if self.pooler == "cls":
            z = outputs.last_hidden_state[:, 0]
            if self.training or not self.mlp_only_train:
                z = self.mlp(z)
            return z
        return pool(outputs, inputs["attention_mask"], self.pooler)

    def forward(self, inputs: dict[str, torch.Tensor], n_views: int,
                mlm_inputs: dict[str, torch.Tensor] | None = None
                ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """Embed ``n_views`` stacked blocks of the batch in one pass; optionally the MLM loss."""
        z = self.embed(inputs)
        views = list(z.chunk(n_views, 0))
        mlm_loss = None
        if mlm_inputs is not None and self.mlm_head is not None:
            labels = mlm_inputs["labels"]
            fed = {k: v for k, v in mlm_inputs.items() if k != "labels"}
            hidden = self.backbone(**fed, return_dict=True).last_hidden_state
            logits = self.mlm_head(hidden)
            mlm_loss = nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)).float(),
                                                   labels.reshape(-1), ignore_index=-100)
        return views, mlm_loss

    def export_pooler(self) -> None:
        """Write the MLP into the backbone's pooler slot when it is used at evaluation."""
        if self.mlp_at_eval:
            with torch.no_grad():
                self.backbone.pooler.dense.weight.copy_(self.mlp[0].weight)
                self.backbone.pooler.dense.bias.copy_(self.mlp[0].bias)

    @torch.no_grad()
    def encode(self, sentences: Sequence[str], tokenizer: Any, batch_size: int = 128,
               device: str = "cpu", precision: str = "fp32") -> np.ndarray:
        """Evaluation embeddings, tokenised as SimCSE's evaluation.py (padding, no truncation).

        Sentences are processed most tokens first to limit padding; output keeps the input
        order.
        """
        was_training = self.training
        self.eval()
        tokens = token_counts(tokenizer, sentences, None)
        order = sorted(range(len(sentences)), key=lambda i: -tokens[i])
        out = np.zeros((len(sentences), self.backbone.config.hidden_size), dtype=np.float32)
        try:
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                batch = tokenizer([sentences[i] for i in idx], padding=True,
                                  return_tensors="pt").to(device)
                with autocast_context(device, precision):
                    out[idx] = self.embed(dict(batch)).float().cpu().numpy()
        finally:
            self.train(was_training)
        return out


def mask_tokens(input_ids: torch.Tensor, attention_mask: torch.Tensor, tokenizer: Any,
                probability: float = 0.15) -> dict[str, torch.Tensor]:
    """BERT's masking (80% [MASK], 10% random, 10% kept) of non-special tokens; torch's RNG."""
    labels = input_ids.clone()
    special = torch.zeros_like(input_ids, dtype=torch.bool)
    for token_id in tokenizer.all_special_ids:
        special |= input_ids == token_id
    candidates = (~special) & attention_mask.bool()
    chosen = (torch.rand(input_ids.shape) < probability).to(input_ids.device) & candidates
    labels[~chosen] = -100
    ids = input_ids.clone()
    to_mask = (torch.rand(input_ids.shape) < 0.8).to(input_ids.device) & chosen
    ids[to_mask] = tokenizer.mask_token_id
    to_random = (torch.rand(input_ids.shape) < 0.5).to(input_ids.device) & chosen & ~to_mask
    ids[to_random] = torch.randint(len(tokenizer), input_ids.shape).to(input_ids.device)[to_random]
    return {"input_ids": ids, "attention_mask": attention_mask, "labels": labels}
