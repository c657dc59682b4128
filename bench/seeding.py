"""One place that seeds every random number generator bench draws from."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and every CUDA device).

    ``torch.manual_seed`` also seeds CUDA, as the reference trainers' ``set_seed`` does
    (``transformers.set_seed``, which SimCSE's ``train.py`` calls through HF's Trainer).
    """
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


MAX_SEED = 2**32 - 1  # numpy's legacy seeding accepts 0 .. 2**32 - 1


def check_seed(seed: int, option: str = "--seed") -> int:
    """A seed every generator accepts, or one line naming the option."""
    from bench.errors import BenchError

    if not 0 <= seed <= MAX_SEED:
        raise BenchError(f"{option} must be between 0 and {MAX_SEED}, got {seed}")
    return seed
