"""Resolve a model name to an Encoder: a recipe in baselines/, a local path, or a hub id.

Encoder types are registered by name so that new kinds (post-processed encoders,
SimCSE run folders) plug in without touching the resolution logic.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.encoders.base import Encoder
from bench.errors import ModelError
from bench.recipes import load_recipes


@dataclass(frozen=True)
class EncoderOptions:
    """Run-time choices that are not part of a recipe."""

    device: str = "cpu"
    precision: str = "fp32"
    pooler: str | None = None  # for paths and hub ids; overrides a recipe's pooler when set
    data_dir: str | None = None  # for encoders fitted on task data (post-processors)
    cache_dir: str | None = None  # embedding cache root (post-processors keep fitted state there)
    use_cache: bool = True  # False (--no-cache): post-processors neither read nor write it


Factory = Callable[[dict[str, Any], EncoderOptions, str], Encoder]
PathResolver = Callable[[Path, EncoderOptions], "Encoder | None"]

_TYPES: dict[str, Factory] = {}
_PATH_RESOLVERS: list[PathResolver] = []
# Modules that register encoder types or path resolvers when imported.
PLUGIN_MODULES: tuple[str, ...] = ("bench.encoders.builtin", "bench.encoders.postprocessed",
                                   "bench.train.checkpoint", "bench.encoders.paper")
_plugins_loaded = False


def register_type(type_name: str, factory: Factory) -> None:
    _TYPES[type_name] = factory


def register_path_resolver(resolver: PathResolver) -> None:
    _PATH_RESOLVERS.append(resolver)


def _load_plugins() -> None:
    global _plugins_loaded
    if not _plugins_loaded:
        for module in PLUGIN_MODULES:
            importlib.import_module(module)
        _plugins_loaded = True


def encoder_types() -> list[str]:
    _load_plugins()
    return sorted(_TYPES)


def build(config: dict[str, Any], options: EncoderOptions, name: str) -> Encoder:
    """Build an encoder from a recipe's ``[encoder]`` table."""
    _load_plugins()
    kind = config.get("type")
    if kind not in _TYPES:
        raise ModelError(f"model {name!r}: unknown encoder type {kind!r}; "
                         f"valid: {', '.join(sorted(_TYPES))}")
    return _TYPES[kind](config, options, name)


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def resolve(name: str, options: EncoderOptions = EncoderOptions()) -> Encoder:
    """Turn what the user typed after ``--model`` into an Encoder, or fail with valid choices."""
    _load_plugins()
    recipes = load_recipes()
    if name in recipes:
        config = dict(recipes[name].encoder)
        if options.pooler:
            config["pooler"] = options.pooler
        return build(config, options, name)
    path = Path(name).expanduser()
    if path.exists():
        for resolver in _PATH_RESOLVERS:
            encoder = resolver(path, options)
            if encoder is not None:
                return encoder
        if path.is_file() and path.suffix == ".txt":
            return build({"type": "glove-avg", "vectors": str(path)}, options, name)
        if path.is_dir() and (path / "modules.json").is_file() and not options.pooler:
            return build({"type": "sentence-transformers", "model": str(path)}, options, name)
        if path.is_dir() and (path / "config.json").is_file():
            return build({"type": "transformer", "model": str(path),
                          "pooler": options.pooler or "cls"}, options, name)
        raise ModelError(f"model path {name!r} is neither a Hugging Face model folder, a "
                         f"sentence-transformers folder, a bench run nor a GloVe .txt file")
    if name.startswith("packaged:") or _looks_like_hub_id(name):
        return build({"type": "transformer", "model": name, "pooler": options.pooler or "cls"},
                     options, name)
    raise ModelError(f"unknown model {name!r}; valid recipes: {', '.join(sorted(recipes))} "
                     f"(or a local path, or a hub id such as org/name with --pooler)")
