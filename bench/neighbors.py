"""Nearest neighbours of query sentences in a corpus, for several models side by side (SimCSE
Table 8: SBERT against supervised SimCSE on Flickr30k, top-3 retrieved sentences per query).

The corpus is a text file made by anyone: one sentence per line, UTF-8, blank lines skipped,
a repeated line kept once (its first line number), bounded in size, line count and line
length; a bad line is one error naming the file and the line, raised before any model is
loaded. Similarity is the cosine of the encoder's vectors (a zero vector, such as a sentence
with no known GloVe word, has cosine 0 with everything, as in SentEval); ties keep corpus
order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.embed import encode_tasks
from bench.encoders.make import encoder_options
from bench.encoders.registry import resolve
from bench.errors import BenchError, DataError
from bench.options import RunOptions
from bench.tablemodel import Cell, Table
from bench.textsafe import printable

MAX_CORPUS_BYTES = 32 * 1024 * 1024
MAX_SENTENCES = 200_000
MAX_LINE_CHARS = 2_000
MAX_K = 100
MAX_MODELS = 4
TASK = "neighbors"  # the encoding pass's task name (its sentences get the STS family's prompt)


@dataclass(frozen=True)
class Corpus:
    path: Path
    sentences: list[str]
    lines: list[int]  # each sentence's line number in the file (1-based)


@dataclass(frozen=True)
class Neighbour:
    sentence: str
    cosine: float
    line: int  # in the corpus file


@dataclass
class Neighbours:
    """``hits[model][query]``: the k nearest corpus sentences, nearest first."""

    models: list[str]
    queries: list[str]
    k: int
    corpus: Corpus
    hits: dict[str, list[list[Neighbour]]]


def read_corpus(path: Path) -> Corpus:
    """The corpus file's sentences (see the module doc), or one ``DataError`` line."""
    where = printable(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise DataError(f"--corpus {where}: not a file")
        if size > MAX_CORPUS_BYTES:
            raise DataError(f"--corpus {where}: {size} bytes, over the "
                            f"{MAX_CORPUS_BYTES // 2**20} MiB limit")
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"--corpus {where}: cannot read ({exc.strerror or exc})") from None
    sentences: list[str] = []
    lines: list[int] = []
    seen: set[str] = set()
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8").removesuffix("\r")
        except UnicodeDecodeError as exc:
            raise DataError(f"{where} line {number}: not UTF-8 (byte {exc.start + 1})") from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        if printable(text) != text:
            raise DataError(f"{where} line {number}: a control character "
                            f"({printable(text)[:60]}...); one sentence per line, plain text")
        text = text.strip()
        if not text or text in seen:
            continue
        if len(text) > MAX_LINE_CHARS:
            raise DataError(f"{where} line {number}: {len(text)} characters, over "
                            f"{MAX_LINE_CHARS}; one sentence per line")
        if len(sentences) == MAX_SENTENCES:
            raise DataError(f"{where} line {number}: over {MAX_SENTENCES} sentences")
        seen.add(text)
        sentences.append(text)
        lines.append(number)
    if not sentences:
        raise DataError(f"--corpus {where}: no sentence (one per line)")
    return Corpus(path, sentences, lines)


def check_request(models: Sequence[str], queries: Sequence[str], k: int,
                  corpus: Corpus) -> None:
    """The request's shape, checked before any model is loaded."""
    if not models:
        raise BenchError("--model: give one model, or two to compare (as SimCSE Table 8)")
    if len(models) > MAX_MODELS:
        raise BenchError(f"--model: {len(models)} models, at most {MAX_MODELS} side by side")
    if len(set(models)) < len(models):
        raise BenchError("--model: a model is named twice")
    if not queries or any(not q.strip() for q in queries):
        raise BenchError("--query: give at least one non-empty query sentence")
    if not 1 <= k <= MAX_K:
        raise BenchError(f"-k: {k}; give a number from 1 to {MAX_K}")
    if k > len(corpus.sentences):
        raise BenchError(f"-k {k}: the corpus {printable(corpus.path)} has only "
                         f"{len(corpus.sentences)} distinct sentence(s)")


def top_k(queries: np.ndarray, corpus: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosines), each (queries, k): the corpus rows of highest cosine with each
    query row, highest first, ties in corpus order."""
    def unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)

    sims = unit(queries) @ unit(corpus).T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, axis=1)


def nearest(models: Sequence[str], corpus: Corpus, queries: Sequence[str], k: int,
            opts: RunOptions) -> Neighbours:
    """Encode corpus and queries with each model (through the embedding cache) and find each
    query's k nearest corpus sentences."""
    check_request(models, queries, k, corpus)
    queries = [q.strip() for q in queries]
    hits: dict[str, list[list[Neighbour]]] = {}
    for model in models:
        encoder = resolve(model, encoder_options(opts))
        views, _ = encode_tasks(encoder, {TASK: [*corpus.sentences, *queries]},
                                cache_root=Path(opts.cache_dir) if opts.cache_dir else None,
                                use_cache=opts.use_cache, batch_size=opts.batch_size,
                                show_progress=opts.show_progress, families={TASK: "sts"})
        table = views[TASK]
        order, sims = top_k(table.lookup(queries), table.lookup(corpus.sentences), k)
        hits[model] = [[Neighbour(corpus.sentences[j], float(c), corpus.lines[j])
                        for j, c in zip(row, cos)] for row, cos in zip(order, sims)]
    return Neighbours(list(models), queries, k, corpus, hits)


def tables(found: Neighbours) -> list[Table]:
    """One table per query: rank, then each model's sentence and its cosine (4 decimals)."""
    columns = ["#"]
    for m in found.models:
        columns += [m, f"cos {m}"]
    out = []
    for q, query in enumerate(found.queries):
        rows = []
        for r in range(found.k):
            cells = [Cell(str(r + 1))]
            for m in found.models:
                hit = found.hits[m][q][r]
                cells += [Cell(hit.sentence), Cell(hit.cosine)]
            rows.append(cells)
        out.append(Table(f"Query: {query}", columns, rows, label_columns=1,
                         formats={f"cos {m}": ".4f" for m in found.models}))
    out[-1].notes.append(f"{found.k} nearest of {len(found.corpus.sentences)} distinct "
                         f"sentences of {found.corpus.path.name} by cosine (SimCSE Table 8)")
    out[0].data = {"neighbors": as_dict(found)}
    return out


def as_dict(found: Neighbours) -> dict:
    """The result as plain data (``--format json``)."""
    return {"corpus": str(found.corpus.path), "sentences": len(found.corpus.sentences),
            "k": found.k, "models": found.models,
            "queries": [{"query": query, "neighbours": {
                m: [{"sentence": h.sentence, "cosine": h.cosine, "line": h.line}
                    for h in found.hits[m][q]] for m in found.models}}
                for q, query in enumerate(found.queries)]}


def long_table(found: Neighbours) -> Table:
    """Every hit as one row (query, model, rank, sentence, line, cosine): ``--format csv``."""
    rows = [[Cell(query), Cell(m), Cell(str(r + 1)), Cell(h.sentence), Cell(str(h.line)),
             Cell(h.cosine)]
            for q, query in enumerate(found.queries) for m in found.models
            for r, h in enumerate(found.hits[m][q])]
    return Table("Nearest neighbours", ["query", "model", "rank", "sentence", "line", "cosine"],
                 rows, label_columns=5, formats={"cosine": ".4f"})
