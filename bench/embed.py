"""Encode once: deduplicate, look up the cache, encode the rest in length-sorted batches.

Every task of a run asks this module for vectors, so a sentence shared by several tasks or
protocols is encoded exactly once, and a rerun with another protocol encodes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NoReturn

import numpy as np

from bench.atomic import sigterm_raises
from bench.cache import EmbeddingCache, default_cache_root
from bench.distributed import Shards, assign
from bench.encoders.base import Encoder, checked_vectors
from bench.errors import ModelError
from bench.progress import progress_bar

# A cache chunk is written every FLUSH_EVERY sentences or FLUSH_SECONDS of encoding,
# whichever comes first, and at once on Ctrl-C, SIGTERM or an error: a SIGKILL loses at most
# the last FLUSH_SECONDS of encoding, anything else loses at most the batch in progress.
FLUSH_EVERY = 2048
FLUSH_SECONDS = 30.0


Text = str | tuple[str, str]  # a sentence, or (prompt, sentence) when a prompt goes before it


def text_item(prompt: str, sentence: str) -> Text:
    """The unit that is encoded and cached: the sentence alone when there is no prompt (so
    unprompted tables and caches are what they always were), else (prompt, sentence)."""
    return (prompt, sentence) if prompt else sentence


def _split(item: Text) -> tuple[str, str]:
    return item if isinstance(item, tuple) else ("", item)


@dataclass
class EmbeddingTable:
    """Unique texts and their vectors, looked up by sentence; ``prompts`` says which prompt
    a lookup of side a (0) and side b (1) of a pair goes through."""

    vectors: np.ndarray
    index: dict[Text, int]
    stats: dict[str, float] = field(default_factory=dict)
    prompts: tuple[str, str] = ("", "")

    def lookup(self, sentences: Sequence[str], side: int = 0) -> np.ndarray:
        prompt = self.prompts[side]
        return self.vectors[[self.index[text_item(prompt, s)] for s in sentences]]

    def with_prompts(self, a: str, b: str) -> EmbeddingTable:
        """The same vectors (shared, not copied) looked up through prompts ``a`` and ``b``."""
        return replace(self, prompts=(a, b))


def raise_non_finite(model: str, bad: int, total: int, example: str) -> NoReturn:
    """Non-finite vectors (a broken checkpoint, fp16 overflow) would only turn into NaN
    correlations later: stop before anything is scored, naming the model and the count."""
    raise ModelError(f"model {model!r} returned non-finite (NaN or infinite) vectors for {bad} "
                     f"of {total} sentences (first: {example[:60]!r}); nothing was scored")


def check_finite(model: str, matrix: np.ndarray, sentences: Sequence[Text]) -> None:
    if matrix.size and not np.isfinite(matrix).all():
        rows = ~np.isfinite(matrix.reshape(len(matrix), -1)).all(axis=1)
        raise_non_finite(model, int(rows.sum()), len(matrix),
                         "".join(_split(sentences[int(np.argmax(rows))])))


def count_zero_vectors(matrix: np.ndarray) -> int:
    """Sentences whose vector is all zeros (a bag-of-words model that knows none of the words):
    legitimate, scored with cosine 0 as SentEval's fork does, and reported."""
    if not matrix.size:
        return 0
    return int((~matrix.reshape(len(matrix), -1).any(axis=1)).sum())


class PendingVectors:
    """Encoded vectors not yet in the cache, written as one chunk every ``FLUSH_EVERY``
    sentences or ``FLUSH_SECONDS``, and by ``flush`` at the end or on the way out."""

    def __init__(self, cache: EmbeddingCache | None) -> None:
        self.cache = cache
        self.items: list[Text] = []
        self.vectors: list[np.ndarray] = []
        self.since = time.monotonic()

    def add(self, items: list[Text], vectors: np.ndarray) -> None:
        self.items.extend(items)
        self.vectors.append(vectors)
        if (len(self.items) >= FLUSH_EVERY
                or time.monotonic() - self.since >= FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        if self.cache is not None and self.items:
            self.cache.put(self.items, np.concatenate(self.vectors))
        self.items, self.vectors = [], []
        self.since = time.monotonic()


Batch = tuple[str, list[str], int]  # (prompt, sentences, token cost = size x longest)


def plan_batches(encoder: Encoder, todo: Sequence[Text], batch_size: int) -> list[Batch]:
    """The batches that encode ``todo``: per prompt, longest first (in tokens where the
    encoder can count them), so similar lengths share a batch (little padding) and an
    out-of-memory error shows up at the first batch rather than at the end. Ties keep a fixed
    order, so batches are the same from run to run, and in a sharded run on every rank."""
    groups: dict[str, list[str]] = {}
    for item in todo:
        prompt, sentence = _split(item)
        groups.setdefault(prompt, []).append(sentence)
    batches: list[Batch] = []
    for prompt, group in groups.items():
        keys = encoder.length_keys([prompt + s for s in group])
        order = sorted(range(len(group)), key=lambda i: (-keys[i], group[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            batches.append((prompt, [group[i] for i in rows],
                            len(rows) * max(max(keys[i] for i in rows), 1)))
    return batches


def embed(encoder: Encoder, sentences: Sequence[Text], *, cache: EmbeddingCache | None = None,
          batch_size: int = 64, show_progress: bool = True,
          description: str = "encoding", shards: Shards | None = None) -> EmbeddingTable:
    """Vectors for every distinct text (a sentence or a (prompt, sentence) pair), from the
    cache where possible. Texts with different prompts never share a batch.

    ``shards`` (a sharded run, ``bench.distributed``): rank 0 decides what is missing and how
    it is batched, each rank encodes the batches ``assign`` gives it and writes their cache
    chunks, and rank 0 gathers every vector; the table other ranks get back is empty."""
    t0 = time.perf_counter()
    unique = list(dict.fromkeys(sentences))
    if shards is None:
        todo, batches = _plan(encoder, unique, cache, batch_size)
        mine = list(range(len(batches)))
    else:
        key = shards.next_round()
        todo, batches = shards.share(f"{key}/plan", lambda: _plan(encoder, unique, cache,
                                                                  batch_size))
        owner = assign([cost for _, _, cost in batches], shards.world)
        mine = [i for i, r in enumerate(owner) if r == shards.rank]
    encoded: dict[int, tuple[list[Text], np.ndarray]] = {}  # batch -> its finite rows
    bad: list[Text] = []
    t_encode = time.perf_counter()
    if mine:
        pending = PendingVectors(cache)
        total = sum(len(batches[i][1]) for i in mine)
        dim: int | None = None  # set by the first batch; every later one must match it
        try:
            with sigterm_raises(shards is None), \
                    progress_bar(description, total=total, disable=not show_progress) as advance:
                for i in mine:
                    if shards is not None:
                        shards.check()  # stop within a batch when another rank has failed
                    prompt, batch, _ = batches[i]
                    vectors = checked_vectors(encoder.name, encoder.encode_prompted(
                        batch, prompt, batch_size=batch_size), len(batch), dim)
                    dim = vectors.shape[1]
                    items = [text_item(prompt, s) for s in batch]
                    finite = np.isfinite(vectors).all(axis=1)
                    if not finite.all():  # counted and refused below; never cached
                        bad.extend(s for s, ok in zip(items, finite) if not ok)
                        items = [s for s, ok in zip(items, finite) if ok]
                        vectors = vectors[finite]
                    encoded[i] = (items, vectors)
                    pending.add(items, vectors)
                    advance(len(finite))
        except BaseException:  # Ctrl-C, SIGTERM, a failed batch: keep what was encoded
            pending.flush()
            raise
        pending.flush()
    encode_s = time.perf_counter() - t_encode
    if shards is not None:
        gathered = shards.gather(f"{key}/vectors", (encoded, bad))
        if gathered is None:  # not rank 0: its share is done
            return EmbeddingTable(np.zeros((0, 0), dtype=np.float32), {},
                                  {"encode_s": round(encode_s, 4)})
        encoded = {i: part for shard, _ in gathered for i, part in shard.items()}
        bad = [s for _, shard_bad in gathered for s in shard_bad]
    fresh: dict[Text, np.ndarray] = {}
    for i in sorted(encoded):  # the single-process order, whoever encoded each batch
        fresh.update(zip(*encoded[i]))
    if bad:
        raise_non_finite(encoder.name, len(bad), len(unique), "".join(_split(bad[0])))
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


def _plan(encoder: Encoder, unique: list[Text], cache: EmbeddingCache | None,
          batch_size: int) -> tuple[list[Text], list[Batch]]:
    todo = cache.missing(unique) if cache is not None else list(unique)
    return todo, plan_batches(encoder, todo, batch_size)


def probe_dim(encoder: Encoder) -> int:
    """The encoder's dimension, from one sentence (asked only when a cache folder's unkeyed
    chunks disagree on it, ``bench.cache``)."""
    vectors = np.asarray(encoder.encode(["dimension"], batch_size=1))
    return int(vectors.reshape(1, -1).shape[1])


def encode_tasks(encoder: Encoder, task_sentences: dict[str, Sequence[str]], *,
                 cache_root: Path | None = None, use_cache: bool = True, batch_size: int = 64,
                 show_progress: bool = True, families: Mapping[str, str] | None = None,
                 sides: Mapping[str, tuple[Sequence[str], Sequence[str]]] | None = None,
                 shards: Shards | None = None
                 ) -> tuple[dict[str, EmbeddingTable], dict[str, float]]:
    """One encoding pass over the sentences of several tasks, then each task's view.

    The source encoder (a post-processor's base, or the encoder itself) encodes the union
    of all tasks' texts once, through the cache keyed by its fingerprint; the encoder
    then turns that table into per-task tables (identity for plain encoders).

    Prompts: each task gets the source encoder's prompts for its family (``families``: task
    -> family). With the same prompt on both sides the texts are (prompt, sentence) for every
    sentence of the task; with different ones the two sides are different texts, so
    ``sides`` (task -> (first sentences, second sentences)) must say which sentence is on
    which side, and each is encoded with its side's prompt.

    ``shards``: a sharded run (``bench.distributed``); ranks other than 0 encode their share
    and get no views back (``{}``).
    """

    source = encoder.source_encoder()
    cache = None
    if use_cache and source.cacheable:
        cache = EmbeddingCache(cache_root or default_cache_root(), source.fingerprint,
                               source.describe(), dim_probe=lambda: probe_dim(source))
    families = families or {}
    prompts = {task: source.prompt_pair(families.get(task, ""), task) for task in task_sentences}
    everything: list[Text] = []
    for task, sents in task_sentences.items():
        a, b = prompts[task]
        if a == b:
            everything.extend(text_item(a, s) for s in sents)
        elif sides is None or task not in sides:
            raise ModelError(f"model {encoder.name!r}: asymmetric prompts need the two sides "
                             f"of {task}'s pairs; this evaluation has one list of sentences")
        else:
            everything.extend(text_item(a, s) for s in sides[task][0])
            everything.extend(text_item(b, s) for s in sides[task][1])
    table = embed(source, everything, cache=cache, batch_size=batch_size,
                  show_progress=show_progress, description=f"encoding ({source.name})",
                  shards=shards)
    if shards is not None and not shards.lead:
        return {}, dict(table.stats)
    t = time.perf_counter()
    views = {task: encoder.task_view(task, sents, table.with_prompts(*prompts[task]))
             for task, sents in task_sentences.items()}
    if encoder is not source:  # a post-processor may divide by zero norms or variances
        for view in views.values():
            check_finite(encoder.name, view.vectors, sorted(view.index, key=view.index.get))
    stats = dict(table.stats)
    stats["postprocess_s"] = round(time.perf_counter() - t, 4)
    first = next(iter(views.values()), None)
    if first is not None and first.vectors.ndim == 2:
        stats["dim"] = int(first.vectors.shape[1])
    return views, stats
