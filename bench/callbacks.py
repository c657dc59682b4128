"""Evaluation inside training loops: score an encode function on one split of an STS task.

``StsEvaluator`` is what the SimCSE trainer calls for its STS-B dev selection, and what a
user's own loop can call with any ``encode(list[str]) -> array``. An adapter puts it into
other trainers: ``sentence_transformers_evaluator`` (an evaluator object for
``SentenceTransformerTrainer`` / ``model.fit``).

Values are correlations as fractions, as sentence-transformers' evaluators and SentEval
return them (reports use points); the computation is bench's: SentEval's cosine and the one
scorer (``bench.scoring``), on the task as the registry reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.locate import locate
from bench.errors import DataError
from bench.scoring import aggregate
from bench.tasks.registry import get
from bench.tasks.sts import cosine

Encode = Callable[[Sequence[str]], Any]


class StsEvaluator:
    """One STS task split (or a year's subsets), its sentences deduplicated once."""

    def __init__(self, task: str = "STSBenchmark", split: str = "dev", metric: str = "spearman",
                 aggregation: str = "all", data_dir: str | Path | None = None) -> None:
        meta = get(task)
        if meta.family != "sts":
            raise DataError(f"evaluator: {meta.name!r} is not an STS task")
        loaded = meta.load(locate(data_dir).downstream)
        parts = meta.eval_parts if split in ("test", "eval") and meta.subsets else (split,)
        missing = [p for p in parts if p not in loaded.parts]
        if missing:
            raise DataError(f"evaluator: task {meta.name} has no split {missing[0]!r}; "
                            f"valid: {', '.join(loaded.parts)}")
        self.task, self.split, self.metric, self.aggregation = meta.name, split, metric, aggregation
        pairs = [loaded.parts[p] for p in parts]
        self.sentences = sorted({s for p in pairs for s in (*p.sent1, *p.sent2)})
        where = {s: i for i, s in enumerate(self.sentences)}
        self._index = [(np.array([where[s] for s in p.sent1]),
                        np.array([where[s] for s in p.sent2])) for p in pairs]
        self._gold = [np.asarray(p.gold, dtype=np.float64) for p in pairs]

    @property
    def name(self) -> str:
        return f"{self.task}-{self.split}-{self.metric}"

    def __len__(self) -> int:
        return int(sum(len(g) for g in self._gold))

    def __call__(self, encode: Encode) -> float:
        """The correlation (fraction) of cosine similarity with gold under ``encode``."""

        vectors = encode(self.sentences)
        if hasattr(vectors, "detach"):
            vectors = vectors.detach().float().cpu().numpy()
        vectors = np.asarray(vectors)
        sims = [cosine(vectors[a], vectors[b]) for a, b in self._index]
        return float(aggregate(sims, self._gold, self.metric, self.aggregation))


def sentence_transformers_evaluator(task: str = "STSBenchmark", split: str = "dev",
                                    metric: str = "spearman", **kwargs: Any) -> Any:
    """An evaluator object that sentence-transformers' trainers accept."""
    try:  # sentence-transformers >= 6 moved it; older versions keep the old path
        from sentence_transformers.sentence_transformer.evaluation import (
            SentenceEvaluator,  # heavy: sentence_transformers
        )
    except ImportError:
        from sentence_transformers.evaluation import (
            SentenceEvaluator,  # heavy: sentence_transformers
        )

    inner = StsEvaluator(task, split, metric, **kwargs)

    class BenchStsEvaluator(SentenceEvaluator):
        def __init__(self) -> None:
            super().__init__()
            self.name = f"bench_{inner.name}"
            self.primary_metric = inner.metric
            self.greater_is_better = True

        def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1,
                     steps: int = -1) -> dict[str, float]:
            value = inner(lambda s: model.encode(list(s), convert_to_numpy=True,
                                                 show_progress_bar=False))
            return self.prefix_name_to_metrics({inner.metric: value}, self.name)

    return BenchStsEvaluator()
