"""On-disk embedding cache: (encoder fingerprint, sentence) -> vector.

Layout: ``<root>/<fingerprint>/meta.json`` and chunk files ``chunk-*.npz``, each holding
sentence keys (sha1 of the UTF-8 text) and their vectors. Chunks are written atomically
(temporary file, then rename) while encoding goes on, so a run killed half-way keeps every
finished chunk and the rerun encodes only what is missing; a half-written chunk never
becomes visible. ``meta.json`` records the encoder's description and the key scheme that
named the folder (``KEY_SCHEME``); its mtime is refreshed whenever the folder is used, which
is what ``bench cache prune --unused-days`` reads as "last used". A chunk that cannot be
read anyway (disk fault, a copy cut short) is reported in one line, renamed to
``*.npz.corrupt`` and its sentences are encoded again.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from bench.atomic import atomic_open, atomic_write_text, remove_stale_temporaries
from bench.errors import warn
from bench.paths import user_cache_root

ENV_VAR = "BENCH_CACHE_DIR"
# 1: before weights under a ``.cache`` parent were hashed (keys could ignore the weights);
# 2: every key of an encoder with weights covers at least one weight file.
KEY_SCHEME = 2
STATE_FOLDER = "_postprocessors"  # fitted post-processor states, beside the vector folders
# What np.load raises on a truncated or damaged .npz (zip) file.
UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)


def set_aside(path: Path, why: str) -> None:
    """Move an unreadable chunk out of the way (kept for inspection), saying so in one line."""
    aside = path.with_name(path.name + ".corrupt")
    try:
        os.replace(path, aside)
        where = f"moved to {aside.name}"
    except OSError as exc:
        where = f"could not move it aside: {exc.strerror or exc}"
    warn(f"unreadable cache chunk {path} ({why}); {where}; its sentences are encoded again")


def default_cache_root() -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return user_cache_root() / "embeddings"


def sentence_key(text: str | tuple[str, str]) -> bytes:
    """sha1 of the sentence; of prompt, NUL, sentence for a prompted text (``bench.embed``)."""
    if isinstance(text, tuple):
        text = f"{text[0]}\0{text[1]}"
    return hashlib.sha1(text.encode("utf-8")).digest()


class EmbeddingCache:
    """Vectors of one encoder (one fingerprint), loaded lazily, appended chunk by chunk."""

    def __init__(self, root: Path, fingerprint: str, describe: dict | None = None) -> None:
        self.folder = Path(root) / fingerprint
        self.fingerprint = fingerprint
        self._describe = describe or {}
        self._index: dict[bytes, tuple[int, int]] | None = None
        self._chunks: list[np.ndarray] = []
        self._writable = True
        self._touched = False

    def _mark_used(self) -> None:
        """Refresh meta.json's mtime once per instance: the "last used" of cache prune."""
        if not self._touched:
            self._touched = True
            try:
                os.utime(self.folder / "meta.json")
            except OSError:
                pass  # no folder yet, or a read-only cache

    def _load(self) -> dict[bytes, tuple[int, int]]:
        if self._index is None:
            self._index = {}
            self._chunks = []
            if self.folder.is_dir():
                remove_stale_temporaries(self.folder)
                for path in sorted(self.folder.glob("chunk-*.npz")):
                    try:
                        with np.load(path) as data:
                            keys, vectors = data["keys"], data["vectors"]
                    except UNREADABLE as exc:
                        set_aside(path, f"{type(exc).__name__}: {str(exc)[:80]}")
                        continue
                    if keys.ndim != 2 or keys.shape != (len(vectors), 20):
                        continue  # a chunk from an older layout: re-encode its sentences
                    c = len(self._chunks)
                    self._chunks.append(vectors)
                    for row, key in enumerate(keys):
                        self._index[key.tobytes()] = (c, row)
        return self._index

    def __len__(self) -> int:
        return len(self._load())

    def missing(self, sentences: Iterable[str]) -> list[str]:
        self._mark_used()
        index = self._load()
        return [s for s in sentences if sentence_key(s) not in index]

    def get(self, sentences: Sequence[str]) -> np.ndarray:
        """Vectors for sentences that are all in the cache, in order."""
        index = self._load()
        rows = [index[sentence_key(s)] for s in sentences]
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._chunks[c][r] for c, r in rows])

    def put(self, sentences: Sequence[str], vectors: np.ndarray) -> None:
        """Persist one chunk atomically and add it to the in-memory index."""
        if len(sentences) == 0:
            return
        # uint8 rows, not an "S20" string array: numpy strips trailing NUL bytes from those
        keys = np.frombuffer(b"".join(sentence_key(s) for s in sentences),
                             dtype=np.uint8).reshape(len(sentences), 20).copy()
        if self._writable:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                meta = self.folder / "meta.json"
                if not meta.exists():
                    atomic_write_text(meta, json.dumps({**self._describe,
                                                        "key_scheme": KEY_SCHEME},
                                                       indent=2, sort_keys=True))
                path = self.folder / f"chunk-{uuid.uuid4().hex}.npz"
                with atomic_open(path, "wb") as fh:
                    np.savez(fh, keys=keys, vectors=vectors)
            except OSError as exc:  # full disk, folder gone: the run goes on, uncached
                self._writable = False
                warn(f"cannot write to the embedding cache {self.folder} "
                      f"({exc.strerror or exc}); going on without caching")
        index = self._load()
        c = len(self._chunks)
        self._chunks.append(np.asarray(vectors))
        for row, s in enumerate(sentences):
            index[sentence_key(s)] = (c, row)
