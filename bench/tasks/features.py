"""Sentence-pair features ``[|u - v|, u * v]``, as SentEval builds them for relatedness
(``sick.py``: STS-B, SICK-R) and paraphrase detection (``mrpc.py``)."""

from __future__ import annotations

import numpy as np


def pair_features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``[|u - v|, u * v]`` computed in the vectors' own dtype, returned as float32."""
    u = np.asarray(u)
    v = np.asarray(v)
    return np.concatenate([np.abs(u - v), u * v], axis=1).astype(np.float32)
