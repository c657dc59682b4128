"""Seed every random number generator a run or a training step draws from."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> None:
    """Python's, NumPy's global and torch's (CPU and every GPU) generators."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
