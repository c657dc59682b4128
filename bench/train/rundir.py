"""Layout of a training run folder, written so that no reader ever sees half a checkpoint.

::

    runs/NAME/run.json                    settings, data digest, status
    runs/NAME/train_log.jsonl             one JSON object per logged step / evaluation
    runs/NAME/best/                       best STS-B dev checkpoint (model folder)
    runs/NAME/checkpoints/step-00250/     HF model + tokenizer + bench_checkpoint.json
                                          (+ train_state.pt in the latest one only:
                                          plain tensors and lists, see bench.train.state)

A multi-seed run (``--seeds 1,2,3``) is a folder of such runs, one per seed::

    runs/NAME/seeds.json                  the seeds asked for and the shared settings
    runs/NAME/seed-1/ ...                 a run folder as above, its seed in run.json

A checkpoint is assembled in a hidden sibling folder and renamed into place, so a folder
named ``step-*`` or ``best`` is always complete; a SIGKILL leaves at most a hidden
``.tmp-*`` folder, which the next run removes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_text
from bench.data.reading import strict_json
from bench.errors import BenchError
from bench.paths import RUNS_DEFAULT, RUNS_ENV, recipe_run, runs_root  # noqa: F401  (their home before)

META_FILE = "bench_checkpoint.json"
STATE_FILE = "train_state.pt"
RUN_FILE = "run.json"
LOG_FILE = "train_log.jsonl"
FORMAT = "bench-simcse-checkpoint"
SEEDS_FILE = "seeds.json"
SEEDS_FORMAT = "bench-simcse-seeds"
_STEP = re.compile(r"^step-(\d+)$")
_SEED = re.compile(r"^seed-(\d+)$")


def seed_dir_name(seed: int) -> str:
    return f"seed-{seed}"
def step_dir_name(step: int) -> str:
    return f"step-{step:05d}"


def checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run, by step."""
    folder = run_dir / "checkpoints"
    found = [(int(m.group(1)), p) for p in folder.glob("step-*")
             if p.is_dir() and (m := _STEP.match(p.name))] if folder.is_dir() else []
    return sorted(found)


def check_no_links_out(run_dir: Path) -> None:
    """Refuse a run folder whose checkpoint folders lead elsewhere (symlinks out of it).

    Training writes, replaces and deletes inside these folders, and evaluation loads them:
    a shared folder must not redirect either to another place on this machine.
    """
    root = run_dir.resolve()
    folder = run_dir / "checkpoints"
    entries = [run_dir / "best", folder, *(folder.iterdir() if folder.is_dir() else ())]
    for entry in entries:
        if (entry.exists() or entry.is_symlink()) and not entry.resolve().is_relative_to(root):
            raise BenchError(f"{entry}: links outside the run folder {run_dir}; refusing to "
                             f"use it")


def latest_resumable(run_dir: Path) -> tuple[int, Path] | None:
    for step, path in reversed(checkpoints(run_dir)):
        if (path / STATE_FILE).is_file():
            return step, path
    return None


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or one line naming the file (it may come from anyone)."""
    try:
        value = strict_json(path)
    except UnicodeDecodeError:
        raise BenchError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except ValueError as exc:
        raise BenchError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise BenchError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not isinstance(value, dict):
        raise BenchError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def _bad_field(path: Path, field: str, what: str) -> BenchError:
    return BenchError(f"{path}: field {field!r} {what}")


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int to isinstance, not a count


def read_meta(folder: Path) -> dict[str, Any] | None:
    """``bench_checkpoint.json`` of a checkpoint folder, checked; None when it has none."""
    from bench.encoders.pooling import POOLERS  # heavy: torch (through bench.encoders.pooling)

    path = folder / META_FILE
    if not path.is_file():
        return None
    meta = read_json_object(path)
    if meta.get("format") != FORMAT:
        return None
    if meta.get("eval_pooler") not in POOLERS:
        raise _bad_field(path, "eval_pooler", f"must be one of {', '.join(POOLERS)}, got "
                         f"{meta.get('eval_pooler')!r}")
    if "step" in meta and (not _is_int(meta["step"]) or meta["step"] < 0):
        raise _bad_field(path, "step", f"must be a step number, got {meta.get('step')!r}")
    return meta


_SHA256 = re.compile(r"^[0-9a-f]{64}$")
RUN_STATUSES = ("running", "finished")


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """``run.json`` of a run folder, with the fields bench acts on checked (one line naming
    the file and the field otherwise)."""
    from bench.encoders.pooling import POOLERS  # heavy: torch (through bench.encoders.pooling)

    path = run_dir / RUN_FILE
    info = read_json_object(path)
    if info.get("kind") != "simcse-train":
        raise _bad_field(path, "kind", f"must be 'simcse-train', got {info.get('kind')!r}")
    if info.get("status") not in RUN_STATUSES:
        raise _bad_field(path, "status", f"must be one of {', '.join(RUN_STATUSES)}, got "
                         f"{info.get('status')!r}")
    if not isinstance(info.get("config"), dict):
        raise _bad_field(path, "config", "must be an object of training settings")
    if not isinstance(info["config"].get("backbone"), str):
        raise _bad_field(path, "config.backbone", "must be the name of the model trained")
    if not _is_int(info["config"].get("seed")):
        raise _bad_field(path, "config.seed", f"must be an integer, got "
                         f"{info['config'].get('seed')!r}")
    if not _is_int(info.get("world_size")) or info["world_size"] < 1:
        raise _bad_field(path, "world_size", f"must be a positive number of processes, got "
                         f"{info.get('world_size')!r}")
    data = info.get("data")
    if not isinstance(data, dict) or not _SHA256.match(str(data.get("sha256", ""))):
        raise _bad_field(path, "data.sha256", "must be the training file's SHA-256 (64 hex "
                         "digits)")
    if info.get("eval_pooler") not in POOLERS:
        raise _bad_field(path, "eval_pooler", f"must be one of {', '.join(POOLERS)}, got "
                         f"{info.get('eval_pooler')!r}")
    for key in ("steps_total", "steps_done"):
        if not _is_int(info.get(key)) or info[key] < 0:
            raise _bad_field(path, key, f"must be a number of steps, got {info.get(key)!r}")
    return info


def is_run_dir(path: Path) -> bool:
    return (path / RUN_FILE).is_file()


def seed_runs(path: Path) -> list[tuple[int, Path]]:
    """The per-seed run folders of a multi-seed folder, by seed (empty for anything else)."""
    if not path.is_dir() or is_run_dir(path):
        return []
    found = [(int(m.group(1)), p) for p in path.glob("seed-*")
             if (m := _SEED.match(p.name)) and is_run_dir(p)]
    for _, p in found:  # a shared folder's seed-N must not stand for a run elsewhere
        if p.resolve().parent != path.resolve():
            raise BenchError(f"{p}: links outside the folder {path}; refusing to use it")
    return sorted(found)


def is_multi_seed_dir(path: Path) -> bool:
    return bool(seed_runs(path))


def write_seeds_file(path: Path, seeds: list[int], settings: dict[str, Any]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path / SEEDS_FILE, json.dumps(
        {"format": SEEDS_FORMAT, "version": 1, "seeds": seeds, "settings": settings},
        indent=2, default=str) + "\n")


def remove_partials(run_dir: Path) -> None:
    """Delete hidden temporary folders left by an interrupted write."""
    for parent in (run_dir, run_dir / "checkpoints"):
        if parent.is_dir():
            for p in parent.glob(".tmp-*"):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def write_model_folder(target: Path, model, tokenizer, meta: dict[str, Any],
                       state: dict[str, Any] | None = None) -> Path:
    """Export ``model`` (a SimCSEModel) as a plain HF folder at ``target``, atomically."""
    import torch  # heavy: torch

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.export_pooler()
    model.backbone.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    atomic_write_text(tmp / META_FILE, json.dumps({"format": FORMAT, "version": 1, **meta},
                                                   indent=2) + "\n")
    if state is not None:
        torch.save(state, tmp / STATE_FILE)
    old = None
    if target.exists():
        old = target.parent / f".tmp-old-{target.name}-{os.getpid()}"
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def drop_older_states(run_dir: Path, keep: Path) -> None:
    """Training state (optimizer, RNG) is only needed in the latest checkpoint."""
    for _, path in checkpoints(run_dir):
        if path != keep:
            (path / STATE_FILE).unlink(missing_ok=True)


def write_log(run_dir: Path, entries: list[dict[str, Any]]) -> None:
    atomic_write_text(run_dir / LOG_FILE, "".join(json.dumps(e) + "\n" for e in entries))
