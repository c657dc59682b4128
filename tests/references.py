"""Independent references for tests: GloVe averages and STS scores in a few lines of numpy and
scipy, read straight from the data files, sharing no code with bench's encoders or scorers.

GloVe average as SentEval's ``bow.py``: white-space tokens, looked up lower-cased, float64 mean
of the known ones (zero vector if none). STS files as SentEval's ``sts.py``: one tab-separated
pair per line, gold scores in a parallel file, pairs with an empty gold line dropped.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from scipy import stats

from bench.encoders.packaged import packaged_path  # where the packaged files lie, nothing else


@cache
def glove_6b_50d() -> tuple[dict[str, int], np.ndarray]:
    """The packaged GloVe 6B 50d vectors: word -> row, and the matrix."""
    import pyarrow.parquet as pq

    root = packaged_path("packaged:glove-6B-50d")
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    return {w: i for i, w in enumerate(words)}, np.load(root / "glove_6B_50d_emb.npy")


def glove_average(sentences: list[str]) -> np.ndarray:
    vocab, matrix = glove_6b_50d()
    out = np.zeros((len(sentences), matrix.shape[1]))
    for i, sentence in enumerate(sentences):
        rows = [vocab[w.lower()] for w in sentence.split() if w.lower() in vocab]
        if rows:
            out[i] = matrix[rows].astype(np.float64).mean(axis=0)
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def sts_year(data_dir: Path, year: str) -> dict[str, tuple[list[str], list[str], np.ndarray]]:
    """Every subset of an STS12-16 year: (sentences 1, sentences 2, gold)."""
    folder = data_dir / "STS" / f"{year}-en-test"
    out = {}
    for gs in sorted(folder.glob("STS.gs.*.txt")):
        subset = gs.name[len("STS.gs."):-len(".txt")]
        pairs = (folder / f"STS.input.{subset}.txt").read_text(encoding="utf-8").splitlines()
        kept = [(p.split("\t"), g) for p, g in
                zip(pairs, gs.read_text(encoding="utf-8").splitlines()) if g != ""]
        out[subset] = ([p[0] for p, _ in kept], [p[1] for p, _ in kept],
                       np.array([float(g) for _, g in kept]))
    return out


def stsb_split(data_dir: Path, split: str) -> tuple[list[str], list[str], np.ndarray]:
    """One STS-B split: columns 5 and 6 are the sentences, column 4 the gold score."""
    lines = (data_dir / "STS" / "STSBenchmark" / f"sts-{split}.csv").read_text(
        encoding="utf-8").splitlines()
    rows = [line.strip().split("\t") for line in lines]
    return [r[5] for r in rows], [r[6] for r in rows], np.array([float(r[4]) for r in rows])


def glove_sts_year(data_dir: Path, year: str) -> dict[str, float]:
    """GloVe-average scores (points) of one STS year: all-spearman (the subsets pooled, the
    cosines rounded to 6 decimals before ranking: the tie rule of a run, bench.correlation)
    and wmean-pearson (the subsets' Pearson weighted by their pair counts)."""
    sims, golds = [], []
    for s1, s2, gold in sts_year(data_dir, year).values():
        sims.append(cosine(glove_average(s1), glove_average(s2)))
        golds.append(gold)
    pearson = [stats.pearsonr(s, g)[0] for s, g in zip(sims, golds)]
    counts = [len(g) for g in golds]
    return {"all-spearman": 100 * stats.spearmanr(np.round(np.concatenate(sims), 6),
                                                  np.concatenate(golds))[0],
            "wmean-pearson": 100 * np.dot(pearson, counts) / sum(counts)}
