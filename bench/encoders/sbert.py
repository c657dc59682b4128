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
from bench.encoders.limits import precut, truncation_record
from bench.encoders.transformer import (
    autocast_context,
    check_loading_options,
    content_key,
    describe_weights,
    resolve_model_location,
    token_counts,
    torch_dtype,
    weights_folder,
)
from bench.errors import ModelError
from bench.fingerprint import fingerprint, folder_digest


class SentenceTransformerEncoder(Encoder):
    """Vectors exactly as ``SentenceTransformer.encode`` gives them (its pooling, its truncation)."""

    def __init__(self, model: str, *, device: str = "cpu", precision: str = "fp32",
                 dtype: str = "fp32", max_length: int | None = None,
                 name: str | None = None) -> None:
        check_loading_options(model, precision, dtype, max_length)
        self.dtype = dtype
        self.max_length = max_length
        self.model_id = model
        self.device = check_device(device)
        self.precision = precision
        self.name = name or model
        self.location = resolve_model_location(model)

    @cached_property
    def _model(self):
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer  # heavy: sentence_transformers

        kwargs = {"dtype": torch_dtype(self.dtype)} if self.dtype != "fp32" else None
        try:
            model = SentenceTransformer(self.location, device=self.device, model_kwargs=kwargs)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"cannot load sentence-transformers model {self.model_id!r}: "
                             f"{first[:200]}") from None
        if self.max_length is not None:
            model.max_seq_length = self.max_length
        return model

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": "sentence-transformers", "model": self.model_id,
                                "precision": self.precision}
        if self.dtype != "fp32":  # fp32 specs (and fingerprints) stay what they always were
            spec["dtype"] = self.dtype
        if self.max_length is not None:
            spec["max_length"] = self.max_length
        return spec

    def prompt_pair(self, family: str) -> tuple[str, str]:
        """A named prompt (``prompt_name``) is the model's own text for that name."""
        if self.prompts.name is None:
            return super().prompt_pair(family)
        own = dict(getattr(self._model, "prompts", None) or {})
        if self.prompts.name not in own:
            raise ModelError(f"model {self.model_id!r} has no prompt named "
                             f"{self.prompts.name!r}; its prompts: "
                             f"{', '.join(own) or '(none)'}")
        return own[self.prompts.name], own[self.prompts.name]

    def encode_prompted(self, sentences: Sequence[str], prompt: str,
                        batch_size: int = 64) -> np.ndarray:
        """The prompt goes to ``encode(prompt=...)``: sentence-transformers prepends it, and a
        Pooling module with ``include_prompt=False`` leaves its tokens out of the mean."""
        return self._encode(sentences, batch_size, prompt or None)

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(content_key(self.full_spec(), self.model_id, self.location),
                           self.weights_digest())

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
                "similarity": str(getattr(model, "similarity_fn_name", None) or "cosine"),
                **({"model_prompts": dict(model.prompts)} if getattr(model, "prompts", None)
                   else {}),
                **({"default_prompt_name": model.default_prompt_name}
                   if getattr(model, "default_prompt_name", None) else {}),
                **truncation_record(getattr(model, "max_seq_length", None),
                                    self.max_length is not None)}

    def length_keys(self, sentences: Sequence[str]) -> list[int]:
        model = self._model
        tokenizer = getattr(model, "tokenizer", None)
        if tokenizer is None or not callable(tokenizer):
            return super().length_keys(sentences)
        limit = getattr(model, "max_seq_length", None)
        return token_counts(tokenizer, precut(sentences, limit), limit)

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return self._encode(sentences, batch_size, None)

    def _encode(self, sentences: Sequence[str], batch_size: int, prompt: str | None
                ) -> np.ndarray:
        if not sentences:  # SentenceTransformer.encode([]) is shape (0,), not (0, d)
            model = self._model
            dim = getattr(model, "get_embedding_dimension",
                          getattr(model, "get_sentence_embedding_dimension", None))()
            return np.zeros((0, dim), dtype=np.float32)
        texts = precut(sentences, getattr(self._model, "max_seq_length", None))
        with autocast_context(self.device, self.precision):
            vectors = self._model.encode(texts, batch_size=batch_size, prompt=prompt,
                                         convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
