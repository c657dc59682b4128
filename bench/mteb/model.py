"""bench encoders as MTEB models: ``as_model(...)`` implements mteb 2's ``EncoderProtocol``
(``mteb/models/models_protocols.py``) so any model bench evaluates (recipes such as
``minilm-whitening-nli``, SimCSE runs trained here, model objects) runs on any MTEB task.

``encode`` receives a DataLoader of ``{"text": [...]}`` batches, one column of one split at a
time; the sentences go through bench's own path (deduplicated, the embedding cache keyed by
the encoder's fingerprint, post-processors applied), so vectors equal ``bench run``'s. A
post-processor fitted on each task's own sentences ("target" fit) cannot be one: MTEB never
hands the model a task's sentences at once. Similarity is cosine, as in every bench run.
Needs the ``mteb`` package (``pip install 'sentbench[mteb]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.embed import encode_tasks
from bench.encoders.base import Encoder
from bench.errors import MtebError
from bench.reports import slug

try:
    from mteb.models.abs_encoder import AbsEncoder
    from mteb.models.model_meta import ModelMeta, ScoringFunction
except ImportError:  # pragma: no cover - exercised only without the extra
    raise MtebError("bench.mteb.as_model needs the mteb package: pip install 'sentbench[mteb]'"
                    ) from None


def _meta(encoder: Encoder, name: str) -> ModelMeta:
    known = encoder.model_meta()
    return ModelMeta.create_empty({
        "name": name, "revision": known.get("revision") or f"bench-{encoder.fingerprint[:12]}",
        "n_parameters": known.get("n_parameters"), "max_tokens": known.get("max_tokens"),
        "embed_dim": known.get("embedding_dim"), "similarity_fn_name": ScoringFunction.COSINE,
        "framework": ["PyTorch"], "use_instructions": False, "modalities": ["text"]})


class BenchModel(AbsEncoder):
    """An MTEB encoder around a bench ``Encoder``."""

    def __init__(self, encoder: Encoder, *, name: str, batch_size: int = 64,
                 cache_dir: str | Path | None = None, use_cache: bool = True) -> None:
        self.encoder = encoder
        self.model = encoder
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.use_cache = use_cache
        self.mteb_model_meta = _meta(encoder, name)

    def encode(self, inputs: Any, *, task_metadata: Any, hf_split: str, hf_subset: str,
               prompt_type: Any = None, **kwargs: Any) -> np.ndarray:

        sentences: list[str] = []
        for batch in inputs:
            if "text" not in batch:
                raise MtebError(f"task {task_metadata.name}: bench models encode text; this "
                                f"task gives {', '.join(batch)}")
            sentences.extend(batch["text"])
        key = f"mteb:{task_metadata.name}:{hf_subset}:{hf_split}"
        views, _ = encode_tasks(self.encoder, {key: sentences}, cache_root=self.cache_dir,
                                use_cache=self.use_cache, batch_size=self.batch_size,
                                show_progress=False)
        return np.asarray(views[key].lookup(sentences), dtype=np.float32)


def as_model(model: Any, *, tokenizer: Any = None, pooler: str | None = None,
             name: str | None = None, device: str | None = None, precision: str = "fp32",
             batch_size: int = 64, data_dir: str | Path | None = None,
             cache_dir: str | Path | None = None, use_cache: bool = True) -> BenchModel:
    """An MTEB model around ``model`` (see module doc); ``name`` is MTEB's ``org/model``
    (default ``bench/<model>``)."""
    from bench.encoders.make import make_encoder  # heavy: torch (through bench.encoders.make)

    encoder = make_encoder(model, tokenizer=tokenizer, pooler=pooler, name=None, device=device,
                           precision=precision, data_dir=data_dir, cache_dir=cache_dir,
                           use_cache=use_cache)
    if getattr(encoder, "fit", None) == "target":
        raise MtebError(f"model {encoder.name!r} fits its post-processor on each task's own "
                        f"sentences; MTEB hands a model one column of a split at a time, so "
                        f"it cannot be an MTEB model (use its -nli variant)")
    label = name or f"bench/{slug(str(model) if isinstance(model, str | Path) else encoder.name)}"
    if "/" not in label:
        raise MtebError(f"name {label!r}: MTEB model names are org/model")
    return BenchModel(encoder, name=label, batch_size=batch_size, cache_dir=cache_dir,
                      use_cache=use_cache)
