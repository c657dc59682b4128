"""SentEval's supervised relatedness regressor for STS-B and SICK-R (``senteval/sick.py`` and
``senteval/tools/relatedness.py``).

SentEval's default for these two tasks (``sick.py`` + ``tools/relatedness.py``), which many
papers report without saying so:

- pairs of each split sorted by (tokens of A, tokens of B, score), Python's stable sort;
- features ``[|u - v|, u * v]``; targets: Tai et al.'s soft labels over r = 1..5;
- ``Linear(2d -> 5)`` + softmax, MSE (mean) against the soft labels, Adam (lr 1e-3), batch 64;
- NumPy and torch seeded with 1111; training in chunks of 50 epochs while the epoch count is
  <= 1000 (so at most 1050 epochs); after each chunk the dev prediction ``probs . r`` is scored
  and the best model kept; the non-improvement counter is never reset and training stops on
  the 4th non-improving chunk;
- dev selection by Pearson (upstream SentEval) or Spearman (SimCSE's fork; the one numerical
  difference between the two tools);
- test: ``yhat = probs . r``, Pearson / Spearman / MSE against the raw gold scores.

The STS-B quirk: its scores lie in [0, 5] but the encoding assumes [1, 5]. For y < 1 only
class 1 gets the value y, so the target does not sum to 1 (all zeros for y = 0). That is
reproduced by default; ``label_fix=True`` instead maps scores affinely onto [1, 5] before
encoding (and predictions back), which leaves correlations' meaning unchanged.

Unlike SentEval's (which asserts CUDA), this runs on CPU or CUDA. Gradients are written out
by hand (softmax + MSE), which is what autograd computes, minus its per-step overhead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.correlation import all_metrics, correlation
from bench.results import RegressionResult
from bench.tasks.classifier import EarlyStopping, adam_step, initial_linear
from bench.tasks.features import pair_features
from bench.threads import limit_threads

SELECTIONS = ("pearson", "spearman")
NCLASS = 5
CHUNK = 50
MAX_EPOCH = 1000
BATCH = 64
PATIENCE = 3  # stop on the (PATIENCE + 1)-th non-improving chunk


def encode_labels(y: Sequence[float], nclass: int = NCLASS) -> np.ndarray:
    """Tai et al.'s soft labels exactly as SentEval writes them (float32, quirk included)."""
    y = np.asarray(y, dtype=np.float64)
    out = np.zeros((len(y), nclass), dtype=np.float32)
    floor = np.floor(y)
    for i in range(nclass):
        upper = (i + 1) == floor + 1   # class i+1 == floor(y)+1 gets the fraction
        lower = (i + 1) == floor       # class i+1 == floor(y) gets 1 - fraction
        out[upper, i] = (y - floor)[upper]
        out[lower, i] = (floor - y + 1)[lower]
    return out


def rescale(y: np.ndarray, low: float, high: float, nclass: int = NCLASS) -> np.ndarray:
    """Map scores from [low, high] onto [1, nclass] (the ``label_fix`` option)."""
    return 1 + (np.asarray(y, dtype=np.float64) - low) * (nclass - 1) / (high - low)


def sort_pairs(sent1: Sequence[str], sent2: Sequence[str], gold: Sequence[float]) -> list[int]:
    """SentEval's order: by token counts of A and B, then score (stable)."""
    keys = [(len(a.split()), len(b.split()), float(g)) for a, b, g in zip(sent1, sent2, gold)]
    return sorted(range(len(keys)), key=keys.__getitem__)


@dataclass
class RegressorResult:
    selection: str
    dev: float               # best dev correlation (selection metric)
    yhat: np.ndarray         # test predictions on the 1..5 scale (gold scale with label_fix)
    epochs: int
    best_epoch: int
    chunks: list[float]


class Regressor:
    """One SentEval relatedness fit (train, dev for selection, test)."""

    def __init__(self, selection: str = "pearson", seed: int = 1111, device: str = "cpu",
                 max_epoch: int = MAX_EPOCH, chunk: int = CHUNK) -> None:
        if selection not in SELECTIONS:
            raise ValueError(f"unknown selection {selection!r}; valid: {', '.join(SELECTIONS)}")
        self.selection = selection
        self.seed = seed
        self.device = device
        self.max_epoch = max_epoch
        self.chunk = chunk

    def run(self, train_x: np.ndarray, train_y: np.ndarray, dev_x: np.ndarray,
            dev_scores: np.ndarray, test_x: np.ndarray) -> RegressorResult:
        with limit_threads(self.device):
            return self._run(train_x, train_y, dev_x, dev_scores, test_x)

    def _run(self, train_x, train_y, dev_x, dev_scores, test_x) -> RegressorResult:
        import torch  # heavy: torch

        dev = torch.device(self.device)
        rng = np.random.RandomState(self.seed)
        xt = torch.as_tensor(train_x, dtype=torch.float32).to(dev)
        yt = torch.as_tensor(train_y, dtype=torch.float32).to(dev)
        xd = torch.as_tensor(dev_x, dtype=torch.float32).to(dev)
        xs = torch.as_tensor(test_x, dtype=torch.float32).to(dev)
        n, d = xt.shape
        W, b = (t.to(dev) for t in initial_linear(d, NCLASS, self.seed))
        r = torch.arange(1, NCLASS + 1, dtype=torch.float32, device=dev)
        m1W, m2W, m1b, m2b = (torch.zeros_like(t) for t in (W, W, b, b))
        best = (W.clone(), b.clone())
        stopper = EarlyStopping(PATIENCE)
        chunks: list[float] = []
        nepoch, step, best_epoch = 0, 0, 0
        while not stopper.stopped and nepoch <= self.max_epoch:
            for _ in range(self.chunk):
                perm = torch.from_numpy(rng.permutation(n)).to(dev)
                for i in range(0, n, BATCH):
                    idx = perm[i:i + BATCH]
                    xb = xt.index_select(0, idx)
                    p = torch.softmax(xb @ W + b, dim=1)
                    # d/dp of mean((p - t)^2) over m*5 elements, then through the softmax
                    gp = (p - yt.index_select(0, idx)) * (2.0 / p.numel())
                    gz = p * (gp - (gp * p).sum(1, keepdim=True))
                    step += 1
                    adam_step(W, xb.t() @ gz, m1W, m2W, step)
                    adam_step(b, gz.sum(0), m1b, m2b, step)
            nepoch += self.chunk
            yhat = (torch.softmax(xd @ W + b, dim=1) @ r).double().cpu().numpy()
            score = correlation(yhat, dev_scores, self.selection)
            chunks.append(score)
            if stopper.update(score):
                best = (W.clone(), b.clone())
                best_epoch = nepoch
        W, b = best
        yhat = (torch.softmax(xs @ W + b, dim=1) @ r).double().cpu().numpy()
        return RegressorResult(self.selection, stopper.best, yhat, nepoch, best_epoch, chunks)




def evaluate_regressor(task, table, *, selection: str = "pearson", label_fix: bool = False,
                       seed: int = 1111, device: str = "cpu") -> RegressionResult:
    """Train on the task's train split, select on dev, score the scored (test) split.

    ``task`` is a ``bench.data.sts.StsTask`` whose registry record names its train and dev
    splits and score range, and ``table`` the embedding table that already holds its
    sentences (no extra encoding). Correlations are returned in points.
    """
    t0 = time.perf_counter()
    meta = task.meta
    low, high = meta.score_range or (1.0, 5.0)
    # A task file's scores may lie in any range and there is no SentEval number to reproduce:
    # they are always mapped onto the 5 classes (the report's regression.label_fix says so).
    label_fix = label_fix or getattr(meta, "origin", None) is not None
    roles = {"train": meta.train_split, "dev": meta.dev_split, "test": meta.eval_parts[0]}
    split = {}
    for role, name in roles.items():
        part = task.parts[name]
        order = sort_pairs(part.sent1, part.sent2, part.gold)
        s1 = [part.sent1[i] for i in order]
        s2 = [part.sent2[i] for i in order]
        gold = np.asarray(part.gold, dtype=np.float64)[order]
        split[role] = (pair_features(table.lookup(s1), table.lookup(s2, side=1)), gold)
    train_gold = split["train"][1]
    targets = encode_labels(rescale(train_gold, low, high) if label_fix else train_gold)
    dev_scores = split["dev"][1]
    result = Regressor(selection, seed, device).run(
        split["train"][0], targets, split["dev"][0],
        rescale(dev_scores, low, high) if label_fix else dev_scores, split["test"][0])
    yhat = result.yhat
    if label_fix:
        yhat = low + (yhat - 1) * (high - low) / (NCLASS - 1)
    gold = split["test"][1]
    # every registered metric, by name; NaN (constant predictions) is stored as 0, as before
    metrics = {m: 0.0 if v != v else v for m, v in all_metrics(yhat, gold).items()}
    return RegressionResult(
        selection=selection, label_fix=label_fix, seed=seed, pearson=None, spearman=None,
        metrics=metrics,
        mse=float(np.mean((yhat - gold) ** 2)), n=int(len(gold)), dev=100 * result.dev,
        dev_n=int(len(dev_scores)), epochs=result.epochs, best_epoch=result.best_epoch,
        dev_curve=[round(100 * float(c), 4) for c in result.chunks],
        below_one_train=int(np.sum(train_gold < 1)), wall_s=round(time.perf_counter() - t0, 3),
        yhat=np.asarray(yhat, dtype=np.float64), gold=gold)
