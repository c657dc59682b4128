"""Resolve a model name to an Encoder: a recipe in baselines/, a local path, or a hub id.

Encoder types (a recipe's ``[encoder] type``) and path resolvers (``--model FOLDER`` of a
kind bench knows, such as a training run) are two :class:`bench.registry.Registry`. The
built-in ones are declared below as lazy ``"module:attr"`` entries, one line each, imported
on first use: this module imports none of them (``simcse-run`` lives in ``bench.train``,
above this layer, and is named, not imported, exactly as a plugin's entry point would name
it). A third-party package adds a type with an entry point::

    [project.entry-points."bench.encoder-types"]
    my-type = "my_package.encoders:factory"   # factory(config, options, name) -> Encoder
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.encoders.base import Encoder
from bench.errors import ModelError
from bench.prompts import Prompts
from bench.recipes import load_recipes
from bench.registry import Registry, suggest


@dataclass(frozen=True)
class EncoderOptions:
    """Run-time choices that are not part of a recipe."""

    device: str = "cpu"
    precision: str = "fp32"
    pooler: str | None = None  # for paths and hub ids; overrides a recipe's pooler when set
    data_dir: str | None = None  # for encoders fitted on task data (post-processors)
    cache_dir: str | None = None  # embedding cache root (post-processors keep fitted state there)
    use_cache: bool = True  # False (--no-cache): post-processors neither read nor write it
    max_length: int | None = None  # truncation in tokens; overrides a recipe's when set
    dtype: str | None = None  # load dtype (fp32 | fp16 | bf16); overrides a recipe's when set
    prompts: Prompts | None = None  # --prompt...; replaces a recipe's prompts when set


Factory = Callable[[dict[str, Any], EncoderOptions, str], Encoder]
PathResolver = Callable[[Path, EncoderOptions], "Encoder | None"]

ENCODER_TYPES: Registry[Factory] = Registry("encoder type")  # entry points: bench.encoder-types
# Tried in order on an existing path, before bench's own folder and file kinds.
PATH_RESOLVERS: Registry[PathResolver] = Registry("encoder path resolver")

ENCODER_TYPES.register("transformer", "bench.encoders.builtin:transformer")
ENCODER_TYPES.register("sentence-transformers", "bench.encoders.builtin:sentence_transformers")
ENCODER_TYPES.register("glove-avg", "bench.encoders.builtin:glove_avg")
ENCODER_TYPES.register("postprocessed", "bench.encoders.postprocessed:factory")
ENCODER_TYPES.register("paper-model", "bench.encoders.paper:paper_model")
ENCODER_TYPES.register("simcse-run", "bench.train.checkpoint:from_recipe")
PATH_RESOLVERS.register("simcse-run", "bench.train.checkpoint:resolve_path")


def register_type(type_name: str, factory: Factory | str, *, replace: bool = False) -> None:
    """Add an encoder type: ``factory(config, options, name) -> Encoder`` or ``"module:attr"``."""
    ENCODER_TYPES.register(type_name, factory, replace=replace)


def register_path_resolver(name: str, resolver: PathResolver | str, *,
                           replace: bool = False) -> None:
    """Add a resolver: ``resolver(path, options) -> Encoder | None`` (None: not mine)."""
    PATH_RESOLVERS.register(name, resolver, replace=replace)


def build(config: dict[str, Any], options: EncoderOptions, name: str) -> Encoder:
    """Build an encoder from a recipe's ``[encoder]`` table."""
    kind = config.get("type")
    if not isinstance(kind, str) or kind not in ENCODER_TYPES:
        raise ModelError(f"model {name!r}: unknown encoder type {kind!r}"
                         f"{suggest(str(kind), ENCODER_TYPES.names())}; "
                         f"valid: {', '.join(sorted(ENCODER_TYPES.names()))}")
    encoder = ENCODER_TYPES.get(kind)(config, options, name)
    if kind != "postprocessed":  # a post-processor's base encodes: it got them when built
        _set_prompts(encoder, options.prompts if options.prompts is not None
                     else Prompts.from_config(config, name))
    return encoder


def _set_prompts(encoder: Encoder, prompts: Prompts) -> None:
    if prompts:
        encoder.set_prompts(prompts)


_HUB_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _looks_like_hub_id(name: str) -> bool:
    """``org/name`` or a bare legacy id such as ``bert-base-uncased`` (the Hugging Face hub's
    repository-name characters: letters, digits, ``-``, ``_``, ``.``)."""
    parts = name.split("/")
    return 1 <= len(parts) <= 2 and all(_HUB_PART.match(p) for p in parts) \
        and not name.endswith(".txt")


def _recipe_hint(name: str, recipes: dict[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(recipes), n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"; {name!r} is not a recipe either{hint} (valid recipes: {', '.join(sorted(recipes))})"


def resolve(name: str, options: EncoderOptions = EncoderOptions()) -> Encoder:
    """Turn what the user typed after ``--model`` into an Encoder, or fail with valid choices."""
    recipes = load_recipes()
    if not name.strip():
        raise ModelError(f"--model is empty; give a recipe name ({', '.join(sorted(recipes))}), "
                         "a local path or a hub id")
    if name in recipes:
        config = dict(recipes[name].encoder)
        if options.pooler:
            config["pooler"] = options.pooler
        return build(config, options, name)
    path = Path(name).expanduser()
    if path.exists():
        for _, resolver in PATH_RESOLVERS.items():
            encoder = resolver(path, options)
            if encoder is not None:
                if options.prompts is not None:
                    _set_prompts(encoder, options.prompts)
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
        encoder = build({"type": "transformer", "model": name,
                         "pooler": options.pooler or "cls"}, options, name)
        if "/" not in name and hasattr(encoder, "not_found_hint"):
            encoder.not_found_hint = _recipe_hint(name, recipes)  # a typo of a recipe?
        return encoder
    raise ModelError(f"unknown model {name!r}; valid recipes: {', '.join(sorted(recipes))} "
                     f"(or a local path, or a hub id such as org/name with --pooler)")
