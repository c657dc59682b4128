"""STS-B dev Spearman during training: bench's own STS reader, cosine and correlation, no cache.

This is the model-selection signal of the reference trainer (``eval_stsb_spearman``): raw
cosine, no regressor, on the 1,500 dev pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from bench.correlation import correlation
from bench.data.locate import locate
from bench.data.sts import load_sts_task
from bench.tasks.sts import cosine


class StsbDev:
    """The STS-B dev pairs, deduplicated once, scored for any encode function."""

    def __init__(self, data_dir: str | None = None) -> None:
        part = load_sts_task(locate(data_dir).downstream, "STSBenchmark").parts["dev"]
        s1, s2 = list(part.sent1), list(part.sent2)
        self.sentences = sorted(set(s1) | set(s2))
        where = {s: i for i, s in enumerate(self.sentences)}
        self.idx1 = np.array([where[s] for s in s1])
        self.idx2 = np.array([where[s] for s in s2])
        self.gold = np.asarray(part.gold, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.gold)

    def spearman(self, encode: Callable[[Sequence[str]], np.ndarray]) -> float:
        vectors = encode(self.sentences)
        sim = cosine(vectors[self.idx1], vectors[self.idx2])
        return correlation(sim, self.gold, "spearman")
