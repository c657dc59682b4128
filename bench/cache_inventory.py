"""What the embedding cache holds and which of it can go: the facts behind ``bench cache``.

Two kinds of entries live under the cache root: vector folders ``<fingerprint>/`` and fitted
post-processor states ``_postprocessors/<key>.npz``. Nothing else under the root is bench's,
and nothing else is ever removed.

An entry is *weight-blind* when its folder name is the fingerprint of its recorded spec with
no weights at all (``None``, or the sha256 of zero files): before key scheme 2 that was the key
of every model below a ``.cache`` folder and of hub models not yet downloaded. The current
code never computes such a key, so these folders are never read again; they are also not
trustworthy, since one of them may hold the vectors of any checkpoint with that spec.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.cache import KEY_SCHEME, QUARANTINE, STATE_FOLDER
from bench.errors import BenchError
from bench.fingerprint import fingerprint

FINGERPRINT_NAME = re.compile(r"^[0-9a-f]{24}$")
STATE_NAME = re.compile(r"^[0-9a-f]{24}\.npz$")
# Encoder types whose weights_digest returned None under key scheme 1 when a hub model had no
# local snapshot yet; with the spec alone as key, such folders are weight-blind.
_SPEC_ONLY_TYPES = ("transformer", "sentence-transformers")
_BLIND_DIGESTS = (hashlib.sha256(b"").hexdigest(), "")
# An empty folder younger than this may be a run that is just writing its first chunk.
EMPTY_GRACE_S = 3600.0

WEIGHT_BLIND = "weight-blind"
EMPTY = "empty"
OK = "ok"


@dataclass
class Entry:
    path: Path
    kind: str  # "vectors" or "fitted-state"
    size: int
    last_used: float  # seconds since the epoch
    model: str
    key_scheme: int | None
    status: str
    chunks: int = 0
    reasons: list[str] = field(default_factory=list)  # why prune selects it
    quarantined: int = 0  # chunks set aside in <folder>/quarantine/ (another model's, ...)

    @property
    def key(self) -> str:
        return self.path.name.removesuffix(".npz")


def _tree_stats(path: Path) -> tuple[int, float]:
    """(total bytes, newest mtime) of a folder's files, symlinks not followed."""
    size, newest = 0, path.lstat().st_mtime
    for folder, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            size += st.st_size
            newest = max(newest, st.st_mtime)
    return size, newest


def _model_label(meta: dict[str, Any]) -> str:
    spec = meta.get("spec") if isinstance(meta.get("spec"), dict) else {}
    model = spec.get("model") or spec.get("vectors") or spec.get("type") or "?"
    name = meta.get("name")
    return f"{name} ({model})" if name and name != model else str(model)


def is_weight_blind(name: str, meta: dict[str, Any]) -> bool:
    """Whether a scheme-1 folder's key is its spec's fingerprint without any weights."""
    spec = meta.get("spec")
    if not isinstance(spec, dict) or meta.get("key_scheme", 1) >= KEY_SCHEME:
        return False
    if any(fingerprint(spec, d) == name for d in _BLIND_DIGESTS):
        return True
    return spec.get("type") in _SPEC_ONLY_TYPES and fingerprint(spec, None) == name


def _vectors_entry(path: Path, now: float) -> Entry:
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        meta = meta if isinstance(meta, dict) else {}
    except (OSError, ValueError):
        meta = {}
    size, last_used = _tree_stats(path)
    chunks = sum(1 for _ in path.glob("chunk-*.npz"))
    aside = path / QUARANTINE
    quarantined = (sum(1 for _ in aside.glob("chunk-*.npz"))
                   if aside.is_dir() and not aside.is_symlink() else 0)
    if is_weight_blind(path.name, meta):
        status = WEIGHT_BLIND
    elif chunks == 0 and now - last_used > EMPTY_GRACE_S:
        status = EMPTY
    else:
        status = OK
    scheme = meta.get("key_scheme", 1) if meta else None
    return Entry(path, "vectors", size, last_used, _model_label(meta) if meta else "?", scheme,
                 status, chunks, quarantined=quarantined)


def _state_entry(path: Path, blind_bases: set[str]) -> Entry:
    st = path.lstat()
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
    except (OSError, ValueError, KeyError, EOFError):
        meta = {}
    base = str(meta.get("base_fingerprint", ""))
    pp = meta.get("postprocessor") or {}
    label = f"{pp.get('kind', '?')} on {base[:12] or '?'} ({meta.get('fit', '?')})"
    status = WEIGHT_BLIND if base in blind_bases else OK
    return Entry(path, "fitted-state", st.st_size, st.st_mtime, label, None, status)


def scan(root: Path, now: float | None = None) -> tuple[list[Entry], list[Path]]:
    """Every bench entry under ``root``, and the other paths there (never touched)."""
    now = time.time() if now is None else now
    root = Path(root)
    if not root.is_dir():
        return [], []
    entries: list[Entry] = []
    foreign: list[Path] = []
    for path in sorted(root.iterdir()):
        if path.is_dir() and not path.is_symlink() and FINGERPRINT_NAME.match(path.name):
            entries.append(_vectors_entry(path, now))
        elif path.name != STATE_FOLDER:
            foreign.append(path)
    blind = {e.key for e in entries if e.status == WEIGHT_BLIND}
    states = root / STATE_FOLDER
    if states.is_dir() and not states.is_symlink():
        for path in sorted(states.iterdir()):
            if path.is_file() and not path.is_symlink() and STATE_NAME.match(path.name):
                entries.append(_state_entry(path, blind))
            else:
                foreign.append(path)
    return entries, foreign


def select(entries: list[Entry], *, unused_days: float | None = None, everything: bool = False,
           now: float | None = None) -> list[Entry]:
    """The entries prune removes, each with its reasons: weight-blind and empty ones always."""
    now = time.time() if now is None else now
    chosen = []
    for e in entries:
        e.reasons = []
        if e.status == WEIGHT_BLIND:
            e.reasons.append("key ignores the weights (key scheme 1)")
        if e.status == EMPTY:
            e.reasons.append("no vectors")
        if unused_days is not None and now - e.last_used >= unused_days * 86400:
            e.reasons.append(f"unused for {(now - e.last_used) / 86400:.0f} days")
        if everything and not e.reasons:
            e.reasons.append("--all")
        if e.reasons:
            chosen.append(e)
    return chosen


def remove(entry: Entry, root: Path) -> None:
    """Delete one entry, after checking it is a bench entry directly inside ``root``."""
    root = Path(root).resolve()
    parent = entry.path.parent.resolve()
    allowed = {root, root / STATE_FOLDER}
    if entry.path.is_symlink() or parent not in allowed:
        raise BenchError(f"refusing to delete {entry.path}: not an entry of the cache {root}")
    if entry.kind == "vectors":
        shutil.rmtree(entry.path)
    else:
        entry.path.unlink()


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
