"""Stable fingerprints of encoders: a hash of their configuration and of their weight files.

Weight digests are memoised by (device, inode, size, mtime, ctime) so a 400 MB checkpoint is
hashed once, whichever path reaches it (``model``, ``../x/model``, a hard link).
A digest always covers at least one file: a folder with nothing to hash is an error, never the
sha256 of nothing (which would make the cache key depend on the spec alone).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_text
from bench.errors import ModelError
from bench.paths import user_cache_root

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".npy", ".parquet", ".txt", ".h5",
                   ".model", ".json")
# Folders *inside* a model folder that hold no weights: huggingface_hub's download metadata
# (``<local_dir>/.cache/huggingface/``). Only tested below the model folder, never above it.
SKIPPED_FOLDERS = (".cache",)


def digest_memo_path() -> Path:
    return user_cache_root() / "file-digests.json"


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks (not memoised: verification reads it)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of a file, memoised on (device, inode, size, mtime_ns, ctime_ns): the file
    itself, not the path it was reached by, so a hard link or another spelling of the path
    costs no second read.

    ctime is in the key because tools that rewrite a file in place may keep its size and
    restore its mtime (``cp -p``, ``rsync -t``); they cannot restore its ctime.
    """
    path = Path(path).resolve()
    st = path.stat()
    identity = f"{st.st_dev}:{st.st_ino}"
    key = f"{identity}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"
    memo_file = digest_memo_path()
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if key in memo:
        return memo[key]
    digest = sha256_file(path)
    prefix = f"{identity}|"  # one entry per file: drop those of its earlier versions
    memo = {k: v for k, v in memo.items() if not k.startswith(prefix)}
    memo[key] = digest
    try:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(memo_file, json.dumps(memo, indent=0, sort_keys=True))
    except OSError:
        pass  # a read-only home only costs re-hashing
    return digest


def weight_files(folder: Path, suffixes: Iterable[str] = WEIGHT_SUFFIXES,
                 ignore: Iterable[str] = ()) -> list[Path]:
    """The files a folder digest covers, sorted.

    Skipped folders are tested on the path *relative to* ``folder``: a model folder that itself
    lies below a ``.cache`` folder (a virtual environment under ``~/.cache``, every model in the
    Hugging Face hub cache) is hashed like any other.
    """
    folder = Path(folder)
    suffixes, ignore = tuple(suffixes), set(ignore)
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if (p.suffix in suffixes and rel.as_posix() not in ignore
                and not any(part in SKIPPED_FOLDERS for part in rel.parts[:-1]) and p.is_file()):
            out.append(p)
    return out


def folder_digest(folder: Path, suffixes: Iterable[str] = WEIGHT_SUFFIXES, *,
                  ignore: Iterable[str] = (), owner: str | None = None) -> str:
    """Combined digest of the weight/config files in a model folder (recursively).

    ``ignore``: paths relative to ``folder`` that do not change the vectors (a training run's
    optimizer state). Raises ModelError, naming ``owner`` and the folder, when no file is left.
    """
    folder = Path(folder)
    files = weight_files(folder, suffixes, ignore)
    if not files:
        who = f"model {owner!r}: " if owner else ""
        raise ModelError(f"{who}no weight files ({', '.join(tuple(suffixes))}) in {folder}; "
                         f"refusing to key the cache on the sha256 of nothing")
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(folder).as_posix().encode())
        h.update(file_digest(p).encode())
    return h.hexdigest()


def fingerprint(spec: dict[str, Any], weights_digest: str | None) -> str:
    """Fingerprint = sha256 over the canonical JSON of the spec plus the weights digest."""
    payload = json.dumps({"spec": spec, "weights": weights_digest}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]
