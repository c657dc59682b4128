"""Any Hugging Face encoder with SimCSE's poolers (tokenised as evaluation.py: padding;
inputs past the model's limit are truncated to it, ``bench.encoders.limits``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.devices import check_device
from bench.encoders.base import PRECISIONS, Encoder
from bench.encoders.cls_only import cls_only_last_layer
from bench.encoders.limits import model_max_tokens, precut, truncation_record
from bench.encoders.packaged import is_packaged, packaged_path
from bench.encoders.pooling import FIRST_LAYERS, POOLERS, needs_hidden_states, pool, uses_cls_only
from bench.errors import ModelError
from bench.fingerprint import fingerprint, folder_digest

_AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def torch_dtype(dtype: str) -> torch.dtype:
    """The torch dtype a model's weights are loaded in (``--dtype``), or a one-line error."""
    if dtype not in DTYPES:
        raise ModelError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
    return DTYPES[dtype]


def check_loading_options(model: str, precision: str, dtype: str,
                          max_length: int | None) -> None:
    """The options every Hugging Face-backed encoder takes, checked before anything loads."""
    check_precision(precision)
    torch_dtype(dtype)
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise ModelError(f"model {model!r}: max_length must be a positive number of tokens, "
                         f"got {max_length!r}")


def resolve_model_location(model: str) -> str:
    """A packaged name, a local folder or a hub id, as a string transformers accepts."""
    if is_packaged(model):
        return str(packaged_path(model))
    return str(Path(model).expanduser()) if Path(model).expanduser().exists() else model


def local_snapshot(location: str) -> Path | None:
    """The folder holding a model's files: the path itself, or its hub-cache snapshot."""
    if Path(location).is_dir():
        return Path(location)
    try:
        from huggingface_hub import snapshot_download  # heavy: huggingface_hub

        return Path(snapshot_download(location, local_files_only=True))
    except Exception:
        return None


def hub_revision(folder: Path) -> str | None:
    """The commit hash a hub-cache snapshot holds, or None for a plain folder.

    huggingface_hub's cache layout: ``<hub cache>/models--ORG--NAME/snapshots/<commit>/``,
    with ``refs/<branch>`` naming the commit a branch pointed to when it was downloaded.
    """
    folder = Path(folder)
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder.name
    return None


def weights_folder(location: str, display: str, load: Callable[[], object]) -> Path:
    """The local folder of the files a model's vectors come from.

    A hub id is loaded first: before a download there is no snapshot (a fingerprint taken
    then would rest on the spec alone), and a load with the hub reachable may fetch a newer
    revision than the snapshot found before it. The vectors need the loaded model anyway.
    """
    if not Path(location).is_dir():
        load()  # downloads a hub model, or raises a ModelError naming it
    folder = local_snapshot(location)
    if folder is None:
        raise ModelError(f"model {display!r} loaded, but its files are in no local folder or "
                         f"Hugging Face cache snapshot, so its weights cannot be fingerprinted")
    return folder


LOCAL_FOLDER = "<local folder: keyed by its files>"


def content_key(spec: dict[str, Any], model: str, location: str) -> dict[str, Any]:
    """The spec a fingerprint covers: a local model folder is named by its files (the weights
    digest), not by the path as typed, so ``model``, ``../x/model``, a hard-linked copy and a
    run's ``best/`` beside its identical last checkpoint share one cache entry. Packaged names
    and hub ids keep their name (and the fingerprints they always had)."""
    if is_packaged(model) or not Path(location).is_dir():
        return spec
    return {**spec, "model": LOCAL_FOLDER}


def describe_weights(folder: Path) -> dict[str, Any]:
    """What a report records to name the exact weights: the hub commit, when there is one."""
    revision = hub_revision(folder)
    return {"revision": revision} if revision else {}


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    return precision


def autocast_context(device: str, precision: str):
    """torch.autocast for bf16/fp16, a no-op for fp32."""
    if check_precision(precision) == "fp32":
        return nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=_AUTOCAST[precision])


def load_hf(location: str, display: str, dtype: str = "fp32"):
    """Load tokenizer and model (weights in ``dtype``), turning hub/network failures into one
    clear line."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers import AutoModel, AutoTokenizer  # heavy: transformers
    from transformers.utils import logging as hf_logging  # heavy: transformers

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # "Loading weights" bars: noise in logs and tests
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=False)
        model = AutoModel.from_pretrained(location, dtype=torch_dtype(dtype),
                                          trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if Path(location).is_dir():  # the folder exists: its contents are at fault
            raise ModelError(f"cannot load model {display!r} from the folder {location}: "
                             f"{first[:200]} (check its config.json and weight files)") from None
        raise ModelError(
            f"cannot load model {display!r}: {first[:200]} (no local folder of that name and the "
            f"model hub is not reachable or has no such model; download it elsewhere and pass "
            f"its local path)"
        ) from None
    return tokenizer, model


def hf_model_meta(tokenizer: Any, model: Any, max_length: int | None) -> dict[str, Any]:
    """Parameter count, hidden size and the longest input of a loaded Hugging Face model."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if max_length is not None:
        limit = min(limit, max_length) if limit else max_length
    return {"n_parameters": int(sum(p.numel() for p in model.parameters())),
            "embedding_dim": getattr(model.config, "hidden_size", None), "max_tokens": limit}


def token_counts(tokenizer: Any, sentences: Sequence[str], max_length: int | None,
                 chunk: int = 4096) -> list[int]:
    """Tokens per sentence (special tokens included, capped at ``max_length``)."""
    counts: list[int] = []
    for start in range(0, len(sentences), chunk):
        ids = tokenizer(list(sentences[start:start + chunk]), add_special_tokens=True,
                        return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        counts.extend(len(x) for x in ids)
    if max_length is not None:
        counts = [min(c, max_length) for c in counts]
    return counts


def tokenize(tokenizer: Any, texts: Sequence[str], limit: int | None) -> dict[str, list]:
    """Token ids (and type ids) of each text, cut to ``limit`` tokens as ``encode`` cuts them;
    not padded."""
    return tokenizer(list(texts), truncation=limit is not None, max_length=limit,
                     return_attention_mask=False)


def padded(rows: Sequence[Mapping[str, Sequence[int]]], pad_id: int, side: str
           ) -> dict[str, torch.Tensor]:
    """Rows of ``tokenize`` as one batch, as ``tokenizer(..., padding=True)`` pads it: ids
    padded with ``pad_id`` on ``side``, attention mask 1 on tokens, type ids padded with 0."""
    width = max(len(r["input_ids"]) for r in rows)
    keys = [k for k in ("input_ids", "token_type_ids") if k in rows[0]]
    out = {k: np.full((len(rows), width), pad_id if k == "input_ids" else 0, dtype=np.int64)
           for k in keys}
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        cols = slice(width - n, width) if side == "left" else slice(0, n)
        for k in keys:
            out[k][i, cols] = r[k]
        mask[i, cols] = 1
    out["attention_mask"] = mask
    return {k: torch.from_numpy(v) for k, v in out.items()}


class TransformerEncoder(Encoder):
    """A Hugging Face ``AutoModel`` pooled as in SimCSE's ``evaluation.py``."""

    def __init__(self, model: str, pooler: str = "cls", *, first_layer: str = "first",
                 max_length: int | None = None, device: str = "cpu", precision: str = "fp32",
                 dtype: str = "fp32", name: str | None = None,
                 ignore_files: Sequence[str] = ()) -> None:
        """``ignore_files``: files of the model folder that do not change the vectors (a
        training checkpoint's optimizer state), left out of the weights digest."""
        if pooler not in POOLERS:
            raise ModelError(f"unknown pooler {pooler!r} for {model!r}; valid: {', '.join(POOLERS)}")
        if first_layer not in FIRST_LAYERS:
            raise ModelError(f"unknown first_layer {first_layer!r}; valid: {', '.join(FIRST_LAYERS)}")
        check_loading_options(model, precision, dtype, max_length)
        self.dtype = dtype
        self.model_id = model
        self.pooler = pooler
        self.first_layer = first_layer
        self.max_length = max_length
        self.device = check_device(device)
        self.precision = precision
        self.name = name or f"{model}[{pooler}]"
        self.location = resolve_model_location(model)
        self.not_found_hint = ""  # added to the error when no model of that name exists
        self.ignore_files = tuple(ignore_files)
        # tokens of the texts length_keys planned, kept for encode: each text tokenized once
        self._tokens: dict[str, dict[str, list[int]]] = {}

    @cached_property
    def _loaded(self):
        try:
            tokenizer, model = load_hf(self.location, self.model_id, self.dtype)
        except ModelError as exc:
            if not self.not_found_hint:
                raise
            raise ModelError(f"{exc}{self.not_found_hint}") from None
        model.eval().to(self.device)
        return tokenizer, model

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": "transformer", "model": self.model_id,
                                "pooler": self.pooler, "precision": self.precision,
                                "max_length": self.max_length}
        if self.pooler == "avg_first_last":
            spec["first_layer"] = self.first_layer
        if self.dtype != "fp32":  # fp32 specs (and fingerprints) stay what they always were
            spec["dtype"] = self.dtype
        return spec

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(content_key(self.full_spec(), self.model_id, self.location),
                           self.weights_digest())

    @cached_property
    def weights_folder(self) -> Path:
        return weights_folder(self.location, self.model_id, lambda: self._loaded)

    def weights_digest(self) -> str:
        return folder_digest(self.weights_folder, ignore=self.ignore_files, owner=self.model_id)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **describe_weights(self.weights_folder)}

    def model_meta(self) -> dict[str, Any]:
        return {**hf_model_meta(*self._loaded, self.max_length),
                **truncation_record(self.token_limit, self.max_length is not None)}

    @cached_property
    def token_limit(self) -> int | None:
        """Tokens an input is cut to: ``max_length``, never past the model's own limit."""
        limits = [x for x in (self.max_length, model_max_tokens(*self._loaded)) if x]
        return min(limits) if limits else None

    def length_keys(self, sentences: Sequence[str]) -> list[int]:
        """Tokens per text; the tokens are kept, so ``encode`` does not tokenize again."""
        limit = self.token_limit
        texts = precut(sentences, limit)
        counts = []
        for start in range(0, len(texts), 4096):
            chunk = texts[start:start + 4096]
            tokens = tokenize(self._loaded[0], chunk, limit)
            names = list(tokens.keys())
            for j, text in enumerate(chunk):
                self._tokens[text] = {k: tokens[k][j] for k in names}
                counts.append(len(tokens["input_ids"][j]))
        return counts

    def _inputs(self, texts: list[str]) -> Mapping[str, torch.Tensor]:
        """The padded batch: from the tokens ``length_keys`` kept, else tokenized now."""
        tokenizer = self._loaded[0]
        limit = self.token_limit
        if texts and all(t in self._tokens for t in texts):
            rows = [self._tokens[t] for t in texts]
            for t in texts:  # encoded now: their tokens are not needed again
                self._tokens.pop(t, None)
            return padded(rows, tokenizer.pad_token_id or 0, tokenizer.padding_side)
        return tokenizer(texts, padding=True, truncation=limit is not None, max_length=limit,
                         return_tensors="pt")

    @torch.inference_mode()
    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        tokenizer, model = self._loaded
        out = []
        for start in range(0, len(sentences), batch_size):
            batch = list(sentences[start:start + batch_size])
            inputs = {k: v.to(self.device)
                      for k, v in self._inputs(precut(batch, self.token_limit)).items()}
            with autocast_context(self.device, self.precision), \
                    cls_only_last_layer(model, uses_cls_only(self.pooler)):
                outputs = model(**inputs, output_hidden_states=needs_hidden_states(self.pooler),
                                return_dict=True)
                vectors = pool(outputs, inputs["attention_mask"], self.pooler, self.first_layer)
            out.append(vectors.float().cpu().numpy())
        if not out:
            return np.zeros((0, model.config.hidden_size), dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)
