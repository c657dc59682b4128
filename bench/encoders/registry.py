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
from bench.paths import RUNS_DEFAULT, RUNS_ENV, recipe_run, runs_root
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


def _is_hub_id(name: str) -> bool:
    """Exactly ``org/name`` in the Hugging Face hub's repository-name characters (letters,
    digits, ``-``, ``_``, ``.``): the only form that is looked up on the hub."""
    parts = name.split("/")
    return len(parts) == 2 and all(_HUB_PART.match(p) for p in parts)


def _looks_like_path(name: str) -> bool:
    """A name meant as a file or folder, never as a hub id or recipe.

    The rule: it starts with ``.``, ``/`` or ``~``; it holds a separator other than one
    ``/`` (``a/b/c``, ``a\\b``, a trailing ``/``); it ends in ``.txt`` (a GloVe file); or
    it is ``org/name``-shaped but ``org`` is a folder here or bench's run folder root
    (``runs/NAME``, ``$BENCH_RUNS_DIR``), so ``runs/my-run`` means that run, not a hub
    model. Everything else ``org/name`` is a hub id.
    """
    if name.startswith((".", "/", "~")) or "\\" in name:
        return True
    if name.endswith(".txt") or re.match(r"^[A-Za-z]:", name):
        return True
    if "/" not in name:
        return False
    if not _is_hub_id(name):
        return True
    org = name.split("/")[0]
    return org == RUNS_DEFAULT or Path(org).is_dir() or Path(org) == runs_root()


def _close_entries(path: Path) -> list[Path]:
    """Entries next to a missing ``path`` whose names are close to its name."""
    try:
        siblings = [p.name for p in path.parent.iterdir() if not p.name.startswith(".")]
    except OSError:
        return []
    return [path.parent / c for c in difflib.get_close_matches(path.name, siblings, n=3)]


def _missing_path(name: str) -> ModelError:
    """``no such folder`` (or file): where bench looked, close entries, else the nearest
    existing parent."""
    path = Path(name).expanduser()
    what = "file" if path.suffix == ".txt" else "folder"
    looked = list(dict.fromkeys([path, recipe_run(name)]))  # runs/NAME: $BENCH_RUNS_DIR too
    hint = f" (nor {looked[1]}, under ${RUNS_ENV})" if len(looked) > 1 else ""
    close = next((c for c in map(_close_entries, looked) if c), [])
    if close:
        return ModelError(f"--model {name}: no such {what}{hint}; did you mean "
                          f"{' or '.join(map(str, close))}?")
    parent = path.parent
    while not parent.is_dir() and parent != parent.parent:
        parent = parent.parent
    if not hint and parent != path.parent:
        hint = f" (nearest existing folder: {parent})"
    return ModelError(f"--model {name}: no such {what}{hint}")


def _in_hub_cache(name: str) -> bool:
    """Whether a bare legacy hub id (``bert-base-uncased``) is in the local hub cache already;
    asks no server."""
    try:
        from huggingface_hub import try_to_load_from_cache  # heavy: huggingface_hub
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(name, "config.json"), str)


def _unknown_name(name: str, recipes: dict[str, Any]) -> ModelError:
    """A bare name that is no recipe: the closest recipes first, then where to look."""
    close = suggest(name, list(recipes))
    return ModelError(f"unknown model {name!r}{close} ('bench list models' lists the recipes; "
                      f"a hub model is org/name, a local model a path such as ./my-model)")


def check_name(name: str, recipes: dict[str, Any] | None = None) -> None:
    """The errors ``resolve`` gives for a name, without loading anything: a run checks its
    ``--model`` this way before it reads any data (a typo costs nothing)."""
    recipes = load_recipes() if recipes is None else recipes
    if not name.strip():
        raise ModelError("--model is empty; give a recipe name ('bench list models'), "
                         "a local path or a hub id (org/name)")
    if name in recipes or Path(name).expanduser().exists() or recipe_run(name).exists():
        return
    if _looks_like_path(name):
        raise _missing_path(name)
    if not (name.startswith("packaged:") or _is_hub_id(name)
            or (_HUB_PART.match(name) and _in_hub_cache(name))):
        raise _unknown_name(name, recipes)


def resolve(name: str, options: EncoderOptions = EncoderOptions()) -> Encoder:
    """Turn what the user typed after ``--model`` into an Encoder, or fail in one short line.

    In order: a recipe; an existing path; a path-like name that does not exist ("no such
    folder", see :func:`_looks_like_path`); ``packaged:NAME``; an ``org/name`` hub id. A bare
    name that is none of these gets the closest recipes and never reaches the hub (a legacy
    bare hub id is accepted only when it is in the local hub cache already).
    """
    recipes = load_recipes()
    check_name(name, recipes)
    if name in recipes:
        config = dict(recipes[name].encoder)
        if options.pooler:
            config["pooler"] = options.pooler
        return build(config, options, name)
    path = Path(name).expanduser()
    if not path.exists() and recipe_run(name).exists():
        path = recipe_run(name)  # runs/NAME under $BENCH_RUNS_DIR, where bench train wrote it
    if path.exists():
        for _, resolver in PATH_RESOLVERS.items():
            encoder = resolver(path, options)
            if encoder is not None:
                if path != Path(name).expanduser() and getattr(encoder, "name", None) == str(path):
                    encoder.name = name  # runs/NAME as typed, not where it was found
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
    # check_name let through only a hub id (or packaged:NAME) here
    return build({"type": "transformer", "model": name, "pooler": options.pooler or "cls"},
                 options, name)
