"""Alignment, uniformity, singular spectrum and grouped cosines (SimCSE section 5, App. F, G).

Definitions follow Wang & Isola (2020) as SimCSE uses them: both losses are computed on
L2-normalised vectors (unnormalised inputs give meaningless magnitudes), uniformity over the
distinct unordered pairs i < j only, as ``torch.pdist`` does in the reference code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NORMALIZE_CHOICES = ("l2", "none")
# Figure G.1's five gold-score groups; the last one is closed so that gold 5.0 belongs to it.
GOLD_GROUPS: tuple[tuple[float, float], ...] = ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5))
_BLOCK = 1024  # rows per block of the Gram matrix in ``uniformity``: bounds memory at n*1024


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float64); an all-zero row stays zero instead of NaN."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def alignment(a: np.ndarray, b: np.ndarray, alpha: float = 2.0) -> float:
    """Mean over positive pairs (a[i], b[i]) of ||f(a) - f(b)||^alpha, vectors L2-normalised."""
    a, b = l2_normalize(a), l2_normalize(b)
    if a.shape != b.shape or a.shape[0] == 0:
        raise ValueError(f"alignment needs two equal, non-empty (n, d) arrays, got "
                         f"{a.shape} and {b.shape}")
    return float(np.mean(np.linalg.norm(a - b, axis=1) ** alpha))


def uniformity(x: np.ndarray, t: float = 2.0) -> float:
    """log of the mean over pairs i < j of exp(-t ||f(x_i) - f(x_j)||^2), vectors L2-normalised.

    Uses ||u - v||^2 = 2 - 2 u.v for unit vectors and walks the Gram matrix in row blocks, so
    all n(n-1)/2 pairs of ~17k STS-B sentences fit in a few tens of MB.
    """
    x = l2_normalize(x)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"uniformity needs at least 2 vectors, got {n}")
    total = 0.0
    for start in range(0, n - 1, _BLOCK):
        rows = x[start:start + _BLOCK]
        gram = rows @ x[start:].T  # pairs (start + r, start + c); keep c > r only
        sq = np.clip(2.0 - 2.0 * gram, 0.0, None)
        upper = np.triu(np.ones(gram.shape, dtype=bool), k=1)
        total += float(np.exp(-t * sq[upper]).sum())
    return float(np.log(total / (n * (n - 1) / 2)))


def singular_spectrum(x: np.ndarray, normalize: str = "l2", center: bool = False) -> np.ndarray:
    """Singular values of the embedding matrix, largest first, scaled so the largest is 1.

    Rows are L2-normalised first when ``normalize == "l2"`` (the paper's section 5 argument
    assumes unit rows), then the column mean is removed when ``center`` is set.
    """
    if normalize not in NORMALIZE_CHOICES:
        raise ValueError(f"normalize must be one of {NORMALIZE_CHOICES}, got {normalize!r}")
    m = l2_normalize(x) if normalize == "l2" else np.asarray(x, dtype=np.float64)
    if center:
        m = m - m.mean(axis=0, keepdims=True)
    s = np.linalg.svd(m, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return np.zeros_like(s)
    return s / s[0]


def pair_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of each pair (a[i], b[i]); 0 where a vector is all zeros."""
    return np.sum(l2_normalize(a) * l2_normalize(b), axis=1)


def group_labels(groups: Sequence[tuple[float, float]] = GOLD_GROUPS) -> list[str]:
    """``[0,1)``, ..., ``[4,5]``: the last interval is closed."""
    last = len(groups) - 1
    return [f"[{lo:g},{hi:g}{']' if i == last else ')'}" for i, (lo, hi) in enumerate(groups)]


def group_index(gold: np.ndarray, groups: Sequence[tuple[float, float]] = GOLD_GROUPS
                ) -> np.ndarray:
    """Group of each gold score (-1 outside every group)."""
    gold = np.asarray(gold, dtype=np.float64)
    out = np.full(gold.shape, -1, dtype=np.int64)
    last = len(groups) - 1
    for i, (lo, hi) in enumerate(groups):
        inside = (gold >= lo) & ((gold <= hi) if i == last else (gold < hi))
        out[inside & (out < 0)] = i
    return out


def describe_values(v: np.ndarray, bins: np.ndarray) -> dict[str, object]:
    """Summary of one group's cosines, with a histogram so densities can be redrawn from JSON."""
    if v.size == 0:
        return {"n": 0}
    q = np.quantile(v, [0.0, 0.25, 0.5, 0.75, 1.0])
    counts, _ = np.histogram(np.clip(v, bins[0], bins[-1]), bins=bins)
    return {"n": int(v.size), "mean": float(v.mean()), "std": float(v.std()),
            "min": float(q[0]), "q25": float(q[1]), "median": float(q[2]),
            "q75": float(q[3]), "max": float(q[4]), "histogram": counts.tolist()}
