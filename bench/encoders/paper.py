"""Models by the name a paper gives them (``simcse-bert``): the run trained here, else the
authors' released checkpoint, else one line naming both ways to get it.

A recipe of type ``paper-model`` names two other recipes and nothing else, so each fact
(run folder, hub id, pooler, training settings) stays in one place::

    [encoder]
    type = "paper-model"
    trained = "simcse-unsup-bert"        # a simcse-run recipe: runs/NAME, trained here
    released = "simcse-unsup-bert-hub"   # a transformer recipe: the authors' hub id + pooler

The trained run wins when its folder exists (it is what this repository reproduces); the
released checkpoint is used when it can be loaded (hub reachable, or already in the local
Hugging Face cache). The report's model record says which (``extra.weights_from``).
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlparse

from bench.encoders.base import Encoder
from bench.encoders.registry import EncoderOptions, build
from bench.encoders.transformer import local_snapshot
from bench.errors import ModelError
from bench.paths import recipe_run
from bench.recipes import Recipe, load_recipes

TYPE = "paper-model"


def _recipe(recipes: dict[str, Recipe], cfg: dict[str, Any], key: str, name: str) -> Recipe:
    wanted = cfg.get(key)
    if wanted not in recipes:
        raise ModelError(f"model {name!r}: its {key} recipe {wanted!r} does not exist in "
                         f"baselines/")
    return recipes[wanted]


def _build(recipe: Recipe, options: EncoderOptions, name: str) -> Encoder:
    config = dict(recipe.encoder)
    if options.pooler:
        config["pooler"] = options.pooler
    return build(config, options, name)


def paper_model(cfg: dict[str, Any], options: EncoderOptions, name: str) -> Encoder:
    recipes = load_recipes()
    trained = _recipe(recipes, cfg, "trained", name)
    released = _recipe(recipes, cfg, "released", name)
    run = recipe_run(trained.encoder["run"])
    hub = released.encoder["model"]
    if run.exists():
        encoder = _build(trained, options, name)
        source = {"weights": "trained run", "recipe": trained.name, "run": str(run)}
    else:
        encoder = _build(released, options, name)
        try:
            if local_snapshot(hub) is None and not hub_reachable():
                raise ModelError("hub not reachable")  # fail now, not after the hub's retries
            encoder.fingerprint  # loads the weights: downloads, or finds them in the HF cache
        except ModelError:
            raise ModelError(
                f"model {name!r} is not available here: no trained run at {str(run)!r} (train "
                f"it with 'bench train simcse --recipe {trained.name}') and the published "
                f"checkpoint {hub!r} cannot be loaded (the model hub is not reachable and it "
                f"is not in the local Hugging Face cache)") from None
        source = {"weights": "published checkpoint", "recipe": released.name, "hub": hub}
    encoder.provenance = {"paper_model": name, **source}
    return encoder


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub answers at all (offline mode, no DNS or no route: no), so an
    unreachable hub costs seconds, not the minute of huggingface_hub's retries."""

    from huggingface_hub import constants  # heavy: huggingface_hub

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in (
            "1", "true", "yes", "on"):  # set after huggingface_hub was imported
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def is_paper_model(recipe: Recipe) -> bool:
    return recipe.encoder.get("type") == TYPE

