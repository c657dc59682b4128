"""Post-processors for sentence vectors: BERT-whitening (Su et al. 2021, ``eng/utils.py``) and
BERT-flow (Li et al. 2020, ``bohanli/BERT-flow``).

Both follow scikit-learn's shape (``fit(X)``, ``transform(X)``, constructor parameters as
attributes, visible in ``repr``) so they can be tested on random data, and both expose
``spec()`` (what determines the result) plus ``get_state()`` / ``set_state()`` (numpy arrays)
so a fitted state can be cached on disk and reused.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.progress import progress_bar
from bench.threads import limit_threads


class PostProcessor:
    """Common interface: fit on an (n, d) matrix, transform any (m, d) matrix."""

    kind = "postprocessor"

    def fit(self, X: np.ndarray) -> PostProcessor:
        raise NotImplementedError

    def transform(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def get_params(self) -> dict[str, Any]:
        raise NotImplementedError

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.get_params()}

    def clone(self) -> PostProcessor:
        """An unfitted copy with the same parameters, run-time ones included."""
        return type(self)(**self.get_params())

    def get_state(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    @property
    def fitted(self) -> bool:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise BenchError(f"{type(self).__name__} must be fitted before transform")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def _as_matrix(X: np.ndarray, what: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] < 2:
        raise BenchError(f"{what} needs an (n, d) matrix with n >= 2, got shape {X.shape}")
    return X


class Whitening(PostProcessor):
    """BERT-whitening (Su et al. 2021, ``eng/utils.py``): y = (x - mu) U diag(s^-1/2)[:, :k].

    mu is the mean of the fit set, U and s the SVD of its unbiased (n-1) covariance, as
    ``np.cov`` computes it. ``n_components=None`` keeps every dimension; k keeps the k
    directions of largest variance (SVD sorts singular values in descending order).
    Computed in float64; the original L2-normalises afterwards, which cosine makes moot.
    """

    kind = "whitening"

    def __init__(self, n_components: int | None = None) -> None:
        if n_components is not None and n_components < 1:
            raise BenchError(f"Whitening n_components must be positive or None, got {n_components}")
        self.n_components = n_components
        self.mean_: np.ndarray | None = None
        self.kernel_: np.ndarray | None = None

    def get_params(self) -> dict[str, Any]:
        return {"n_components": self.n_components}

    @property
    def fitted(self) -> bool:
        return self.kernel_ is not None

    def fit(self, X: np.ndarray) -> Whitening:
        X = _as_matrix(X, "Whitening.fit").astype(np.float64)
        if self.n_components is not None and self.n_components > X.shape[1]:
            raise BenchError(f"Whitening n_components={self.n_components} exceeds the "
                             f"dimension {X.shape[1]}")
        self.mean_ = X.mean(axis=0)
        cov = np.cov(X.T)
        u, s, _ = np.linalg.svd(cov)
        kernel = u / np.sqrt(s)[None, :]
        self.kernel_ = kernel[:, :self.n_components] if self.n_components else kernel
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return (np.asarray(X, dtype=np.float64) - self.mean_) @ self.kernel_

    def get_state(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        return {"mean": self.mean_, "kernel": self.kernel_}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.mean_, self.kernel_ = np.asarray(state["mean"]), np.asarray(state["kernel"])


class Flow(PostProcessor):
    """BERT-flow (Li et al. 2020): a Glow over sentence vectors, fitted by maximum likelihood.

    Architecture as ``bohanli/BERT-flow`` config ``l3_d3_w32``: ``levels`` levels of ``depth``
    steps (actnorm with data-dependent init, fixed channel reversal, additive coupling whose
    network is dense+actnorm+ReLU twice then a zero-initialised dense scaled by exp(3*logs));
    after each level but the last, half of the channels are split off with a fixed N(0, I)
    prior. The output is the concatenation of the split-off latents and the final z.

    Training as the original: AdamW (lr 1e-3, betas (0.9, 0.999), eps 1e-6, weight decay 0.01
    on dense kernels only, not on biases or actnorm parameters), batch 32, ``epochs`` passes
    over a seeded shuffle, gradient norm clipped at 1.0, loss in bits per dimension. The
    sentence encoder is frozen (its cached vectors are the input), so the dropout the TF
    original leaves on while fitting is absent here. torch's AdamW bias-corrects, BERT's
    optimizer does not: a deliberate, documented difference.
    """

    kind = "flow"

    def __init__(self, levels: int = 3, depth: int = 3, width: int = 32, lr: float = 1e-3,
                 weight_decay: float = 0.01, adam_eps: float = 1e-6, batch_size: int = 32,
                 epochs: int = 1, clip_norm: float = 1.0, seed: int = 1111, device: str = "cpu",
                 cpu_threads: int | None = 1, show_progress: bool = True) -> None:
        if levels < 1 or depth < 1 or width < 1 or batch_size < 2 or epochs < 1:
            raise BenchError("Flow needs levels, depth, width, epochs >= 1 and batch_size >= 2")
        self.levels = levels
        self.depth = depth
        self.width = width
        self.lr = lr
        self.weight_decay = weight_decay
        self.adam_eps = adam_eps
        self.batch_size = batch_size
        self.epochs = epochs
        self.clip_norm = clip_norm
        self.seed = seed
        self.device = device
        # Batches of 32 x a few hundred: see bench.threads for why one thread by default.
        self.cpu_threads = cpu_threads
        self.show_progress = show_progress
        self.model_ = None
        self.dim_: int | None = None
        self.history_: list[float] = []  # mean training loss (bits/dim) per logging window
        self.fit_seconds_: float | None = None

    def get_params(self) -> dict[str, Any]:
        return {"levels": self.levels, "depth": self.depth, "width": self.width, "lr": self.lr,
                "weight_decay": self.weight_decay, "adam_eps": self.adam_eps,
                "batch_size": self.batch_size, "epochs": self.epochs,
                "clip_norm": self.clip_norm, "seed": self.seed}

    def spec(self) -> dict[str, Any]:
        # device, threads and progress do not change the result (up to float noise): left out.
        return {"kind": self.kind, **self.get_params()}

    def clone(self) -> Flow:
        return Flow(**self.get_params(), device=self.device, cpu_threads=self.cpu_threads,
                    show_progress=self.show_progress)

    @property
    def fitted(self) -> bool:
        return self.model_ is not None

    def _build(self, dim: int):
        import torch  # heavy: torch

        from bench.encoders.glow import Glow  # heavy: torch (through bench.encoders.glow)

        if dim < 2 ** self.levels:
            raise BenchError(f"Flow with {self.levels} levels needs a dimension of at least "
                             f"{2 ** self.levels}, got {dim}")
        torch.manual_seed(self.seed)
        self.dim_ = dim
        return Glow(dim, self.levels, self.depth, self.width).to(self.device)

    def _optimizer(self, model):
        import torch  # heavy: torch

        # Dense kernels (coupling networks, zero-initialised output) decay; biases and
        # actnorm/output log-scales do not.
        decay = [p for n, p in model.named_parameters() if n.endswith(".weight")]
        rest = [p for n, p in model.named_parameters() if not n.endswith(".weight")]
        groups = [{"params": decay, "weight_decay": self.weight_decay},
                  {"params": rest, "weight_decay": 0.0}]
        # fused: one kernel over all ~100 small tensors (CPU and CUDA), instead of a Python
        # loop per tensor that dominates the step time of so small a model.
        return torch.optim.AdamW(groups, lr=self.lr, betas=(0.9, 0.999), eps=self.adam_eps,
                                 fused=True)

    def fit(self, X: np.ndarray, X_valid: np.ndarray | None = None,
            eval_every: int | None = None) -> Flow:
        """Maximum-likelihood fit; with ``X_valid``, ``valid_nll_`` records its bits/dim
        before training and every ``eval_every`` steps (and at the end)."""
        with limit_threads(self.device, self.cpu_threads):
            return self._fit(X, X_valid, eval_every)

    def _fit(self, X: np.ndarray, X_valid: np.ndarray | None,
             eval_every: int | None) -> Flow:
        import torch  # heavy: torch

        X = _as_matrix(X, "Flow.fit").astype(np.float32)
        t0 = time.perf_counter()
        model = self._build(X.shape[1])
        opt = self._optimizer(model)
        gen = np.random.default_rng(self.seed)
        data = torch.from_numpy(X).to(self.device)
        valid = (torch.from_numpy(np.asarray(X_valid, dtype=np.float32)).to(self.device)
                 if X_valid is not None else None)
        steps_per_epoch = math.ceil(len(X) / self.batch_size)
        self.history_, self.valid_nll_ = [], []
        first = data[torch.from_numpy(gen.permutation(len(X))[:self.batch_size]).to(self.device)]
        model.initialize(first)  # data-dependent actnorm init on one batch
        if valid is not None:
            self.valid_nll_.append((0, self._nll(model, valid)))
        step = 0
        window: list[float] = []
        with progress_bar("fitting flow", total=steps_per_epoch * self.epochs,
                          disable=not self.show_progress) as advance:
            for _ in range(self.epochs):
                order = torch.from_numpy(gen.permutation(len(X))).to(self.device)
                model.train()
                for start in range(0, len(X), self.batch_size):
                    batch = data[order[start:start + self.batch_size]]
                    if len(batch) < 2:
                        continue
                    _, log_prob = model(batch)
                    loss = -(log_prob.mean()) / (math.log(2) * self.dim_)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), self.clip_norm)
                    opt.step()
                    step += 1
                    window.append(float(loss.detach()))
                    if len(window) == 50:
                        self.history_.append(float(np.mean(window)))
                        window = []
                    if valid is not None and eval_every and step % eval_every == 0:
                        self.valid_nll_.append((step, self._nll(model, valid)))
                        model.train()
                    advance(1)
        if window:
            self.history_.append(float(np.mean(window)))
        if valid is not None and (not self.valid_nll_ or self.valid_nll_[-1][0] != step):
            self.valid_nll_.append((step, self._nll(model, valid)))
        model.eval()
        self.model_ = model
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _nll(self, model, X) -> float:
        """Mean negative log-likelihood in bits per dimension."""
        import torch  # heavy: torch

        model.eval()
        with torch.no_grad():
            total = 0.0
            for start in range(0, len(X), 1024):
                _, lp = model(X[start:start + 1024])
                total += float(lp.sum())
        return -total / (len(X) * math.log(2) * model.dim)

    def score(self, X: np.ndarray) -> float:
        """Negative log-likelihood of X in bits per dimension (lower is better)."""
        import torch  # heavy: torch

        self._check_fitted()
        return self._nll(self.model_, torch.from_numpy(np.asarray(X, np.float32)).to(self.device))

    def transform(self, X: np.ndarray) -> np.ndarray:
        import torch  # heavy: torch

        self._check_fitted()
        X = torch.from_numpy(np.asarray(X, dtype=np.float32)).to(self.device)
        out = []
        with torch.no_grad():
            for start in range(0, len(X), 4096):
                z, _ = self.model_(X[start:start + 4096])
                out.append(z.cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim_), np.float32)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        import torch  # heavy: torch

        self._check_fitted()
        Z = torch.from_numpy(np.asarray(Z, dtype=np.float32)).to(self.device)
        with torch.no_grad():
            return self.model_.inverse(Z).cpu().numpy()

    def get_state(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        state = {f"param/{k}": v.detach().cpu().numpy()
                 for k, v in self.model_.state_dict().items()}
        state["dim"] = np.array(self.dim_)
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        import torch  # heavy: torch

        model = self._build(int(state["dim"]))
        model.load_state_dict({k.removeprefix("param/"): torch.from_numpy(np.asarray(v))
                               for k, v in state.items() if k.startswith("param/")})
        model.mark_initialized()
        model.eval()
        self.model_ = model


POSTPROCESSORS = {"whitening": Whitening, "flow": Flow}


def make_postprocessor(spec: str | dict[str, Any], device: str = "cpu") -> PostProcessor:
    """Build from a name (``"flow"``) or a table (``{kind = "whitening", n_components = 256}``)."""
    if isinstance(spec, str):
        spec = {"kind": spec}
    params = dict(spec)
    kind = params.pop("kind", None)
    if kind not in POSTPROCESSORS:
        raise BenchError(f"unknown postprocessor {kind!r}; valid: {', '.join(POSTPROCESSORS)}")
    if kind == "flow":
        params.setdefault("device", device)
    try:
        return POSTPROCESSORS[kind](**params)
    except TypeError as exc:
        raise BenchError(f"postprocessor {kind!r}: {exc}") from None
