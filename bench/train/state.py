"""``train_state.pt``: the optimiser, scheduler and RNG states that make ``--resume`` exact,
stored as plain data and read back without unpickling code.

A run folder may come from someone else, and ``torch.load(weights_only=False)`` runs any
code its pickle names. Everything here is therefore kept in the forms torch's
``weights_only`` loader rebuilds on its own (tensors, dicts, lists, tuples, numbers,
strings, None): Python's and NumPy's RNG states are converted to lists of ints, and a file
that needs anything else is refused in one line, before any of it is used.
"""

from __future__ import annotations

import pickle
import random
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import BenchError

# What every train_state.pt holds (model2 only for --dual-encoder runs).
KEYS = ("step", "model", "optimizer", "scheduler", "scaler", "rng", "best", "log", "pending",
        "elapsed")
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
_OLD_RUN_HINT = ("a run folder written by an older bench keeps NumPy objects there and cannot "
                 "be resumed: start a new run under another --name (its checkpoints still "
                 "evaluate with bench run --model)")


def rng_state() -> dict[str, Any]:
    """Every generator training draws from, as plain data (lists of ints, byte tensors)."""
    version, internal, gauss_next = random.getstate()
    legacy = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        "numpy": {"bit_generator": legacy["bit_generator"],
                  "key": [int(k) for k in legacy["state"]["key"]],
                  "pos": int(legacy["state"]["pos"]), "has_gauss": int(legacy["has_gauss"]),
                  "gauss": float(legacy["gauss"])},
        "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Any, path: Path) -> None:
    """Restore :func:`rng_state`'s output; a malformed one is refused naming ``path``."""
    try:
        py, npy = state["python"], state["numpy"]
        random.setstate((py["version"], tuple(py["internal"]), py["gauss_next"]))
        np.random.set_state((npy["bit_generator"], np.asarray(npy["key"], dtype=np.uint32),
                             npy["pos"], npy["has_gauss"], npy["gauss"]))
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
    except (KeyError, TypeError, ValueError, IndexError, OverflowError, RuntimeError) as exc:
        raise BenchError(f"{path}: field 'rng' is not a saved random-generator state "
                         f"({_first_line(exc)}); refusing to resume from it") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0][:160] if text else type(exc).__name__)


def load(path: Path, device: str) -> dict[str, Any]:
    """The state dict of ``path``, read with ``weights_only=True`` and checked for its keys.

    Nothing in the file is executed: a pickle naming any class or function beyond plain
    containers and tensors is refused (one line naming the file and what it asked for).
    """
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _GLOBAL.search(str(exc))
        needs = f"it asks to run {found.group(1)}" if found else "it holds more than plain data"
        hint = f" ({_OLD_RUN_HINT})" if found and found.group(1).startswith("numpy") else ""
        raise BenchError(f"{path}: not a plain checkpoint ({needs}); refusing to load it"
                         f"{hint}") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise BenchError(f"{path}: not a readable checkpoint ({_first_line(exc)}); refusing to "
                         f"load it") from None
    if not isinstance(state, dict):
        raise BenchError(f"{path}: not a plain checkpoint (expected a dict of training state, "
                         f"found {type(state).__name__}); refusing to load it")
    missing = [k for k in KEYS if k not in state]
    if missing:
        raise BenchError(f"{path}: not a bench training state (missing {', '.join(missing)}); "
                         f"refusing to load it")
    return state


def check(state: dict[str, Any], path: Path, step: int, world: int, dual: bool) -> None:
    """The fields the trainer takes over as they are: types, and agreement with the folder."""
    def bad(field: str, what: str) -> BenchError:
        return BenchError(f"{path}: field {field!r} {what}; refusing to resume from it")

    if type(state["step"]) is not int or state["step"] != step:
        raise bad("step", f"is {state['step']!r}, but the checkpoint folder is step {step}")
    if not isinstance(state["rng"], list) or len(state["rng"]) != world:
        raise bad("rng", f"must be a list of one state per process ({world})")
    if dual and "model2" not in state:
        raise bad("model2", "is missing (this run trains a second encoder)")
    best = state["best"]
    if (not isinstance(best, dict) or set(best) != {"step", "stsb_dev_spearman"}
            or not (best["step"] is None or type(best["step"]) is int)
            or not (best["stsb_dev_spearman"] is None
                    or isinstance(best["stsb_dev_spearman"], float))):
        raise bad("best", "must be {'step': int or null, 'stsb_dev_spearman': float or null}")
    if not isinstance(state["log"], list) or not all(isinstance(e, dict) for e in state["log"]):
        raise bad("log", "must be a list of log entries")
    if not isinstance(state["pending"], list) or not all(
            isinstance(v, float) for v in state["pending"]):
        raise bad("pending", "must be a list of losses")
    if not isinstance(state["elapsed"], float):
        raise bad("elapsed", "must be a number of seconds")
