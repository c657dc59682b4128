"""A training run folder is a model: ``--model runs/NAME`` or ``runs/NAME/checkpoints/step-N``.

Registers a path resolver (and the recipe type ``simcse-run``) with the encoder registry.
A run folder resolves to its best STS-B dev checkpoint (its latest checkpoint when it was
never evaluated); a checkpoint folder resolves to itself. Either way the encoder uses the
pooler the model was trained for, as recorded in ``bench_checkpoint.json``: ``cls`` (the
MLP, exported into the HF pooler slot) or ``cls_before_pooler`` when the MLP was train-only.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.encoders.base import Encoder
from bench.encoders.registry import EncoderOptions, register_path_resolver, register_type
from bench.encoders.transformer import TransformerEncoder
from bench.errors import ModelError
from bench.train import rundir


def checkpoint_folder(path: Path) -> Path | None:
    """The checkpoint a path stands for, or None when it is not a bench training output."""
    if rundir.read_meta(path) is not None:
        return path
    if rundir.is_run_dir(path):
        if rundir.read_meta(path / "best") is not None:
            return path / "best"
        found = rundir.checkpoints(path)
        if not found:
            raise ModelError(f"training run {str(path)!r} has no checkpoint yet")
        return found[-1][1]
    return None


def checkpoint_encoder(path: Path, options: EncoderOptions, name: str | None = None
                       ) -> TransformerEncoder:
    folder = checkpoint_folder(path)
    if folder is None:
        raise ModelError(f"{str(path)!r} is neither a bench training run nor one of its "
                         f"checkpoints")
    meta = rundir.read_meta(folder) or {}
    # The optimizer state (latest checkpoint only, dropped when the next one is written)
    # does not change the vectors: leaving it out keeps a checkpoint's fingerprint stable.
    encoder = TransformerEncoder(str(folder), options.pooler or meta["eval_pooler"],
                                 device=options.device, precision=options.precision,
                                 max_length=options.max_length, dtype=options.dtype or "fp32",
                                 name=name or str(path), ignore_files=(rundir.STATE_FILE,))
    if options.prompts:
        encoder.set_prompts(options.prompts)
    return encoder


def _resolve_path(path: Path, options: EncoderOptions) -> Encoder | None:
    if path.is_dir() and checkpoint_folder(path) is not None:
        return checkpoint_encoder(path, options)
    return None


def _from_recipe(cfg: dict[str, Any], options: EncoderOptions, name: str) -> Encoder:
    path = rundir.recipe_run(cfg["run"])
    if not path.exists():
        raise ModelError(f"model {name!r}: run folder {str(path)!r} does not exist; train it "
                         f"first with 'bench train simcse --recipe {name}'")
    encoder = checkpoint_encoder(path, replace(options,
                                               pooler=cfg.get("pooler") or options.pooler), name)
    return encoder


register_path_resolver(_resolve_path)
register_type("simcse-run", _from_recipe)
