"""Any sentence-transformers model, through its own ``encode``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from bench.devices import check_device
from bench.encoders.base import Encoder
from bench.encoders.transformer import (
    autocast_context,
    describe_weights,
    resolve_model_location,
    token_counts,
    weights_folder,
)
from bench.errors import ModelError
from bench.fingerprint import folder_digest


class SentenceTransformerEncoder(Encoder):
    """Vectors exactly as ``SentenceTransformer.encode`` gives them (its pooling, its truncation)."""

    def __init__(self, model: str, *, device: str = "cpu", precision: str = "fp32",
                 name: str | None = None) -> None:
        autocast_context(device, precision)
        self.model_id = model
        self.device = check_device(device)
        self.precision = precision
        self.name = name or model
        self.location = resolve_model_location(model)

    @cached_property
    def _model(self):
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer

        try:
            return SentenceTransformer(self.location, device=self.device)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"cannot load sentence-transformers model {self.model_id!r}: "
                             f"{first[:200]}") from None

    def spec(self) -> dict[str, Any]:
        return {"type": "sentence-transformers", "model": self.model_id,
                "precision": self.precision}

    @cached_property
    def weights_folder(self) -> Path:
        return weights_folder(self.location, self.model_id, lambda: self._model)

    def weights_digest(self) -> str:
        return folder_digest(self.weights_folder, owner=self.model_id)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **describe_weights(self.weights_folder)}

    def model_meta(self) -> dict[str, Any]:
        model = self._model
        return {"n_parameters": int(sum(p.numel() for p in model.parameters())),
                "embedding_dim": (getattr(model, "get_embedding_dimension", None)
                                  or model.get_sentence_embedding_dimension)(),
                "max_tokens": getattr(model, "max_seq_length", None),
                "similarity": str(getattr(model, "similarity_fn_name", None) or "cosine")}

    def length_keys(self, sentences: Sequence[str]) -> list[int]:
        model = self._model
        tokenizer = getattr(model, "tokenizer", None)
        if tokenizer is None or not callable(tokenizer):
            return super().length_keys(sentences)
        return token_counts(tokenizer, sentences, getattr(model, "max_seq_length", None))

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not sentences:  # SentenceTransformer.encode([]) is shape (0,), not (0, d)
            model = self._model
            dim = getattr(model, "get_embedding_dimension",
                          getattr(model, "get_sentence_embedding_dimension", None))()
            return np.zeros((0, dim), dtype=np.float32)
        with autocast_context(self.device, self.precision):
            vectors = self._model.encode(list(sentences), batch_size=batch_size,
                                         convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
