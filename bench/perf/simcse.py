"""Seconds per SimCSE training step: bench's unsupervised step vs sentence-transformers' own.

The peer is sentence-transformers' unsupervised SimCSE recipe: MultipleNegativesRankingLoss
(scale 20 = 1/0.05, cosine) on (s, s) pairs, on the same backbone, batch, max length,
optimiser (fused AdamW, lr 3e-5) and gradient clipping. Its ``SentenceTransformerTrainer``
needs the ``datasets`` and ``accelerate`` packages, which this environment lacks, so the peer
step is what that trainer's ``compute_loss`` + optimiser step do: ``model.tokenize`` each
column, ``loss(features, None)``, backward, clip, step. Contenders are timed step by step in
rotating order in the same process, so background load affects all alike; every contender
gets the very same sentences at every step (bench's shuffled batch for that step), so padding
lengths are identical. Reported: medians, and the median of per-step ratios.

bench's default recipe pools [CLS] (the paper's), which lets it skip the last layer's work
at the other positions (``bench.encoders.cls_only``); the peer pools the mean, so bench with
mean pooling is timed too, as the like-for-like figure.
Target (issue 5): bench / peer <= 1.0. bf16 autocast on CPU is timed as well.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from bench.encoders.packaged import packaged_path
from bench.environment import describe_environment
from bench.resources import repo_root
from bench.train.config import TrainConfig
from bench.train.trainer import Trainer


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=8, help="timed steps per contender (default 8)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-length", type=int, default=32)
    p.add_argument("--data", help="one sentence per line (default ../shared/data/train/"
                   "wiki_sample.txt)")
    p.add_argument("--no-bf16", action="store_true", help="skip the bf16 timing")


class _PeerStep:
    """sentence-transformers: MNRL on (s, s), one optimiser step per call.

    The optimiser is fused AdamW, which is what ``SentenceTransformerTrainer`` (through the
    transformers ``TrainingArguments`` default ``adamw_torch_fused`` for torch >= 2.8) uses.
    """

    def __init__(self, batches: list[list[str]], max_length: int) -> None:
        from sentence_transformers import SentenceTransformer  # heavy: sentence_transformers
        from sentence_transformers.sentence_transformer.losses import (
            MultipleNegativesRankingLoss,
        )  # heavy: sentence_transformers

        self.model = SentenceTransformer(str(packaged_path("packaged:all-MiniLM-L6-v2")),
                                         device="cpu")
        self.model.max_seq_length = max_length
        self.model.train()
        self.loss = MultipleNegativesRankingLoss(self.model, scale=20.0)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=3e-5, weight_decay=0.0,
                                           fused=True)
        self.batches = batches

    def __call__(self, step: int) -> None:
        texts = self.batches[step]
        features = [self.model.tokenize(texts), self.model.tokenize(texts)]
        value = self.loss(features, None)
        value.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


def _trainer(data: str, batch: int, max_length: int, precision: str, runs: str,
             pooler: str = "cls"):

    cfg = TrainConfig(mode="unsup", data=data, backbone="packaged:all-MiniLM-L6-v2",
                      name=f"perf-{precision}-{pooler}", runs_dir=runs, batch_size=batch,
                      max_length=max_length, eval_steps=0, save_steps=0, precision=precision,
                      pooler=pooler, show_progress=False)
    return Trainer(cfg)


def run(args: argparse.Namespace) -> dict:
    root = repo_root() or Path.cwd()
    data = args.data or str(root.parent / "shared" / "data" / "train" / "wiki_sample.txt")
    n_steps = args.warmup + args.steps
    size = (args.batch_size, args.max_length)
    with tempfile.TemporaryDirectory() as tmp:
        bench = _trainer(data, *size, "fp32", tmp)
        # The unsupervised batch is the sentences twice; the peer takes one copy.
        batches = [bench._texts(step)[0][:args.batch_size] for step in range(n_steps)]
        # bench's default recipe (the paper's: [CLS] + MLP in training), the same with mean
        # pooling (the peer's pooling, so the like-for-like number), and the peer.
        contenders = {"bench_fp32": bench.train_step,
                      "bench_fp32_avg_pooler": _trainer(data, *size, "fp32", tmp,
                                                        "avg").train_step,
                      "sentence_transformers_mnrl": _PeerStep(batches, args.max_length)}
        if not args.no_bf16:
            contenders["bench_bf16"] = _trainer(data, *size, "bf16", tmp).train_step
        times: dict[str, list[float]] = {k: [] for k in contenders}
        names = list(contenders)
        for step in range(n_steps):
            # Rotate who goes first, so slow drifts of the machine fall on every contender.
            for name in names[step % len(names):] + names[:step % len(names)]:
                t = time.perf_counter()
                contenders[name](step)
                if step >= args.warmup:
                    times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    peer = times["sentence_transformers_mnrl"]

    def paired(name: str) -> float:
        """Median over steps of the per-step ratio (the same sentences in both)."""
        return round(statistics.median(a / b for a, b in zip(times[name], peer)), 3)

    result = {
        "benchmark": "simcse-train-step",
        "settings": {"backbone": "packaged:all-MiniLM-L6-v2", "batch_size": args.batch_size,
                     "max_length": args.max_length, "timed_steps": args.steps,
                     "warmup_steps": args.warmup, "torch_threads": torch.get_num_threads(),
                     "bench_recipe": "unsup, pooler cls, MLP train-only, fused AdamW",
                     "peer_recipe": "MultipleNegativesRankingLoss(scale=20) on (s, s), mean "
                                    "pooling + normalise, fused AdamW"},
        "seconds_per_step_median": {k: round(v, 4) for k, v in med.items()},
        "seconds_per_step_all": {k: [round(x, 4) for x in v] for k, v in times.items()},
        "ratio_bench_over_peer": round(med["bench_fp32"] / med["sentence_transformers_mnrl"], 3),
        "ratio_bench_over_peer_paired": paired("bench_fp32"),
        "ratio_bench_avg_pooler_over_peer_paired": paired("bench_fp32_avg_pooler"),
        "target_ratio_max": 1.0,
        "environment": describe_environment("cpu"),
    }
    if "bench_bf16" in med:
        result["ratio_bf16_over_fp32"] = round(med["bench_bf16"] / med["bench_fp32"], 3)
    return result
