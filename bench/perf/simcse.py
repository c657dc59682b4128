"""Seconds per SimCSE training step: bench's unsupervised step vs sentence-transformers' own.

The peer is sentence-transformers' unsupervised SimCSE recipe: MultipleNegativesRankingLoss
(scale 20 = 1/0.05, cosine) on (s, s) pairs, on the same backbone, batch, max length,
optimiser (AdamW, lr 3e-5) and gradient clipping. Its ``SentenceTransformerTrainer`` needs
the ``datasets`` and ``accelerate`` packages, which this environment lacks, so the peer step
is what that trainer's ``compute_loss`` + optimiser step do: ``model.tokenize`` each column,
``loss(features, None)``, backward, clip, step. The two are timed alternately, step by step,
in the same process, so background load affects both alike; medians are reported.
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


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=8, help="timed steps per contender (default 8)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-length", type=int, default=32)
    p.add_argument("--data", help="one sentence per line (default ../shared/data/train/"
                   "wiki_sample.txt)")
    p.add_argument("--no-bf16", action="store_true", help="skip the bf16 timing")


class _PeerStep:
    """sentence-transformers: MNRL on (s, s), one optimiser step per call."""

    def __init__(self, sentences: list[str], batch: int, max_length: int) -> None:
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.losses import (
            MultipleNegativesRankingLoss,
        )

        self.model = SentenceTransformer(str(packaged_path("packaged:all-MiniLM-L6-v2")),
                                         device="cpu")
        self.model.max_seq_length = max_length
        self.model.train()
        self.loss = MultipleNegativesRankingLoss(self.model, scale=20.0)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=3e-5, weight_decay=0.0)
        self.sentences, self.batch = sentences, batch

    def __call__(self, step: int) -> None:
        texts = self.sentences[step * self.batch:(step + 1) * self.batch]
        features = [self.model.tokenize(texts), self.model.tokenize(texts)]
        value = self.loss(features, None)
        value.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


def _bench_step(data: str, batch: int, max_length: int, precision: str, runs: str):
    from bench.train.config import TrainConfig
    from bench.train.trainer import Trainer

    cfg = TrainConfig(mode="unsup", data=data, backbone="packaged:all-MiniLM-L6-v2",
                      name=f"perf-{precision}", runs_dir=runs, batch_size=batch,
                      max_length=max_length, eval_steps=0, save_steps=0, precision=precision,
                      show_progress=False)
    return Trainer(cfg).train_step


def run(args: argparse.Namespace) -> dict:
    root = repo_root() or Path.cwd()
    data = args.data or str(root.parent / "shared" / "data" / "train" / "wiki_sample.txt")
    sentences = [s.strip() for s in Path(data).read_text(encoding="utf-8").splitlines()
                 if s.strip()]
    needed = (args.steps + args.warmup) * args.batch_size
    if len(sentences) < needed:
        sentences = (sentences * (needed // len(sentences) + 1))[:needed]
    with tempfile.TemporaryDirectory() as tmp:
        contenders = {"bench_fp32": _bench_step(data, args.batch_size, args.max_length, "fp32",
                                                tmp),
                      "sentence_transformers_mnrl": _PeerStep(sentences, args.batch_size,
                                                              args.max_length)}
        if not args.no_bf16:
            contenders["bench_bf16"] = _bench_step(data, args.batch_size, args.max_length,
                                                   "bf16", tmp)
        times: dict[str, list[float]] = {k: [] for k in contenders}
        for step in range(args.warmup + args.steps):
            for name, fn in contenders.items():
                t = time.perf_counter()
                fn(step)
                if step >= args.warmup:
                    times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "benchmark": "simcse-train-step",
        "settings": {"backbone": "packaged:all-MiniLM-L6-v2", "batch_size": args.batch_size,
                     "max_length": args.max_length, "timed_steps": args.steps,
                     "warmup_steps": args.warmup, "torch_threads": torch.get_num_threads()},
        "seconds_per_step_median": {k: round(v, 4) for k, v in med.items()},
        "seconds_per_step_all": {k: [round(x, 4) for x in v] for k, v in times.items()},
        "ratio_bench_over_peer": round(med["bench_fp32"] / med["sentence_transformers_mnrl"], 3),
        "target_ratio_max": 1.0,
        "environment": describe_environment("cpu"),
    }
    if "bench_bf16" in med:
        result["ratio_bf16_over_fp32"] = round(med["bench_bf16"] / med["bench_fp32"], 3)
    return result
