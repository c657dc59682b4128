"""The STS-B sets the analyses use: p_data (sentences), p_pos (pairs above a gold threshold), pairs.

SimCSE footnote 3: p_pos = STS-B pairs with gold > 4 (strictly), p_data = all STS-B sentences.
The paper does not say which splits, nor whether duplicate sentences are removed, so both are
options; the defaults are train+dev+test and every sentence occurrence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.paths import relative_file
from bench.tasks.registry import load_sts_task

TASK = "STSBenchmark"
STSB_SPLITS = ("train", "dev", "test")
DEFAULT_THRESHOLD = 4.0


@dataclass(frozen=True)
class StsbSets:
    """Pairs of the chosen splits, their sentences, and the encoding list for ``encode_tasks``."""

    splits: tuple[str, ...]
    sent1: tuple[str, ...]
    sent2: tuple[str, ...]
    gold: np.ndarray
    sentences: tuple[str, ...]  # p_data: sent1 and sent2 of every pair (deduplicated if asked)
    encode: tuple[str, ...]  # what is handed to encode_tasks: the STS-B sentences of the splits
    unique: bool
    files: tuple[str, ...]  # relative to the data folder (no machine paths in reports)
    sampled_from: int | None = None  # pairs before --max-pairs sampling; None when not sampled

    def positives(self, threshold: float = DEFAULT_THRESHOLD) -> tuple[list[str], list[str]]:
        """p_pos: the pairs whose gold score is strictly above ``threshold``."""
        keep = np.flatnonzero(self.gold > threshold)
        return [self.sent1[i] for i in keep], [self.sent2[i] for i in keep]

    def describe(self) -> dict[str, Any]:
        return {"task": TASK, "splits": list(self.splits), "pairs": len(self.gold),
                "sentences": len(self.sentences), "unique_sentences": self.unique,
                "sampled_from_pairs": self.sampled_from, "files": list(self.files)}


def parse_splits(values: Sequence[str]) -> tuple[str, ...]:
    """``train,dev,test`` or ``all``, in canonical order, or a one-line error."""
    chosen = {v.strip().lower() for item in values for v in item.split(",") if v.strip()}
    if "all" in chosen:
        chosen = set(STSB_SPLITS)
    bad = sorted(chosen - set(STSB_SPLITS))
    if bad or not chosen:
        raise BenchError(f"unknown STS-B split(s) {', '.join(bad) or '(none)'}; valid: "
                         f"{', '.join(STSB_SPLITS)} or all")
    return tuple(s for s in STSB_SPLITS if s in chosen)


def build_sets(downstream: Path, splits: Sequence[str] = STSB_SPLITS,
               unique: bool = False, max_pairs: int | None = None,
               seed: int = 1111) -> StsbSets:
    """Read STS-B and assemble the sets for the chosen splits.

    ``max_pairs`` keeps a seeded random subset of the pairs (in file order): a cheap look at
    many checkpoints, at the price of noisier values.
    """
    task = load_sts_task(downstream, TASK)
    parts = [task.parts[s] for s in splits]
    s1 = tuple(x for p in parts for x in p.sent1)
    s2 = tuple(x for p in parts for x in p.sent2)
    gold = np.concatenate([p.gold for p in parts])
    if max_pairs is not None and max_pairs < 1:
        raise BenchError(f"--max-pairs must be positive, got {max_pairs}")
    total = len(gold)
    sampled = max_pairs is not None and max_pairs < total
    if sampled:
        keep = np.sort(np.random.default_rng(seed).choice(len(gold), max_pairs, replace=False))
        s1, s2, gold = tuple(s1[i] for i in keep), tuple(s2[i] for i in keep), gold[keep]
        encode = (*s1, *s2)
    else:
        # Same order as ``StsTask.sentences`` (per split: all sent1, then all sent2), so a
        # post-processor fitted on the task's sentences sees exactly what ``bench run`` uses.
        encode = tuple(x for p in parts for x in (*p.sent1, *p.sent2))
    sentences = tuple(dict.fromkeys(encode)) if unique else encode
    return StsbSets(tuple(splits), s1, s2, gold, sentences, encode, unique,
                    tuple(relative_file(p.source, downstream) for p in parts),
                    total if sampled else None)


def describe_where(sets: StsbSets) -> str:
    """"STS-B train+dev+test" (with the sampling, if any), for the analyses' titles."""
    where = f"STS-B {'+'.join(sets.splits)}"
    if sets.sampled_from is not None:
        where += f", {len(sets.gold)} of {sets.sampled_from} pairs sampled"
    return where
