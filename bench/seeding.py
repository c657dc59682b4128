"""One place that seeds every random number generator bench draws from."""

from __future__ import annotations

import random

import numpy as np

from bench.errors import BenchError


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and every CUDA device).

    ``torch.manual_seed`` also seeds CUDA, as the reference trainers' ``set_seed`` does
    (``transformers.set_seed``, which SimCSE's ``train.py`` calls through HF's Trainer).
    """
    import torch  # heavy: torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


MAX_SEED = 2**32 - 1  # numpy's legacy seeding accepts 0 .. 2**32 - 1


def check_seed(seed: int, option: str = "--seed") -> int:
    """A seed every generator accepts, or one line naming the option."""

    if not 0 <= seed <= MAX_SEED:
        raise BenchError(f"{option} must be between 0 and {MAX_SEED}, got {seed}")
    return seed


def parse_seeds(text: str, option: str = "--seeds") -> list[int]:
    """``"1,2,3"`` -> [1, 2, 3]: distinct valid seeds, in the order given, or one line."""

    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise BenchError(f"{option}: expected a comma-separated list of seeds such as 1,2,3, "
                         f"got {text!r}")
    seeds: list[int] = []
    for item in items:
        try:
            seed = int(item)
        except ValueError:
            raise BenchError(f"{option}: {item!r} is not an integer seed") from None
        check_seed(seed, option)
        if seed in seeds:
            raise BenchError(f"{option}: seed {seed} is given twice")
        seeds.append(seed)
    return seeds
