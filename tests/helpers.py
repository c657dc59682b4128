"""Small deterministic encoders for tests: vectors derived from a hash of the sentence."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.encoders.base import Encoder


class HashEncoder(Encoder):
    """Pseudo-random but deterministic vectors; counts how many sentences it encoded."""

    def __init__(self, dim: int = 8, delay: float = 0.0, tag: str = "v1") -> None:
        self.dim, self.delay, self.tag = dim, delay, tag
        self.name = f"hash-{dim}"
        self.calls = 0
        self.encoded = 0

    def spec(self) -> dict[str, Any]:
        return {"type": "hash", "dim": self.dim, "tag": self.tag}

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.calls += 1
        self.encoded += len(sentences)
        if self.delay:
            time.sleep(self.delay)
        out = np.empty((len(sentences), self.dim), dtype=np.float32)
        for i, s in enumerate(sentences):
            seed = int.from_bytes(hashlib.sha1(s.encode()).digest()[:4], "little")
            out[i] = np.random.default_rng(seed).standard_normal(self.dim)
        return out
