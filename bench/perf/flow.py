"""Flow fit on the NLI sample (encoding excluded), against whitening and a bare torch loop.

The base vectors come from the embedding cache (encoded first if missing, timed apart).
Peers, measured in the same process on the same vectors: the BERT-whitening fit, and a
plain torch loop with the same number of AdamW steps on one dense layer (the floor that
per-step overhead sets). Wall and CPU seconds are both reported: on a shared machine the
CPU figure is the steadier one.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any

import numpy as np

from bench.cache import EmbeddingCache, default_cache_root
from bench.embed import embed
from bench.encoders.postprocess import Flow, Whitening
from bench.encoders.postprocessed import default_nli_path, read_nli_sentences
from bench.encoders.registry import EncoderOptions, resolve
from bench.environment import describe_environment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="minilm-first-last",
                        help="base encoder whose vectors the flow is fitted on")
    parser.add_argument("--nli", help="NLI CSV (default $BENCH_NLI_FILE or the shared sample)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads for the peers (default 2); the flow fit uses "
                        "--flow-threads")
    parser.add_argument("--flow-threads", type=int, default=1,
                        help="torch threads while the flow fits on CPU (default 1, Flow's own)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")


def _timed(fn) -> tuple[Any, float, float]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def _plain_loop(X: np.ndarray, steps: int, batch: int, seed: int) -> float:
    import torch  # heavy: torch

    torch.manual_seed(seed)
    data = torch.from_numpy(X)
    layer = torch.nn.Linear(X.shape[1], X.shape[1])
    opt = torch.optim.AdamW(layer.parameters(), lr=1e-3, eps=1e-6, fused=True)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(X)))
    for i in range(steps):
        xb = data[order[(i * batch) % len(X):(i * batch) % len(X) + batch]]
        loss = (layer(xb) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(layer.parameters(), 1.0)
        opt.step()
    return float(loss.detach())


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch  # heavy: torch

    torch.set_num_threads(args.threads)
    nli = args.nli or default_nli_path()
    sentences = read_nli_sentences(nli)
    base = resolve(args.model, EncoderOptions(device=args.device, precision=args.precision))
    cache = EmbeddingCache(default_cache_root(), base.fingerprint, base.describe())
    table, encode_wall, _ = _timed(lambda: embed(base, sentences, cache=cache))
    X = table.lookup(sentences).astype(np.float32)

    _, white_wall, white_cpu = _timed(lambda: Whitening().fit(X))
    flow = Flow(device=args.device, cpu_threads=args.flow_threads)
    _, flow_wall, flow_cpu = _timed(lambda: flow.fit(X))
    steps = math.ceil(len(X) / flow.batch_size)
    _, plain_wall, plain_cpu = _timed(lambda: _plain_loop(X, steps, flow.batch_size, flow.seed))
    return {
        "benchmark": "flow",
        "base": args.model, "nli_file": str(nli), "sentences": len(X), "dim": int(X.shape[1]),
        "threads": args.threads, "flow_threads": args.flow_threads, "device": args.device,
        "encode_s (excluded)": round(encode_wall, 2),
        "sentences_encoded": table.stats.get("sentences_encoded"),
        "flow": {"steps": steps, "wall_s": round(flow_wall, 3), "cpu_s": round(flow_cpu, 3),
                 "steps_per_s": round(steps / flow_wall, 1),
                 "loss_bits_per_dim_first_last": [round(flow.history_[0], 4),
                                                  round(flow.history_[-1], 4)]},
        "peer_whitening_fit": {"wall_s": round(white_wall, 4), "cpu_s": round(white_cpu, 4)},
        "peer_plain_torch_loop": {"steps": steps, "wall_s": round(plain_wall, 3),
                                  "cpu_s": round(plain_cpu, 3)},
        "ratio_flow_over_whitening_wall": round(flow_wall / max(white_wall, 1e-9), 1),
        "ratio_flow_over_plain_loop_wall": round(flow_wall / max(plain_wall, 1e-9), 2),
        "target_under_120s_wall": flow_wall < 120,
        "environment": {k: v for k, v in describe_environment(args.device).items()
                        if k in ("python", "platform", "torch_threads", "device", "gpu")},
        "cpu_count": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
    }
