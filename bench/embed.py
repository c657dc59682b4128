"""Encode once: deduplicate, look up the cache, encode the rest in length-sorted batches.

Every task of a run asks this module for vectors, so a sentence shared by several tasks or
protocols is encoded exactly once, and a rerun with another protocol encodes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import numpy as np

from bench.cache import EmbeddingCache
from bench.encoders.base import Encoder
from bench.errors import ModelError
from bench.progress import progress_bar

FLUSH_EVERY = 2048  # sentences per cache chunk: bounds the work lost to a kill


@dataclass
class EmbeddingTable:
    """Unique sentences and their vectors, looked up by sentence."""

    vectors: np.ndarray
    index: dict[str, int]
    stats: dict[str, float] = field(default_factory=dict)

    def lookup(self, sentences: Sequence[str]) -> np.ndarray:
        return self.vectors[[self.index[s] for s in sentences]]


def raise_non_finite(model: str, bad: int, total: int, example: str) -> NoReturn:
    """Non-finite vectors (a broken checkpoint, fp16 overflow) would only turn into NaN
    correlations later: stop before anything is scored, naming the model and the count."""
    raise ModelError(f"model {model!r} returned non-finite (NaN or infinite) vectors for {bad} "
                     f"of {total} sentences (first: {example[:60]!r}); nothing was scored")


def check_finite(model: str, matrix: np.ndarray, sentences: Sequence[str]) -> None:
    if matrix.size and not np.isfinite(matrix).all():
        rows = ~np.isfinite(matrix.reshape(len(matrix), -1)).all(axis=1)
        raise_non_finite(model, int(rows.sum()), len(matrix), sentences[int(np.argmax(rows))])


def count_zero_vectors(matrix: np.ndarray) -> int:
    """Sentences whose vector is all zeros (a bag-of-words model that knows none of the words):
    legitimate, scored with cosine 0 as SentEval's fork does, and reported."""
    if not matrix.size:
        return 0
    return int((~matrix.reshape(len(matrix), -1).any(axis=1)).sum())


def embed(encoder: Encoder, sentences: Sequence[str], *, cache: EmbeddingCache | None = None,
          batch_size: int = 64, show_progress: bool = True,
          description: str = "encoding") -> EmbeddingTable:
    """Vectors for every distinct sentence, from the cache where possible."""
    t0 = time.perf_counter()
    unique = list(dict.fromkeys(sentences))
    todo = cache.missing(unique) if cache is not None else list(unique)
    # Longest first (in tokens where the encoder can count them): similar lengths share a
    # batch (little padding) and an out-of-memory error shows up at the first batch rather
    # than at the end. Ties keep a fixed order, so batches are the same from run to run.
    if todo:
        keys = encoder.length_keys(todo)
        order = sorted(range(len(todo)), key=lambda i: (-keys[i], todo[i]))
        todo = [todo[i] for i in order]
    fresh: dict[str, np.ndarray] = {}
    bad: list[str] = []
    t_encode = time.perf_counter()
    if todo:
        pending_s: list[str] = []
        pending_v: list[np.ndarray] = []
        with progress_bar(description, total=len(todo), disable=not show_progress) as advance:
            for start in range(0, len(todo), batch_size):
                batch = todo[start:start + batch_size]
                vectors = encoder.encode(batch, batch_size=batch_size)
                if vectors.shape[0] != len(batch):
                    raise RuntimeError(f"encoder {encoder.name!r} returned {vectors.shape[0]} "
                                       f"vectors for {len(batch)} sentences")
                finite = np.isfinite(vectors).all(axis=1)
                if not finite.all():  # counted and refused below; never cached
                    bad.extend(s for s, ok in zip(batch, finite) if not ok)
                    batch = [s for s, ok in zip(batch, finite) if ok]
                    vectors = vectors[finite]
                pending_s.extend(batch)
                pending_v.append(vectors)
                if cache is not None and len(pending_s) >= FLUSH_EVERY:
                    cache.put(pending_s, np.concatenate(pending_v))
                    pending_s, pending_v = [], []
                fresh.update(zip(batch, vectors))
                advance(len(finite))
        if cache is not None and pending_s:
            cache.put(pending_s, np.concatenate(pending_v))
    encode_s = time.perf_counter() - t_encode
    if bad:
        raise_non_finite(encoder.name, len(bad), len(unique), bad[0])
    cached = [s for s in unique if s not in fresh]
    parts = []
    if cached:
        parts.append(cache.get(cached))
    if fresh:
        parts.append(np.stack([fresh[s] for s in fresh]))
    order = cached + list(fresh)
    if parts:
        dtype = np.result_type(*parts)
        matrix = np.concatenate([p.astype(dtype, copy=False) for p in parts])
    else:
        matrix = np.zeros((0, 0), dtype=np.float32)
    check_finite(encoder.name, matrix, order)  # vectors read back from an older cache
    stats = {"sentences_requested": len(sentences), "sentences_unique": len(unique),
             "sentences_cached": len(cached), "sentences_encoded": len(todo),
             "zero_vectors": count_zero_vectors(matrix),
             "encode_s": round(encode_s, 4), "embed_total_s": round(time.perf_counter() - t0, 4)}
    return EmbeddingTable(matrix, {s: i for i, s in enumerate(order)}, stats)


def encode_tasks(encoder: Encoder, task_sentences: dict[str, Sequence[str]], *,
                 cache_root: Path | None = None, use_cache: bool = True, batch_size: int = 64,
                 show_progress: bool = True) -> tuple[dict[str, EmbeddingTable], dict[str, float]]:
    """One encoding pass over the sentences of several tasks, then each task's view.

    The source encoder (a post-processor's base, or the encoder itself) encodes the union
    of all tasks' sentences once, through the cache keyed by its fingerprint; the encoder
    then turns that table into per-task tables (identity for plain encoders).
    """
    from bench.cache import default_cache_root

    source = encoder.source_encoder()
    cache = None
    if use_cache and source.cacheable:
        cache = EmbeddingCache(cache_root or default_cache_root(), source.fingerprint,
                               source.describe())
    everything = [s for sents in task_sentences.values() for s in sents]
    table = embed(source, everything, cache=cache, batch_size=batch_size,
                  show_progress=show_progress, description=f"encoding ({source.name})")
    t = time.perf_counter()
    views = {task: encoder.task_view(task, sents, table) for task, sents in task_sentences.items()}
    if encoder is not source:  # a post-processor may divide by zero norms or variances
        for view in views.values():
            check_finite(encoder.name, view.vectors, sorted(view.index, key=view.index.get))
    stats = dict(table.stats)
    stats["postprocess_s"] = round(time.perf_counter() - t, 4)
    first = next(iter(views.values()), None)
    if first is not None and first.vectors.ndim == 2:
        stats["dim"] = int(first.vectors.shape[1])
    return views, stats
