"""SimCSE's contrastive objective (paper Eq. 4, 5 and 8) and its DDP all-gather.

Row i of the logit matrix holds cos(h_i, h_j^+)/tau for every j, then (with hard negatives)
cos(h_i, h_j^-)/tau; the target is column i. Eq. 8's weight alpha multiplies the term of the
anchor's own hard negative, i.e. adds log(alpha) to logit (i, N + i), as the reference's
``hard_negative_weight`` does.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F


def gather_with_grad(z: torch.Tensor) -> torch.Tensor:
    """All processes' rows, in rank order; only the local slice carries gradient.

    Outside an initialised process group this is the identity.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return z
    parts = [torch.zeros_like(z) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, z.contiguous())
    parts[dist.get_rank()] = z
    return torch.cat(parts, 0)


SIMILARITIES = ("cosine", "dot")


def contrastive_logits(z1: torch.Tensor, z2: torch.Tensor, z3: torch.Tensor | None = None,
                       temperature: float = 0.05, hard_negative_alpha: float = 1.0,
                       similarity: str = "cosine") -> torch.Tensor:
    """N x N (or N x 2N with hard negatives) logits: cosines divided by the temperature.

    Unit vectors and one matrix product: the same cosines as broadcasting
    ``F.cosine_similarity`` over (N, N, H), without materialising that tensor (800 MB at the
    paper's supervised batch of 512 with BERT-base).

    ``similarity="dot"`` is Table D.1's "N/A" column: sim(h_i, h_j) = h_i . h_j used as the
    logit as it is. The temperature is ignored there: the paper lists no tau for it (it exists
    to sharpen cosines bounded in [-1, 1]; unnormalised dot products carry their own scale).
    """
    if similarity == "dot":
        d1 = z1.float()
        logits = d1 @ z2.float().T
        hard = d1 @ z3.float().T if z3 is not None else None
    elif similarity == "cosine":
        u1, u2 = F.normalize(z1.float(), dim=-1), F.normalize(z2.float(), dim=-1)
        logits = u1 @ u2.T / temperature
        hard = u1 @ F.normalize(z3.float(), dim=-1).T / temperature if z3 is not None else None
    else:
        raise ValueError(f"unknown similarity {similarity!r}; valid: {', '.join(SIMILARITIES)}")
    if hard is not None:
        if hard_negative_alpha != 1.0:
            if hard_negative_alpha < 0:
                raise ValueError("hard_negative_alpha must be >= 0")
            bonus = math.log(hard_negative_alpha) if hard_negative_alpha > 0 else -math.inf
            own = torch.eye(hard.size(0), hard.size(1), dtype=torch.bool, device=hard.device)
            hard = torch.where(own, hard + bonus, hard)
        logits = torch.cat([logits, hard], 1)
    return logits


def simcse_loss(z1: torch.Tensor, z2: torch.Tensor, z3: torch.Tensor | None = None,
                temperature: float = 0.05, hard_negative_alpha: float = 1.0,
                similarity: str = "cosine") -> torch.Tensor:
    """Mean over anchors of Eq. 4 (z3 None) or Eq. 8 (Eq. 5 when alpha = 1)."""
    logits = contrastive_logits(z1, z2, z3, temperature, hard_negative_alpha, similarity)
    labels = torch.arange(logits.size(0), device=logits.device)
    return F.cross_entropy(logits, labels)
