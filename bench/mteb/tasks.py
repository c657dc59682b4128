"""Which bench task is which MTEB task: names, split, subset, languages and main score.

From mteb's task definitions (``mteb/tasks/sts/eng/sts12_sts.py`` ... ``sts16_sts.py``,
``sts_benchmark_sts.py``, ``sickr_sts.py``): each is one ``default`` subset of English text
scored on its ``test`` split with ``cosine_spearman`` as ``main_score``. STS12-16 pool all
the year's subsets into that one split (bench's ``all`` aggregation); MTEB's SICK-R test split
is every pair of the corpus, bench's ``SICKRelatednessAll``, not SentEval's SICK-R.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.protocols import Protocol, parse_one

PRESET = "mteb"  # protocols/mteb.toml


@dataclass(frozen=True)
class MtebTask:
    bench: str  # bench registry name
    name: str  # MTEB task name (its result file is ``<name>.json``)
    split: str = "test"
    subset: str = "default"
    languages: tuple[str, ...] = ("eng-Latn",)
    main_score: str = "cosine_spearman"


TASKS: tuple[MtebTask, ...] = (
    *(MtebTask(f"STS1{i}", f"STS1{i}") for i in range(2, 7)),
    MtebTask("STSBenchmark", "STSBenchmark"),
    MtebTask("SICKRelatednessAll", "SICK-R"),
)
BY_BENCH = {t.bench: t for t in TASKS}
BY_MTEB = {t.name: t for t in TASKS}


def protocol() -> Protocol:
    """MTEB's STS protocol (the ``mteb`` preset): no regressor, Spearman, ``all``."""
    return parse_one(PRESET)
