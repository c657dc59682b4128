"""Statistics for comparing correlations: bootstrap replicates and dependent-correlation tests.

Pure numpy/scipy, no report handling, so each piece can be checked against a hand computation.

- Bootstrap: resample pairs with replacement, recompute the correlation for every replicate
  (row-wise, vectorised); percentile interval (Efron & Tibshirani 1993, ch. 13).
- The paired test of compare and the page: a normal-approximation paired bootstrap (the
  Wald test dual to the standard normal bootstrap interval, Efron & Tibshirani 1993, ch. 6
  and 12.2): z = observed difference / bootstrap standard error of the difference. Unlike
  counting replicates beyond 0 (whose smallest p is 2 / (B + 1)), its p is not floored by the
  resample count, so a family of tens of tests can be corrected and still reach 5%; it holds
  for any aggregate (a year's mean of subset correlations, Avg.), where Williams' test does
  not. Its calibration is checked by simulation (tests/test_significance.py).
- Williams' T2 (Williams 1959, as given by Steiger 1980, Psychological Bulletin 87(2), eq. 7)
  and Steiger's Z (Steiger 1980, eqs. 10, 11, 14): do two correlations with a shared variable
  (gold vs model A, gold vs model B) differ, given r(A, B)? This is the test recommended for
  comparing metrics/systems on the same items (e.g. Graham & Baldwin 2014).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from scipy import stats

# Elements (replicates x pairs) drawn and gathered at once: about 32 MB per int64 / float64
# array of a block, whatever the task's size. A million-pair task at 1,000 resamples would
# otherwise take 8 GB for the indices alone (and as much again per gathered array).
BLOCK_ELEMENTS = 1 << 22


def bootstrap_indices(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` rows of ``n`` indices drawn with replacement from ``range(n)``."""
    return rng.integers(0, n, size=(resamples, n), dtype=np.int64)


def block_rows(n: int, resamples: int, budget: int = BLOCK_ELEMENTS) -> list[int]:
    """Replicate counts of consecutive blocks covering ``resamples`` rows of ``n`` pairs each,
    at most ``budget`` elements per block (at least one row)."""
    step = max(1, budget // max(1, n))
    return [min(step, resamples - start) for start in range(0, resamples, step)]


def bootstrap_index_blocks(n: int, resamples: int, rng: np.random.Generator,
                           budget: int = BLOCK_ELEMENTS) -> Iterator[np.ndarray]:
    """``bootstrap_indices`` in row blocks of bounded memory. The generator's stream is
    consumed in the same order (row after row), so the concatenated blocks equal
    ``bootstrap_indices(n, resamples, rng)`` exactly: numpy's bounded integers draw each
    value from the bit generator independently of the requested shape."""
    for rows in block_rows(n, resamples, budget):
        yield rng.integers(0, n, size=(rows, n), dtype=np.int64)


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval; replicates that are NaN (no variance) are ignored."""
    values = np.asarray(replicates, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def paired_bootstrap_p(differences: np.ndarray) -> float:
    """Two-sided p-value that a paired difference is 0, from its bootstrap replicates.

    Twice the smaller share of replicates on either side of 0, with the +1 correction so a
    finite number of resamples never claims p = 0 (Davison & Hinkley 1997, eq. 4.11).
    """
    d = np.asarray(differences, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    below = (np.count_nonzero(d <= 0) + 1) / (d.size + 1)
    above = (np.count_nonzero(d >= 0) + 1) / (d.size + 1)
    return float(min(1.0, 2 * min(below, above)))


def normal_bootstrap_p(delta: np.ndarray | float, replicates: np.ndarray) -> np.ndarray | float:
    """Two-sided p that a paired difference is 0: ``2 (1 - Phi(|delta| / se))`` with ``se``
    the standard deviation of its bootstrap replicates (last axis; NaN replicates ignored).

    Vectorised over leading axes. A difference with no spread at all gives 1 when it is 0
    (identical models) and 0 otherwise; fewer than two finite replicates give NaN."""
    reps = np.asarray(replicates, dtype=np.float64)
    d = np.asarray(delta, dtype=np.float64)
    finite = np.isfinite(reps)
    count = finite.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        filled = np.where(finite, reps, 0.0)
        mean = filled.sum(axis=-1) / count
        var = (np.where(finite, reps - mean[..., None], 0.0) ** 2).sum(axis=-1) / (count - 1)
        z = np.abs(d) / np.sqrt(var)
    p = 2 * stats.norm.sf(z)
    p = np.where(var == 0, np.where(d == 0, 1.0, 0.0), p)
    p = np.where((count < 2) | ~np.isfinite(d), np.nan, p)
    return float(p) if p.ndim == 0 else p


def williams_t2(r12: float, r13: float, r23: float, n: int) -> tuple[float, float]:
    """Williams' T2 for H0: rho12 = rho13 (variable 1 shared); returns (t, two-sided p), df n-3."""
    if n <= 3:
        return float("nan"), float("nan")
    det = 1 - r12 ** 2 - r13 ** 2 - r23 ** 2 + 2 * r12 * r13 * r23
    rbar = (r12 + r13) / 2
    denom = 2 * (n - 1) / (n - 3) * det + rbar ** 2 * (1 - r23) ** 3
    if denom <= 0:
        return float("nan"), float("nan")
    t = (r12 - r13) * math.sqrt((n - 1) * (1 + r23) / denom)
    return float(t), float(2 * stats.t.sf(abs(t), n - 3))


def steiger_z(r12: float, r13: float, r23: float, n: int) -> tuple[float, float]:
    """Steiger's Z2* for H0: rho12 = rho13, using the pooled rbar; returns (z, two-sided p)."""
    if n <= 3 or max(abs(r12), abs(r13)) >= 1:
        return float("nan"), float("nan")
    rbar = (r12 + r13) / 2
    psi = r23 * (1 - 2 * rbar ** 2) - 0.5 * rbar ** 2 * (1 - 2 * rbar ** 2 - r23 ** 2)
    s = psi / (1 - rbar ** 2) ** 2
    if s >= 1:
        return float("nan"), float("nan")
    z = (math.atanh(r12) - math.atanh(r13)) * math.sqrt(n - 3) / math.sqrt(2 - 2 * s)
    return float(z), float(2 * stats.norm.sf(abs(z)))


CORRECTIONS = ("holm", "bonferroni", "none")


def adjust_p(pvalues: list[float], method: str = "holm") -> list[float]:
    """p-values adjusted for testing them as one family (NaN ones are not in the family).

    Bonferroni: m p. Holm (1979, Scand. J. Statist. 6, 65-70), step-down: the i-th smallest
    (i from 0) becomes max over j <= i of min(1, (m - j) p_(j)); it controls the same
    family-wise error rate as Bonferroni and rejects at least as much.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}")
    p = np.asarray(pvalues, dtype=np.float64)
    out = p.copy()
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if method == "none" or m == 0:
        return [float(x) for x in out]
    if method == "bonferroni":
        out[ok] = np.minimum(1.0, m * p[ok])
        return [float(x) for x in out]
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for j, i in enumerate(order):
        running = max(running, min(1.0, (m - j) * p[i]))
        out[i] = running
    return [float(x) for x in out]


def seed_permutation_p(a: list[float], b: list[float]) -> float:
    """Two-sided p that two models' per-seed numbers come from one distribution: an exact
    permutation test of the difference of means over every split of the pooled seeds
    (``scipy.stats.permutation_test``, independent samples). Its smallest p is
    2 / C(n_a + n_b, n_a): 0.1 for 3 seeds against 3, so p < 0.05 needs at least 4 + 4."""
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    res = stats.permutation_test(
        (np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)),
        lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
        permutation_type="independent", vectorized=True, n_resamples=np.inf,
        alternative="two-sided")
    return float(res.pvalue)
