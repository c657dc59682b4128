"""Each model's STS-B vectors for the analyses, obtained through ``encode_tasks``.

Going through ``encode_tasks`` with the task name ``STSBenchmark`` means a model already run
is read from the embedding cache, and post-processed encoders (whitening, flow) apply their
``task_view`` exactly as they do in ``bench run``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.analysis.sets import TASK, StsbSets
from bench.analysis.targets import Target
from bench.distributed import Shards, announcing, setup
from bench.embed import EmbeddingTable, encode_tasks
from bench.encoders.registry import EncoderOptions, resolve


@dataclass
class EncodeSettings:
    options: EncoderOptions
    cache_dir: str | None = None
    use_cache: bool = True
    batch_size: int = 64
    show_progress: bool = True


def model_tables(targets: list[Target], sets: StsbSets, settings: EncodeSettings
                 ) -> Iterator[tuple[Target, dict[str, Any], EmbeddingTable, dict[str, Any]]]:
    """Yield (target, encoder description, STS-B table, encoding stats), one model at a time.

    Under torchrun each model's encoding is sharded over the ranks (``bench.distributed``);
    only rank 0 gets the tables, the others yield nothing."""
    shards = setup(settings.options.device)
    with announcing(shards):
        yield from _tables(targets, sets, settings, shards)


def _tables(targets: list[Target], sets: StsbSets, settings: EncodeSettings,
            shards: Shards | None
            ) -> Iterator[tuple[Target, dict[str, Any], EmbeddingTable, dict[str, Any]]]:
    options = settings.options
    if shards is not None:
        options = replace(options, device=shards.device)
    for target in targets:
        t0 = time.perf_counter()
        encoder = resolve(target.model, options)
        described = encoder.describe()
        views, stats = encode_tasks(
            encoder, {TASK: list(sets.encode)},
            cache_root=Path(settings.cache_dir) if settings.cache_dir else None,
            use_cache=settings.use_cache, batch_size=settings.batch_size,
            show_progress=settings.show_progress and (shards is None or shards.lead),
            families={TASK: "sts"}, shards=shards)
        if not views:  # another rank than 0: its share is with rank 0
            del encoder
            gc.collect()
            continue
        stats["total_s"] = round(time.perf_counter() - t0, 4)
        yield target, described, views[TASK], stats
        del encoder, views
        gc.collect()  # checkpoints are loaded one after another; free each model's weights

