"""Per-model values of each analysis, from vectors obtained through ``encode_tasks``.

Going through ``encode_tasks`` with the task name ``STSBenchmark`` means a model already run
is read from the embedding cache, and post-processed encoders (whitening, flow) apply their
``task_view`` exactly as they do in ``bench run``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.analysis import metrics
from bench.analysis.sets import StsbSets
from bench.analysis.targets import Target
from bench.embed import EmbeddingTable, encode_tasks
from bench.encoders.registry import EncoderOptions, resolve

TASK = "STSBenchmark"
COSINE_BINS = np.linspace(-1.0, 1.0, 41)  # histogram stored per gold group (0.05 wide)


@dataclass
class EncodeSettings:
    options: EncoderOptions
    cache_dir: str | None = None
    use_cache: bool = True
    batch_size: int = 64
    show_progress: bool = True


def model_tables(targets: list[Target], sets: StsbSets, settings: EncodeSettings
                 ) -> Iterator[tuple[Target, dict[str, Any], EmbeddingTable, dict[str, Any]]]:
    """Yield (target, encoder description, STS-B table, encoding stats), one model at a time."""
    for target in targets:
        t0 = time.perf_counter()
        encoder = resolve(target.model, settings.options)
        described = encoder.describe()
        views, stats = encode_tasks(
            encoder, {TASK: list(sets.encode)},
            cache_root=Path(settings.cache_dir) if settings.cache_dir else None,
            use_cache=settings.use_cache, batch_size=settings.batch_size,
            show_progress=settings.show_progress)
        stats["total_s"] = round(time.perf_counter() - t0, 4)
        yield target, described, views[TASK], stats
        del encoder, views
        gc.collect()  # checkpoints are loaded one after another; free each model's weights


def align_uniform(table: EmbeddingTable, sets: StsbSets, threshold: float, alpha: float,
                  t: float) -> dict[str, Any]:
    s1, s2 = sets.positives(threshold)
    if not s1:
        from bench.errors import BenchError

        raise BenchError(f"no STS-B pair in splits {','.join(sets.splits)} has gold > "
                         f"{threshold:g}; lower --threshold")
    return {"align": metrics.alignment(table.lookup(s1), table.lookup(s2), alpha),
            "uniform": metrics.uniformity(table.lookup(sets.sentences), t),
            "positive_pairs": len(s1), "sentences": len(sets.sentences)}


def spectrum(table: EmbeddingTable, sets: StsbSets, normalize: str, center: bool
             ) -> dict[str, Any]:
    x = table.lookup(sets.sentences)
    s = metrics.singular_spectrum(x, normalize, center)
    return {"sentences": int(x.shape[0]), "dim": int(x.shape[1]),
            "singular_values": [float(v) for v in s],
            # One-number summaries: how fast the normalised spectrum decays.
            "sum": float(s.sum()), "above_0.1": int((s > 0.1).sum())}


def cosine_distribution(table: EmbeddingTable, sets: StsbSets) -> dict[str, Any]:
    cos = metrics.pair_cosines(table.lookup(sets.sent1), table.lookup(sets.sent2))
    group = metrics.group_index(sets.gold)
    labels = metrics.group_labels()
    groups = {label: metrics.describe_values(cos[group == i], COSINE_BINS)
              for i, label in enumerate(labels)}
    return {"pairs": int(cos.size), "groups": groups, "_cosines": cos}


Analysis = Callable[[EmbeddingTable, StsbSets], dict[str, Any]]
