"""Encoders around objects a user already holds: a loaded Hugging Face model and tokenizer, a
``SentenceTransformer``, or any callable ``encode(list[str]) -> array``.

Loaded models are fingerprinted by their weights in memory (a sha256 over the state dict) and
by everything else about the object that changes a vector (``setup_digest``): the tokenizer
(vocabulary, added tokens, normalisation, its settings), the model config, and for a
``SentenceTransformer`` every module's config (pooling mode, normalisation, dense layers), its
maximum length and its own prompts. Precision, dtype, pooler and max_length are in the spec.
So the embedding cache is shared with nothing else, and reused only when the same setup
comes back: the same weights with another tokenizer, or another pooling, get another key.
A plain callable cannot be fingerprinted: it is never cached unless the caller names a
``fingerprint`` that stands for it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.encoders.base import Encoder, checked_vectors
from bench.encoders.packaged import PACKAGED, packaged_path
from bench.encoders.sbert import SentenceTransformerEncoder
from bench.encoders.transformer import DTYPES, TransformerEncoder
from bench.errors import ModelError


def state_dict_digest(module: Any) -> str:
    """sha256 over a torch module's parameters and buffers, in name order, dtype included."""

    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# Settings that say where a tokenizer or config was loaded from, not what it does: left out so
# the same setup loaded from two folders gets one key.
_WHERE_FROM = ("name_or_path", "_name_or_path", "vocab_file", "tokenizer_file", "merges_file",
               "is_local", "local_files_only", "cache_dir", "_commit_hash", "transformers_version")


def _plain(value: Any) -> Any:
    """A JSON-able, deterministic view of a config value (never a repr with an address)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if k not in _WHERE_FROM}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if hasattr(value, "content"):  # a tokenizers AddedToken
        return {k: _plain(getattr(value, k, None))
                for k in ("content", "single_word", "lstrip", "rstrip", "normalized", "special")}
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def tokenizer_setup(tokenizer: Any) -> dict[str, Any]:
    """What a tokenizer does: its fast backend's full description (vocabulary, added tokens,
    normaliser, pre-tokeniser, post-processor) or its vocabulary, and its settings. The
    backend's truncation/padding state is left out: calls change it, the encoder sets both."""
    setup: dict[str, Any] = {"class": type(tokenizer).__qualname__,
                             "settings": _plain(dict(getattr(tokenizer, "init_kwargs", {})))}
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        described = json.loads(backend.to_str())
        setup["backend"] = {k: v for k, v in described.items()
                            if k not in ("truncation", "padding")}
    else:
        setup["vocab"] = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    for attr in ("padding_side", "truncation_side", "model_max_length", "do_lower_case"):
        if hasattr(tokenizer, attr):
            setup[attr] = _plain(getattr(tokenizer, attr))
    setup["added"] = _plain(dict(sorted(getattr(tokenizer, "get_added_vocab", dict)().items())))
    return setup


def model_config(model: Any) -> dict[str, Any]:
    """A Hugging Face model's config (activation, layer-norm epsilon, ...), where-from left out."""
    config = getattr(model, "config", None)
    return _plain(config.to_dict()) if config is not None and hasattr(config, "to_dict") else {}


def sentence_transformer_setup(model: Any) -> dict[str, Any]:
    """Every module in order (class and config; a Transformer's model config too), the
    tokenizer, the maximum length, the model's own prompts and default prompt name."""
    modules = []
    for _, module in model.named_children():
        entry: dict[str, Any] = {"class": f"{type(module).__module__}."
                                          f"{type(module).__qualname__}"}
        if callable(getattr(module, "get_config_dict", None)):
            entry["config"] = _plain(module.get_config_dict())
        inner = getattr(module, "auto_model", None)
        if inner is not None:
            entry["model_config"] = model_config(inner)
        modules.append(entry)
    tokenizer = getattr(model, "tokenizer", None)
    return {"modules": modules,
            "tokenizer": tokenizer_setup(tokenizer) if tokenizer is not None else None,
            "max_seq_length": _plain(getattr(model, "max_seq_length", None)),
            "prompts": _plain(dict(getattr(model, "prompts", None) or {})),
            "default_prompt_name": _plain(getattr(model, "default_prompt_name", None)),
            "truncate_dim": _plain(getattr(model, "truncate_dim", None))}


def setup_digest(setup: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(setup, sort_keys=True).encode()).hexdigest()


def object_digest(module: Any, setup: dict[str, Any]) -> str:
    """The key of an object model: its weights and its setup, together."""
    return hashlib.sha256(f"{state_dict_digest(module)}:{setup_digest(setup)}".encode()
                          ).hexdigest()


def dtype_name(module: Any) -> str:
    """fp32 / fp16 / bf16: the dtype of a loaded model's first floating-point parameter."""

    names = {v: k for k, v in DTYPES.items()}
    for p in module.parameters():
        if p.is_floating_point():
            return names.get(p.dtype, str(p.dtype).removeprefix("torch."))
    return "fp32"


_SNAPSHOT = re.compile(r"^models--(.+)--([^-].*)$")  # the hub cache: models--ORG--NAME


def _packaged_names() -> dict[Path, str]:
    """Packaged models' folders -> their names (``all-MiniLM-L6-v2``); installed ones only."""
    out = {}
    for key in PACKAGED:
        try:
            out[packaged_path(key).resolve()] = key
        except ModelError:
            continue
    return out


def _card_title(folder: Path) -> str:
    """A model card's title (``# all-MiniLM-L6-v2``) when it is one name, else ``""``."""
    try:
        with open(folder / "README.md", encoding="utf-8", errors="replace") as card:
            for line in itertools.islice(card, 200):
                if line.startswith("# "):
                    title = line[2:].strip()
                    return title if re.fullmatch(r"[\w.-]{1,96}", title) else ""
    except OSError:
        pass
    return ""


def _where_label(where: str) -> str:
    """A short name for where a model was loaded from: a hub id as is; for a folder, the hub
    id of a hub-cache snapshot, the packaged model's name, its card's title or the folder's
    name. Never an absolute path (it would end up in reports and tables)."""
    folder = Path(where).expanduser()
    if not where or not folder.exists():
        return where
    if folder.parent.name == "snapshots" and _SNAPSHOT.match(folder.parent.parent.name):
        return "/".join(_SNAPSHOT.match(folder.parent.parent.name).groups())  # type: ignore[union-attr]
    packaged = _packaged_names().get(folder.resolve())
    return packaged or _card_title(folder) or folder.resolve().name


def object_name(model: Any, fallback: str = "") -> str:
    """A model object's name for reports and tables, so that it is not just its class name:
    a ``SentenceTransformer``'s model card (``base_model``, the hub id it was loaded as, or
    ``model_name``), else the ``name_or_path`` of its first module's model; a Hugging Face
    model's ``name_or_path``; the function's name for a callable. ``name=`` overrides it."""
    card = getattr(model, "model_card_data", None)
    for value in (getattr(card, "base_model", None), getattr(card, "model_name", None)):
        if isinstance(value, str) and value:
            return value
    inner = model
    if _is_sentence_transformer(model):
        first = next(iter(model.children()), None)
        inner = getattr(first, "auto_model", first)
    config = getattr(inner, "config", None)
    where = getattr(inner, "name_or_path", None) or getattr(config, "_name_or_path", None)
    label = _where_label(str(where)) if isinstance(where, str | Path) and str(where) else ""
    return label or fallback or getattr(model, "__qualname__", "") or type(model).__name__


def _model_name(model: Any, fallback: str) -> str:
    """The hub id a model was loaded from, or a short name for its folder (see object_name)."""
    return object_name(model, fallback)


class LoadedTransformerEncoder(TransformerEncoder):
    """A Hugging Face model object plus its tokenizer, pooled as ``bench run --pooler`` pools."""

    def __init__(self, model: Any, tokenizer: Any, pooler: str = "cls", *,
                 first_layer: str = "first", max_length: int | None = None,
                 device: str | None = None, precision: str = "fp32",
                 name: str | None = None) -> None:
        device = device or str(next(model.parameters()).device)
        label = _model_name(model, type(model).__name__)
        super().__init__(label, pooler, first_layer=first_layer, max_length=max_length,
                         device=device, precision=precision, name=name or f"{label}[{pooler}]")
        model.eval().to(self.device)
        self.dtype = dtype_name(model)  # what the object holds: the spec records it
        self.__dict__["_loaded"] = (tokenizer, model)  # the cached_property, filled

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "type": "transformer-object"}

    def weights_digest(self) -> str | None:
        # computed when the fingerprint is first needed (a cached run), not per construction
        tokenizer, model = self._loaded
        return object_digest(model, {"tokenizer": tokenizer_setup(tokenizer),
                                     "model_config": model_config(model)})

    def describe(self) -> dict[str, Any]:
        return Encoder.describe(self)  # weights in memory: no folder, no hub revision


class LoadedSentenceTransformerEncoder(SentenceTransformerEncoder):
    """A ``SentenceTransformer`` object, encoded through its own ``encode``."""

    def __init__(self, model: Any, *, precision: str = "fp32", max_length: int | None = None,
                 name: str | None = None) -> None:
        label = object_name(model)
        super().__init__(label, device=str(model.device), precision=precision,
                         max_length=max_length, name=name or label)
        if max_length is not None:
            model.max_seq_length = max_length
        self.dtype = dtype_name(model)
        self.__dict__["_model"] = model

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "type": "sentence-transformers-object"}

    def weights_digest(self) -> str | None:
        return object_digest(self._model, sentence_transformer_setup(self._model))

    def describe(self) -> dict[str, Any]:
        return Encoder.describe(self)


class CallableEncoder(Encoder):
    """Any function from a list of sentences to an (n, d) array."""

    def __init__(self, function: Callable[[list[str]], Any], *, name: str | None = None,
                 fingerprint: str | None = None) -> None:
        if not callable(function):
            raise ModelError(f"model {function!r} is not callable")
        self.function = function
        self.name = name or _callable_name(function)
        self._fixed = fingerprint
        self.cacheable = fingerprint is not None

    def spec(self) -> dict[str, Any]:
        return {"type": "callable", "name": self.name, "fingerprint": self._fixed}

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        out: list[np.ndarray] = []
        for start in range(0, len(sentences), batch_size):
            batch = list(sentences[start:start + batch_size])
            out.append(checked_vectors(self.name, self.function(batch), len(batch),
                                       out[0].shape[1] if out else None))
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def _callable_name(function: Any) -> str:
    """A function's name; a lambda's or a bound method's owner says more than ``<lambda>``:
    ``<lambda>`` becomes ``module.<lambda>`` with its line, so two lambdas differ in a table."""
    qualname = getattr(function, "__qualname__", "") or type(function).__qualname__
    qualname = qualname.rsplit("<locals>.", 1)[-1]  # a function defined in a function
    if "<lambda>" not in qualname:
        return qualname
    code = getattr(function, "__code__", None)
    where = f"{Path(code.co_filename).stem}:{code.co_firstlineno}" if code is not None else ""
    return f"lambda@{where}" if where else "lambda"


def _is_sentence_transformer(model: Any) -> bool:
    return any(c.__module__.startswith("sentence_transformers") and c.__name__ ==
               "SentenceTransformer" for c in type(model).__mro__)


def _is_hf_model(model: Any) -> bool:
    return any(c.__name__ == "PreTrainedModel" and c.__module__.startswith("transformers")
               for c in type(model).__mro__)


def wrap(model: Any, *, tokenizer: Any = None, pooler: str | None = None,
         precision: str = "fp32", device: str | None = None, max_length: int | None = None,
         name: str | None = None) -> Encoder:
    """An Encoder for a model object (see module doc); ModelError for anything else."""
    if isinstance(model, Encoder):
        return model
    if isinstance(model, tuple) and len(model) == 2 and tokenizer is None:
        model, tokenizer = model
    if _is_sentence_transformer(model):
        return LoadedSentenceTransformerEncoder(model, precision=precision,
                                                max_length=max_length, name=name)
    if _is_hf_model(model):
        if tokenizer is None:
            raise ModelError(f"model {_model_name(model, type(model).__name__)!r}: a Hugging "
                             f"Face model needs its tokenizer (tokenizer=...) and a pooler")
        return LoadedTransformerEncoder(model, tokenizer, pooler or "cls", device=device,
                                        precision=precision, max_length=max_length, name=name)
    if callable(model):
        return CallableEncoder(model, name=name)
    raise ModelError(f"cannot evaluate a {type(model).__name__}: pass a recipe name or path, "
                     f"a SentenceTransformer, a Hugging Face model with tokenizer=, or a "
                     f"callable encode(list[str]) -> array")
