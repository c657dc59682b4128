"""The encoder interface: ``encode`` plus a ``fingerprint``; nothing else is required."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from bench.errors import ModelError
from bench.fingerprint import fingerprint as _fingerprint
from bench.prompts import NO_PROMPTS, Prompts

PRECISIONS = ("fp32", "bf16", "fp16")


def checked_vectors(model: str, vectors: Any, count: int, dim: int | None = None) -> np.ndarray:
    """What an encoder returned for ``count`` sentences, as an array, if it is a 2-D array of
    real numbers with one row per sentence (and ``dim`` columns, when an earlier batch set
    the dimension); else one ModelError naming the model. Strings, complex numbers, ragged
    lists or a changing dimension would otherwise end in a raw numpy error, or be scored.
    Non-finite values are counted and refused where the vectors are gathered (``bench.embed``).
    """
    if hasattr(vectors, "detach"):  # a torch tensor
        vectors = vectors.detach().float().cpu().numpy()
    try:
        array = np.asarray(vectors)
    except (ValueError, TypeError):  # ragged nested lists
        raise ModelError(f"model {model!r} returned no rectangular array for {count} "
                         f"sentences (rows of different lengths?)") from None
    if array.dtype.kind not in "fiu":
        raise ModelError(f"model {model!r} returned {array.dtype} values for {count} "
                         f"sentences; expected real numbers")
    if array.ndim != 2 or array.shape[0] != count:
        raise ModelError(f"model {model!r} returned an array of shape {array.shape} for "
                         f"{count} sentences; expected ({count}, dim)")
    if dim is not None and array.shape[1] != dim:
        raise ModelError(f"model {model!r} returned vectors of dimension {array.shape[1]} "
                         f"after vectors of dimension {dim}; the dimension must not change")
    return array


class Encoder(ABC):
    """Maps sentences to vectors.

    Subclasses implement :meth:`encode`, :meth:`spec` (a JSON-serialisable description
    of everything that changes the vectors) and :meth:`weights_digest`. The fingerprint,
    used as the embedding-cache key and written into reports, derives from both.
    """

    name: str = "encoder"
    cacheable: bool = True  # False: its fingerprint cannot stand for its vectors (a callable)
    prompts: Prompts = NO_PROMPTS  # set with set_prompts; part of the spec when set
    # Which weights a name stood for, when a name can stand for several (bench.encoders.paper)
    provenance: dict[str, Any] | None = None

    @abstractmethod
    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Return an (n, d) float array (float32, or float64 where precision matters)."""

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """Configuration that determines the vectors (model, pooler, precision, ...)."""

    def weights_digest(self) -> str | None:
        """Digest of the weights the encoder uses; None when the spec says it all."""
        return None

    def full_spec(self) -> dict[str, Any]:
        """``spec()`` plus the prompts when any are set: what the fingerprint and the report
        record (an unprompted encoder keeps the fingerprint it always had)."""
        spec = self.spec()
        return {**spec, "prompts": self.prompts.to_dict()} if self.prompts else spec

    @cached_property
    def fingerprint(self) -> str:
        return _fingerprint(self.full_spec(), self.weights_digest())

    def set_prompts(self, prompts: Prompts) -> None:
        """Use ``prompts`` from now on (before the first fingerprint: it covers them)."""
        self.prompts = prompts
        self.__dict__.pop("fingerprint", None)

    def prompt_pair(self, family: str, task: str | None = None) -> tuple[str, str]:
        """The texts put before side a and side b of a ``family`` task ("" = none)."""
        return self.prompts.pair(family, task)  # task: MTEB-keyed instructions

    def encode_prompted(self, sentences: Sequence[str], prompt: str,
                        batch_size: int = 64) -> np.ndarray:
        """Vectors of ``prompt`` + each sentence. Encoders whose library takes the prompt
        apart from the text (sentence-transformers) override this."""
        if not prompt:
            return self.encode(sentences, batch_size=batch_size)
        return self.encode([prompt + s for s in sentences], batch_size=batch_size)

    def length_keys(self, sentences: Sequence[str]) -> list[int]:
        """Per-sentence cost proxy for batching: sentences of equal key share a batch.

        Characters by default; encoders with a tokenizer count tokens, which is what padding
        is made of (on the transfer tasks, sorting by tokens instead of characters removes
        over a quarter of the padded positions).
        """
        return [len(s) for s in sentences]

    def source_encoder(self) -> Encoder:
        """The encoder whose vectors are computed and cached (a post-processor's base)."""
        return self

    def task_view(self, task: str, sentences: Sequence[str], table: Any) -> Any:
        """Vectors as this encoder gives them for one task, from the source encoder's table.

        Identity for plain encoders; post-processors fitted per task ("target") or on a fixed
        set ("nli") return a transformed ``EmbeddingTable`` here.
        """
        return table

    def model_meta(self) -> dict[str, Any]:
        """What is known of the model beyond its spec, for the report's model record (the
        fields of MTEB's ``ModelMeta``): ``revision``, ``embedding_dim``, ``n_parameters``,
        ``max_tokens``, ``similarity``, ``training_data``. Unknown fields are left out."""
        return {}

    def describe(self) -> dict[str, Any]:
        """What a report records about the encoder."""
        out = {"name": self.name, "spec": self.full_spec(), "fingerprint": self.fingerprint}
        if self.provenance:
            out["weights_from"] = dict(self.provenance)
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.full_spec().items())
        return f"{type(self).__name__}({args})"
