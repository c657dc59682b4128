"""Named models: one TOML file per recipe in ``baselines/``.

A recipe says how to build the encoder (``[encoder]``) and what it is. Published numbers
live in ``reports/literature/`` (a recipe names its row in a comment); an old recipe's
``[published]`` table is still accepted and ignored.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import ModelError
from bench.resources import resource_dir


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    encoder: dict[str, Any]
    path: Path
    offline: bool = False  # runnable without a model hub (packaged weights)
    training_data: list[str] | None = None  # what the weights saw (contamination check)
    extra: dict[str, Any] = field(default_factory=dict)


def _parse(path: Path) -> Recipe:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{path}: invalid TOML ({exc})") from None
    if "encoder" not in data or "type" not in data["encoder"]:
        raise ModelError(f"{path}: a recipe needs an [encoder] table with a 'type'")
    # "published": accepted and ignored (recipes carried literature numbers until 0.2).
    known = {"name", "description", "encoder", "offline", "published", "training_data"}
    training = data.get("training_data")
    if training is not None and not (isinstance(training, list)
                                     and all(isinstance(t, str) for t in training)):
        raise ModelError(f"{path}: 'training_data' must be a list of strings")
    return Recipe(
        name=data.get("name", path.stem),
        description=data.get("description", ""),
        encoder=dict(data["encoder"]),
        path=path,
        offline=bool(data.get("offline", False)),
        training_data=training,
        extra={k: v for k, v in data.items() if k not in known},
    )


def load_recipes(folder: Path | None = None) -> dict[str, Recipe]:
    """All recipes, by name (the file stem unless the file sets ``name``)."""
    folder = folder or resource_dir("baselines")
    recipes: dict[str, Recipe] = {}
    for path in sorted(folder.glob("*.toml")):
        recipe = _parse(path)
        recipes[recipe.name] = recipe
    return recipes
