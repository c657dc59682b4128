"""A Glow over vectors (B, D), as BERT-flow's ``glow_1x1`` sees a [B, 1, 1, D] tensor.

With a 1x1 spatial shape every 1x1 convolution is a dense layer, so the model is written
with ``nn.Linear``. Every module returns its output and its per-sample log-determinant and
has an exact inverse; ``Flow`` in ``postprocess.py`` trains it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

LOGSCALE = 3.0  # t2t/BERT-flow's logscale_factor: scale = exp(3 * logs)
_LOG_2PI = math.log(2 * math.pi)


class ActNorm(nn.Module):
    """Per-channel bias then scale exp(3*logs); the first batch seen sets them (zero mean,
    unit variance), as Glow's data-dependent initialisation."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.logs = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(False))
        self._ready = False  # python mirror of the buffer: no tensor read per call


    @torch.no_grad()
    def _init(self, x: torch.Tensor) -> None:
        self.bias.copy_(-x.mean(0))
        std = ((x + self.bias) ** 2).mean(0).sqrt()
        self.logs.copy_(torch.log(1.0 / (std + 1e-6)) / LOGSCALE)
        self.initialized.fill_(True)
        self._ready = True

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._ready:
            if bool(self.initialized):  # loaded from a saved state
                self._ready = True
            else:
                self._init(x)
        y = (x + self.bias) * torch.exp(LOGSCALE * self.logs)
        return y, (LOGSCALE * self.logs).sum().expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(-LOGSCALE * self.logs) - self.bias


class ZeroDense(nn.Module):
    """Zero-initialised dense layer with bias and a learnt output scale exp(3*logs)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_out, n_in))
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.logs = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.weight.T + self.bias) * torch.exp(LOGSCALE * self.logs)


class CouplingNet(nn.Module):
    """dense(width) + actnorm + ReLU, twice, then ZeroDense: the shift of the coupling."""

    def __init__(self, n_in: int, n_out: int, width: int) -> None:
        super().__init__()
        self.dense1 = nn.Linear(n_in, width, bias=False)
        self.norm1 = ActNorm(width)
        self.dense2 = nn.Linear(width, width, bias=False)
        self.norm2 = ActNorm(width)
        self.out = ZeroDense(width, n_out)
        for layer in (self.dense1, self.dense2):
            nn.init.normal_(layer.weight, 0.0, 0.05)  # t2t glow_ops default_initializer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm1(self.dense1(x))[0])
        h = torch.relu(self.norm2(self.dense2(h))[0])
        return self.out(h)


class FlowStep(nn.Module):
    """actnorm -> fixed channel reversal -> additive coupling (z2 = x2 + NN(x1))."""

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        self.half = channels // 2
        self.norm = ActNorm(channels)
        self.net = CouplingNet(self.half, channels - self.half, width)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, logdet = self.norm(x)
        x = x.flip(-1)
        x1, x2 = x[:, :self.half], x[:, self.half:]
        return torch.cat([x1, x2 + self.net(x1)], dim=1), logdet

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        y1, y2 = y[:, :self.half], y[:, self.half:]
        x = torch.cat([y1, y2 - self.net(y1)], dim=1)
        return self.norm.inverse(x.flip(-1))


def _std_normal_logp(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (z ** 2 + _LOG_2PI).sum(1)


class Glow(nn.Module):
    """``levels`` levels of ``depth`` steps; half the channels leave after each level but
    the last with a fixed N(0, I) prior. Output: concat(split-off latents..., final z)."""

    def __init__(self, dim: int, levels: int = 3, depth: int = 3, width: int = 32) -> None:
        super().__init__()
        self.dim = dim
        self.levels = nn.ModuleList()
        channels = dim
        self.widths: list[int] = []
        for level in range(levels):
            self.widths.append(channels)
            self.levels.append(nn.ModuleList(FlowStep(channels, width) for _ in range(depth)))
            if level < levels - 1:
                channels //= 2

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents (B, D) and log p(x) per sample (nats)."""
        log_prob = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
        latents = []
        for i, steps in enumerate(self.levels):
            for step in steps:
                x, logdet = step(x)
                log_prob = log_prob + logdet
            if i < len(self.levels) - 1:
                keep = x.shape[1] // 2
                x, eps = x[:, :keep], x[:, keep:]
                log_prob = log_prob + _std_normal_logp(eps)
                latents.append(eps)
        log_prob = log_prob + _std_normal_logp(x)
        return torch.cat(latents + [x], dim=1), log_prob

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        sizes = [w - w // 2 for w in self.widths[:-1]] + [self.widths[-1]]
        pieces = list(torch.split(z, sizes, dim=1))
        x = pieces[-1]
        for i in range(len(self.levels) - 1, -1, -1):
            if i < len(self.levels) - 1:
                x = torch.cat([x, pieces[i]], dim=1)
            for step in reversed(self.levels[i]):
                x = step.inverse(x)
        return x

    @torch.no_grad()
    def initialize(self, batch: torch.Tensor) -> None:
        """Data-dependent init of every actnorm, in order, from one batch."""
        self.forward(batch)

    def mark_initialized(self) -> None:
        for module in self.modules():
            if isinstance(module, ActNorm):
                module.initialized.fill_(True)
                module._ready = True
