"""SentEval's logistic-regression classifier for the transfer tasks, in torch or scikit-learn.

What SentEval does (``tools/classifier.py``, ``tools/validation.py``),
and what this module reproduces:

- A single ``Linear(d -> C)`` trained with cross-entropy (mean over the batch); the L2 value is
  the optimiser's weight decay, applied to weight and bias alike.
- Every fit re-seeds NumPy and torch with the task seed (1111): the same initial weights and
  the same sequence of epoch permutations for every fit of a grid.
- Training runs ``epoch_size`` passes, then scores the validation set and keeps the best model;
  the non-improvement counter is never reset and training stops on the ``tenacity + 1``-th
  non-improving check, or once more than ``max_epoch`` passes were made.
- Grid scores are rounded to 2 decimals (in points) before the argmax, so a tie goes to the
  smaller regularisation (the grid is ascending).

Why it is faster than SentEval's loop while computing the same thing: because every fit of a
grid starts from the same weights and draws the same permutations, the fits for all L2 values
of one training set see identical mini-batches; they are trained together as one stacked
model (weights ``(G, d, C)``) with hand-written gradients and optimiser updates that match
torch's Adam / RMSprop element by element. Each member keeps its own early-stopping state.

A step is a handful of tiny tensor operations, so their count is the cost beyond the two
matrix products: weights, bias, gradients and optimiser state each live in one flat buffer
(one update per step for all of them), and the one-hot labels are gathered once per epoch.
The arithmetic is unchanged bit for bit (``tests/test_classifier_speed.py`` keeps the
previous loop as the reference). Not done, because it would change rounding: one matrix
product for all members instead of the batched one (MKL picks another kernel), dropping
early-stopped members from the batch (ditto, for some shapes), the bias folded into W.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.protocols import (  # the settings are protocol facts; the fitting is here
    CLASSIFIERS,
    SKLEARN_C,
    SKLEARN_C_KFOLD,
    TORCH_L2,
    ClassifierConfig,
)
from bench.threads import limit_threads


def points(accuracies: Sequence[float]) -> float:
    """Mean accuracy in points, rounded to 2 decimals as SentEval rounds grid scores."""
    return round(100 * float(np.mean(accuracies)), 2)


def grid_choice(scores: Sequence[float]) -> int:
    """Index of the best (already rounded) score; the first, i.e. smallest L2, wins ties."""
    return int(np.argmax(scores))


class EarlyStopping:
    """SentEval's stopping rule for one fit.

    ``best`` starts at -1. A check that does not beat ``best`` strictly (NaN never does)
    stops training if ``tenacity`` non-improving checks came before it, else counts it;
    the counter is never reset by a later improvement.
    """

    def __init__(self, tenacity: int, initial: float = -1.0) -> None:
        self.tenacity = tenacity
        self.best = initial
        self.count = 0
        self.stopped = False
        self.checks = 0

    def update(self, score: float) -> bool:
        """Record one check; True when it improved (the caller keeps that model)."""
        self.checks += 1
        if score > self.best:
            self.best = score
            return True
        if self.count >= self.tenacity:
            self.stopped = True
        self.count += 1
        return False


def parse_optimizer(spec: str) -> tuple[str, dict[str, float]]:
    """``adam`` / ``rmsprop`` / ``sgd,lr=0.1`` with torch's defaults for missing values."""
    name, *rest = spec.split(",")
    defaults = {"adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
                "rmsprop": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8},
                "sgd": {"lr": 0.1}}
    if name not in defaults:
        raise ValueError(f"unsupported optimiser {spec!r}; valid: adam, rmsprop, sgd")
    params = dict(defaults[name])
    for item in rest:
        key, _, value = item.partition("=")
        params[key.strip()] = float(value)
    return name, params


_INIT_LOCK = threading.Lock()


def initial_linear(inputdim: int, nclasses: int, seed: int):
    """The weights ``nn.Linear(inputdim, nclasses)`` gets right after ``torch.manual_seed(seed)``.

    Drawn inside ``fork_rng`` so the caller's global torch RNG is untouched. Returned
    transposed, ``(d, C)``, plus the bias ``(C,)``.
    """
    import torch  # heavy: torch

    # The lock keeps concurrent fits (tasks evaluated in threads) off each other's seeding.
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = torch.nn.Linear(inputdim, nclasses)
    return layer.weight.detach().t().contiguous(), layer.bias.detach().clone()


@dataclass
class LinearModel:
    """One trained member: weights ``(d, C)``, bias, its validation accuracy and passes."""

    weight: Any
    bias: Any
    devacc: float
    epochs: int
    checks: int

    def logits(self, X: np.ndarray):
        import torch  # heavy: torch

        W = self.weight
        x = torch.as_tensor(np.asarray(X), dtype=torch.float32, device=W.device)
        return x @ W + self.bias

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.logits(X).argmax(1).cpu().numpy()

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(X) == np.asarray(y)))


class TorchLogReg:
    """Trains a grid of L2 values on one training set as one stacked model (see module doc)."""

    name = "torch"

    def __init__(self, config: ClassifierConfig, nclasses: int, seed: int = 1111,
                 device: str = "cpu") -> None:
        self.config = config
        self.nclasses = nclasses
        self.seed = seed
        self.device = device
        self.optim, self.optim_params = parse_optimizer(config.optim)
        self.fits = 0  # individual (per-L2) fits, for throughput figures

    @staticmethod
    def grid(kind: str) -> tuple[float, ...]:
        return TORCH_L2

    def fit(self, X: np.ndarray, y: np.ndarray, regs: Sequence[float], *,
            valid: tuple[np.ndarray, np.ndarray] | None = None,
            valid_split: float | None = None) -> list[LinearModel]:
        """One model per L2 value; early stopping on ``valid`` or a random ``valid_split``."""
        with limit_threads(self.device):
            return self._fit(X, y, regs, valid, valid_split)

    def _fit(self, X, y, regs, valid, valid_split) -> list[LinearModel]:
        import torch  # heavy: torch

        cfg = self.config
        rng = np.random.RandomState(self.seed)
        X = np.asarray(X)
        y = np.asarray(y)
        if valid is None:
            if not valid_split:
                raise ValueError("fit needs valid or valid_split")
            perm = rng.permutation(len(X))
            cut = int(valid_split * len(X))
            train_idx, dev_idx = perm[cut:], perm[:cut]
            Xtr, ytr, Xdv, ydv = X[train_idx], y[train_idx], X[dev_idx], y[dev_idx]
        else:
            Xtr, ytr = X, y
            Xdv, ydv = valid
        dev = torch.device(self.device)
        xt = torch.as_tensor(Xtr, dtype=torch.float32).to(dev)
        yt = torch.as_tensor(ytr, dtype=torch.long).to(dev)
        xd = torch.as_tensor(np.asarray(Xdv), dtype=torch.float32).to(dev)
        yd = torch.as_tensor(np.asarray(ydv), dtype=torch.long).to(dev)
        n, d = xt.shape
        G, C, B = len(regs), self.nclasses, cfg.batch_size
        W0, b0 = initial_linear(d, C, self.seed)
        # Weights and bias live in one flat buffer (W, b are views of it), and so do their
        # gradients and the optimiser state: the element-wise updates run once per step on
        # the buffer instead of once per tensor, with the same arithmetic on every element.
        nW = G * d * C
        P = torch.cat([W0.to(dev).reshape(-1).repeat(G), b0.to(dev).repeat(G)])
        W, b = P[:nW].view(G, d, C), P[nW:].view(G, C)
        b_rows = b.unsqueeze(1)                            # (G, 1, C), a view like W and b
        wd = torch.tensor(list(regs), dtype=torch.float32, device=dev)
        wd_flat = torch.cat([wd.repeat_interleave(d * C), wd.repeat_interleave(C)])
        grad = torch.empty_like(P)
        gW, gb = grad[:nW].view(G, d, C), grad[nW:].view(G, C)
        decay, scratch = torch.empty_like(P), torch.empty_like(P)
        state = [torch.zeros_like(P), torch.zeros_like(P)]
        eye = torch.eye(C, dtype=torch.float32, device=dev)
        best_W, best_b = W.clone(), b.clone()
        stoppers = [EarlyStopping(cfg.tenacity) for _ in regs]
        stop_epoch = [0] * G
        nepoch, step = 0, 0
        while not all(s.stopped for s in stoppers) and nepoch <= cfg.max_epoch:
            for _ in range(cfg.epoch_size):
                perm = torch.from_numpy(rng.permutation(n)).to(dev)
                # The epoch's one-hot labels, gathered once. (Rows are still gathered per
                # batch: a permuted copy of all of X measured no faster for 384-d vectors
                # and slower for MRPC's 1536-d pair features, which then leave the cache.)
                hp = eye.index_select(0, yt.index_select(0, perm))
                for i in range(0, n, B):
                    xb = xt.index_select(0, perm[i:i + B])
                    gz = torch.softmax(torch.matmul(xb, W) + b_rows, dim=-1)
                    # p - 1 at the label, p - 0 (exact) elsewhere, as the indexed -= 1 gave
                    gz.sub_(hp[i:i + B]).div_(min(B, n - i))
                    torch.matmul(xb.t(), gz, out=gW)
                    torch.sum(gz, 1, out=gb)
                    grad.add_(torch.mul(P, wd_flat, out=decay))
                    step += 1
                    self._update(P, grad, state[0], state[1], step, scratch)
            nepoch += cfg.epoch_size
            pred = (torch.matmul(xd, W) + b_rows).argmax(-1)
            accs = (pred == yd.unsqueeze(0)).float().mean(1).tolist()
            for g, stopper in enumerate(stoppers):
                if stopper.stopped:
                    continue
                if stopper.update(accs[g]):
                    best_W[g], best_b[g] = W[g], b[g]
                stop_epoch[g] = nepoch
        self.fits += G
        return [LinearModel(best_W[g].clone(), best_b[g].clone(), stoppers[g].best,
                            stop_epoch[g], stoppers[g].checks) for g in range(G)]

    def _update(self, p, g, m1, m2, step: int, scratch=None) -> None:
        """In-place optimiser step with torch's update formulas (single-tensor, no amsgrad)."""
        o = self.optim_params
        if self.optim == "adam":
            adam_step(p, g, m1, m2, step, o["lr"], o["beta1"], o["beta2"], o["eps"], scratch)
        elif self.optim == "rmsprop":
            m2.mul_(o["alpha"]).addcmul_(g, g, value=1 - o["alpha"])
            p.addcdiv_(g, torch_sqrt(m2, scratch).add_(o["eps"]), value=-o["lr"])
        else:
            p.add_(g, alpha=-o["lr"])


def adam_step(p, g, m1, m2, step: int, lr: float = 1e-3, beta1: float = 0.9,
              beta2: float = 0.999, eps: float = 1e-8, scratch=None) -> None:
    """``torch.optim.Adam``'s single-tensor update (no weight decay, no amsgrad), in place.

    ``scratch`` (like ``p``) receives the denominator instead of a new tensor.
    """
    m1.mul_(beta1).add_(g, alpha=1 - beta1)
    m2.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    denom = torch_sqrt(m2, scratch).div_(math.sqrt(1 - beta2 ** step)).add_(eps)
    p.addcdiv_(m1, denom, value=-lr / (1 - beta1 ** step))


def torch_sqrt(x, out=None):
    """``x.sqrt()``, written into ``out`` when given (saves an allocation per step)."""
    import torch  # heavy: torch

    return x.sqrt() if out is None else torch.sqrt(x, out=out)


class SklearnLogReg:
    """SentEval's ``usepytorch=False`` path: ``LogisticRegression(C, random_state=seed)``.

    No early stopping and no validation split; the grid is over C instead of L2.
    """

    name = "sklearn"

    def __init__(self, config: ClassifierConfig, nclasses: int, seed: int = 1111,
                 device: str = "cpu") -> None:
        self.config = config
        self.nclasses = nclasses
        self.seed = seed
        self.fits = 0

    @staticmethod
    def grid(kind: str) -> tuple[float, ...]:
        return SKLEARN_C_KFOLD if kind == "kfold" else SKLEARN_C

    def fit(self, X: np.ndarray, y: np.ndarray, regs: Sequence[float], *,
            valid: tuple[np.ndarray, np.ndarray] | None = None,
            valid_split: float | None = None) -> list[Any]:
        from sklearn.exceptions import ConvergenceWarning  # heavy: sklearn
        from sklearn.linear_model import LogisticRegression  # heavy: sklearn

        models = []
        for c in regs:
            clf = LogisticRegression(C=c, random_state=self.seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(np.asarray(X), np.asarray(y))
            models.append(clf)
        self.fits += len(regs)
        return models


def make_classifier(kind: str, config: ClassifierConfig, nclasses: int, seed: int = 1111,
                    device: str = "cpu"):
    if kind == "torch":
        return TorchLogReg(config, nclasses, seed, device)
    if kind == "sklearn":
        return SklearnLogReg(config, nclasses, seed, device)
    raise ValueError(f"unknown classifier {kind!r}; valid: {', '.join(CLASSIFIERS)}")
