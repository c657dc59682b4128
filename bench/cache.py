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

A folder may also hold chunks it should not: caches of several machines merged by hand put
another model's chunk in a model's folder, and its vectors would silently replace the
model's own. So each chunk records the key it was written for (``cache_key``) and its
dimension (``dim``), and is loaded without pickle. A chunk whose key is another folder's,
whose dimension is not the folder's, whose vectors are not finite, whose arrays are not the
expected shapes, or that is not a regular file (a link) is named in one warning line, moved
into ``<folder>/quarantine/`` (never deleted) and its sentences are encoded again.

Chunks written before keys were recorded carry none; they are accepted when their dimension
is the folder's: that of its keyed chunks, else, when the unkeyed chunks disagree, the
model's own (one sentence encoded to ask it). A foreign unkeyed chunk of the same dimension
cannot be told apart; ``bench cache prune --all`` clears such a folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.atomic import atomic_open, atomic_write_text, remove_stale_temporaries
from bench.errors import BenchError, warn
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


QUARANTINE = "quarantine"  # chunks set aside because they do not belong to their folder


def quarantine(path: Path, why: str) -> None:
    """Move a chunk that does not belong here into ``quarantine/`` beside it (kept, not
    deleted), saying so in one line."""
    aside = path.parent / QUARANTINE / path.name
    try:
        if aside.parent.is_symlink():  # a planted link would move the chunk out of the cache
            raise OSError(f"{QUARANTINE}/ is a link")
        aside.parent.mkdir(exist_ok=True)
        if aside.exists():
            aside = aside.with_name(f"{path.stem}-{uuid.uuid4().hex[:8]}{path.suffix}")
        os.replace(path, aside)
        where = f"moved to {QUARANTINE}/{aside.name}"
    except OSError as exc:
        where = f"could not move it aside ({exc.strerror or exc})"
    warn(f"cache chunk {path} {why}; {where}; its vectors are not used (a sentence only it "
         f"held is encoded again)")


@dataclass(frozen=True)
class Chunk:
    """One chunk file's contents: sentence keys, vectors, and the key it was written for
    (None: written before keys were recorded)."""

    path: Path
    keys: np.ndarray
    vectors: np.ndarray
    key: str | None

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def _scalar(data: Any, name: str) -> Any:
    """A 0-d array member of an .npz as a Python value; None when absent."""
    if name not in data.files:
        return None
    value = data[name]
    if value.shape != ():
        raise ValueError(f"'{name}' is not a scalar")
    return value.item()


def read_chunk(path: Path) -> Chunk | str:
    """A chunk, or why it cannot be used. Raises one of ``UNREADABLE`` for a damaged file."""
    if path.is_symlink() or not stat.S_ISREG(path.lstat().st_mode):
        return "is not a regular file (a link or a special file)"
    with np.load(path, allow_pickle=False) as data:
        keys, vectors = data["keys"], data["vectors"]
        key, dim = _scalar(data, "cache_key"), _scalar(data, "dim")
    if vectors.ndim != 2 or keys.dtype != np.uint8 or keys.shape != (len(vectors), 20):
        return (f"has keys of shape {keys.shape} ({keys.dtype}) and vectors of shape "
                f"{vectors.shape}, not (n, 20) uint8 and (n, dim)")
    if vectors.dtype.kind != "f":
        return f"holds {vectors.dtype} vectors, not floating point"
    if key is not None and not isinstance(key, str):
        return f"records a cache key of type {type(key).__name__}"
    if dim is not None and dim != vectors.shape[1]:
        return f"records dimension {dim} but holds vectors of dimension {vectors.shape[1]}"
    if not np.isfinite(vectors).all():
        return "holds non-finite (NaN or infinite) vectors"
    return Chunk(path, keys, vectors, key)


class EmbeddingCache:
    """Vectors of one encoder (one fingerprint), loaded lazily, appended chunk by chunk.

    ``dim_probe``: returns the encoder's dimension; asked only when unkeyed chunks of
    several dimensions leave the folder's dimension in doubt."""

    def __init__(self, root: Path, fingerprint: str, describe: dict | None = None,
                 dim_probe: Callable[[], int] | None = None) -> None:
        self.folder = Path(root) / fingerprint
        self.fingerprint = fingerprint
        self._describe = describe or {}
        self._dim_probe = dim_probe
        self._index: dict[bytes, tuple[int, int]] | None = None
        self._chunks: list[np.ndarray] = []
        self._files: list[Path] = []  # the chunk files read (not those put by this process)
        self._dim: int | None = None
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

    def _read_all(self) -> list[Chunk]:
        """Every usable chunk of the folder; the others are set aside."""
        chunks = []
        for path in sorted(self.folder.glob("chunk-*.npz")):
            try:
                chunk = read_chunk(path)
            except UNREADABLE as exc:
                set_aside(path, f"{type(exc).__name__}: {str(exc)[:80]}")
                continue
            if isinstance(chunk, str):
                quarantine(path, chunk)
            elif chunk.key is not None and chunk.key != self.fingerprint:
                quarantine(path, f"was written for cache key {chunk.key[:24]!r}, not this "
                                 f"folder's {self.fingerprint!r} (another model's vectors)")
            else:
                chunks.append(chunk)
        return chunks

    def _folder_dim(self, chunks: list[Chunk]) -> int | None:
        """The dimension of this folder's vectors: its keyed chunks', else the one all
        unkeyed chunks share, else the model's own (``dim_probe``), else the commonest."""
        keyed = {c.dim for c in chunks if c.key is not None}
        dims = keyed if len(keyed) == 1 else {c.dim for c in chunks}
        if len(dims) <= 1:
            return next(iter(dims), None)
        if self._dim_probe is not None:
            return int(self._dim_probe())
        return max(sorted(dims), key=lambda d: sum(len(c.keys) for c in chunks if c.dim == d))

    def _load(self) -> dict[bytes, tuple[int, int]]:
        if self._index is None:
            self._index = {}
            self._chunks = []
            self._files = []
            if self.folder.is_dir():
                remove_stale_temporaries(self.folder)
                chunks = self._read_all()
                self._dim = self._folder_dim(chunks)
                for chunk in chunks:
                    if chunk.dim != self._dim:
                        quarantine(chunk.path, f"holds vectors of dimension {chunk.dim}, this "
                                               f"folder's model gives {self._dim}")
                        continue
                    c = len(self._chunks)
                    self._chunks.append(chunk.vectors)
                    self._files.append(chunk.path)
                    for row, key in enumerate(chunk.keys):
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
        try:
            rows = [index[sentence_key(s)] for s in sentences]
        except KeyError:  # put() set chunks aside after missing() counted them as cached
            raise BenchError(f"the embedding cache {self.folder} changed during the run "
                             f"(chunks moved to {QUARANTINE}/); run again") from None
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._chunks[c][r] for c, r in rows])

    def _check_dim(self, dim: int) -> None:
        """The model's own vectors settle the folder's dimension: chunks that disagree
        (forged keys, or the commonest dimension of unkeyed chunks was not the model's)
        are set aside."""
        index = self._load()
        if self._dim is not None and self._dim != dim and index:
            for path in self._files:
                quarantine(path, f"holds vectors of dimension {self._dim}, the model "
                                 f"gives {dim}")
            index.clear()
            self._chunks, self._files = [], []
        self._dim = dim

    def put(self, sentences: Sequence[str], vectors: np.ndarray) -> None:
        """Persist one chunk atomically and add it to the in-memory index."""
        if len(sentences) == 0:
            return
        vectors = np.asarray(vectors)
        self._check_dim(int(vectors.shape[1]))
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
                    np.savez(fh, keys=keys, vectors=vectors,
                             cache_key=np.array(self.fingerprint),
                             dim=np.array(vectors.shape[1], dtype=np.int64))
            except OSError as exc:  # full disk, folder gone: the run goes on, uncached
                self._writable = False
                warn(f"cannot write to the embedding cache {self.folder} "
                      f"({exc.strerror or exc}); going on without caching")
        index = self._load()
        c = len(self._chunks)
        self._chunks.append(vectors)
        for row, s in enumerate(sentences):
            index[sentence_key(s)] = (c, row)
