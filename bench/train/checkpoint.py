"""A training run folder is a model: ``--model runs/NAME`` or ``runs/NAME/checkpoints/step-N``.

A path resolver and the recipe type ``simcse-run``, both declared in the encoder registry.
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
from bench.encoders.registry import EncoderOptions
from bench.encoders.transformer import TransformerEncoder
from bench.errors import ModelError
from bench.train import rundir

# The weights a bench checkpoint holds: safetensors only (never a pickle such as .bin).
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
# Files whose ``auto_map`` would ask transformers to import code shipped with the folder.
_CODE_MAPS = ("config.json", "tokenizer_config.json")


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def check_folder_files(folder: Path) -> None:
    """Refuse what a shared checkpoint folder could use to run code or read elsewhere.

    Every entry must lie inside the folder (no symlink out of it), the weights must be
    safetensors, and no config may name custom model code (``auto_map``): bench loads only
    the architectures transformers ships, never with ``trust_remote_code``.
    """
    for entry in folder.iterdir():
        if not _inside(entry, folder):
            raise ModelError(f"{entry}: links outside the checkpoint folder {folder}; refusing "
                             f"to load it")
    if not any((folder / name).is_file() for name in _WEIGHTS):
        pickled = sorted(p.name for p in folder.iterdir()
                         if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".ckpt")
                         and p.name != rundir.STATE_FILE)
        found = f" (found {', '.join(pickled)}: pickled weights are never loaded)" if pickled else ""
        raise ModelError(f"{folder}: no model.safetensors{found}; a bench checkpoint holds its "
                         f"weights there")
    for name in _CODE_MAPS:
        if (folder / name).is_file() and "auto_map" in rundir.read_json_object(folder / name):
            raise ModelError(f"{folder / name}: names custom model code (auto_map); bench "
                             f"never runs code shipped with a model folder")


def checkpoint_folder(path: Path) -> Path | None:
    """The checkpoint a path stands for, or None when it is not a bench training output.

    A run folder's run.json and the chosen checkpoint's files are checked first (one line
    naming the file otherwise): a run folder may come from someone else.
    """
    if rundir.read_meta(path) is not None:
        check_folder_files(path)
        return path
    if not rundir.is_run_dir(path):
        return None
    rundir.read_run_info(path)
    rundir.check_no_links_out(path)
    if rundir.read_meta(path / "best") is not None:
        folder = path / "best"
    else:
        found = rundir.checkpoints(path)
        if not found:
            raise ModelError(f"training run {str(path)!r} has no checkpoint yet")
        folder = found[-1][1]
        if rundir.read_meta(folder) is None:
            raise ModelError(f"{folder}: no {rundir.META_FILE}, so it is not a bench "
                             f"checkpoint")
    check_folder_files(folder)
    return folder


def checkpoint_encoder(path: Path, options: EncoderOptions, name: str | None = None
                       ) -> TransformerEncoder:
    folder = checkpoint_folder(path)
    if folder is None:
        raise ModelError(f"{str(path)!r} is neither a bench training run nor one of its "
                         f"checkpoints")
    meta = rundir.read_meta(folder)
    assert meta is not None  # checkpoint_folder returns folders with a checked meta file
    # The optimizer state (latest checkpoint only, dropped when the next one is written)
    # does not change the vectors: leaving it out keeps a checkpoint's fingerprint stable.
    encoder = TransformerEncoder(str(folder), options.pooler or meta["eval_pooler"],
                                 device=options.device, precision=options.precision,
                                 max_length=options.max_length, dtype=options.dtype or "fp32",
                                 name=name or str(path), ignore_files=(rundir.STATE_FILE,))
    if options.prompts:
        encoder.set_prompts(options.prompts)
    encoder.pooler_note = pooler_note(folder, meta, options.pooler)  # bench run prints it
    return encoder


def pooler_note(folder: Path, meta: dict[str, Any], asked: str | None) -> str:
    """Which pooler a checkpoint is evaluated with, and why, in one line."""
    pooler = asked or meta["eval_pooler"]
    if asked:
        why = "asked for (--pooler, or the recipe)"
    elif pooler == "cls_before_pooler":
        why = ("the MLP was used in training only (--mlp-only-train, the default for "
               "unsupervised SimCSE): [CLS] without it is the paper's evaluation of "
               "unsupervised models")
    elif pooler == "cls" and meta.get("mlp_at_eval"):
        why = "the model was trained with its MLP kept for evaluation (supervised SimCSE)"
    else:
        why = f"the model was trained with the {meta.get('train_pooler') or pooler} pooler"
    step = f" (step {meta['step']})" if isinstance(meta.get("step"), int) else ""
    return f"{folder}{step}: pooler {pooler}, as {why}; --pooler overrides it"


def resolve_path(path: Path, options: EncoderOptions) -> Encoder | None:
    if path.is_dir() and checkpoint_folder(path) is not None:
        return checkpoint_encoder(path, options)
    return None


def from_recipe(cfg: dict[str, Any], options: EncoderOptions, name: str) -> Encoder:
    path = rundir.recipe_run(cfg["run"])
    if not path.exists():
        raise ModelError(f"model {name!r}: run folder {str(path)!r} does not exist; train it "
                         f"first with 'bench train simcse --recipe {name}'")
    if rundir.is_multi_seed_dir(path):
        raise ModelError(f"model {name!r}: {cfg['run']!r} holds one run per seed; evaluate them "
                         f"all with --model {cfg['run']}, or one with --model "
                         f"{cfg['run']}/seed-N")
    encoder = checkpoint_encoder(path, replace(options,
                                               pooler=cfg.get("pooler") or options.pooler), name)
    return encoder

