"""Stable fingerprints of encoders: a hash of their configuration and of their weight files.

Weight digests are memoised by (path, size, mtime) so a 400 MB checkpoint is hashed once.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_text

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".npy", ".parquet", ".txt", ".h5",
                   ".model", ".json")


def _memo_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bench" / "file-digests.json"


def file_digest(path: Path) -> str:
    """sha256 of a file, memoised on (absolute path, size, mtime_ns)."""
    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    memo_file = _memo_path()
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if key in memo:
        return memo[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    memo[key] = digest
    try:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(memo_file, json.dumps(memo, indent=0, sort_keys=True))
    except OSError:
        pass  # a read-only home only costs re-hashing
    return digest


def folder_digest(folder: Path, suffixes: Iterable[str] = WEIGHT_SUFFIXES) -> str:
    """Combined digest of the weight/config files in a model folder (recursively)."""
    folder = Path(folder)
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix in tuple(suffixes) and ".cache" not in p.parts:
            h.update(str(p.relative_to(folder)).encode())
            h.update(file_digest(p).encode())
    return h.hexdigest()


def fingerprint(spec: dict[str, Any], weights_digest: str | None) -> str:
    """Fingerprint = sha256 over the canonical JSON of the spec plus the weights digest."""
    payload = json.dumps({"spec": spec, "weights": weights_digest}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]
