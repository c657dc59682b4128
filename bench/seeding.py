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
