"""Layout of a training run folder, written so that no reader ever sees half a checkpoint.

::

    runs/NAME/run.json                    settings, data digest, status
    runs/NAME/train_log.jsonl             one JSON object per logged step / evaluation
    runs/NAME/best/                       best STS-B dev checkpoint (model folder)
    runs/NAME/checkpoints/step-00250/     HF model + tokenizer + bench_checkpoint.json
                                          (+ train_state.pt in the latest one only)

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

META_FILE = "bench_checkpoint.json"
STATE_FILE = "train_state.pt"
RUN_FILE = "run.json"
LOG_FILE = "train_log.jsonl"
FORMAT = "bench-simcse-checkpoint"
_STEP = re.compile(r"^step-(\d+)$")
RUNS_ENV = "BENCH_RUNS_DIR"
RUNS_DEFAULT = "runs"


def runs_root() -> Path:
    """The parent of run folders: ``$BENCH_RUNS_DIR``, else ``runs`` (in the current folder)."""
    return Path(os.environ.get(RUNS_ENV) or RUNS_DEFAULT).expanduser()


def recipe_run(run: str) -> Path:
    """A recipe's ``run`` path; ``runs/NAME`` means NAME under ``runs_root()``, so a recipe
    names a run the way ``bench train simcse --name NAME`` writes it."""
    path = Path(run).expanduser()
    if not path.is_absolute() and path.parts[:1] == (RUNS_DEFAULT,):
        return runs_root().joinpath(*path.parts[1:])
    return path


def step_dir_name(step: int) -> str:
    return f"step-{step:05d}"


def checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run, by step."""
    folder = run_dir / "checkpoints"
    found = [(int(m.group(1)), p) for p in folder.glob("step-*")
             if p.is_dir() and (m := _STEP.match(p.name))] if folder.is_dir() else []
    return sorted(found)


def latest_resumable(run_dir: Path) -> tuple[int, Path] | None:
    for step, path in reversed(checkpoints(run_dir)):
        if (path / STATE_FILE).is_file():
            return step, path
    return None


def read_meta(folder: Path) -> dict[str, Any] | None:
    path = folder / META_FILE
    if not path.is_file():
        return None
    meta = json.loads(path.read_text(encoding="utf-8"))
    return meta if meta.get("format") == FORMAT else None


def is_run_dir(path: Path) -> bool:
    return (path / RUN_FILE).is_file()


def remove_partials(run_dir: Path) -> None:
    """Delete hidden temporary folders left by an interrupted write."""
    for parent in (run_dir, run_dir / "checkpoints"):
        if parent.is_dir():
            for p in parent.glob(".tmp-*"):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def write_model_folder(target: Path, model, tokenizer, meta: dict[str, Any],
                       state: dict[str, Any] | None = None) -> Path:
    """Export ``model`` (a SimCSEModel) as a plain HF folder at ``target``, atomically."""
    import torch

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


def read_log(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / LOG_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
