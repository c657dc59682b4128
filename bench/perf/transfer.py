"""Transfer tasks: wall time, sentences/s encoded, fits/s, against SentEval's own classifier loop.

It also prints the classifiers' time against the encoding time (``classifier_vs_encoding``):
the suite's fits as ``bench run`` makes them, over the time the same run spent encoding the
tasks' sentences (target, issue 27: at most 0.10 in ``senteval-fasttest``). The ratio needs a
cold encode: run it with ``--no-cache`` (or a fresh ``--cache-dir``); with cached vectors it
says so instead of a ratio.

The peer is a faithful re-implementation of SentEval's ``MLP(nhid=0)`` loop
(``tools/classifier.py``): one fit per L2 value, each re-seeding NumPy and torch,
``nn.Linear`` + ``CrossEntropyLoss`` + ``torch.optim``, a ``deepcopy`` of every improving
model, dev accuracy scored batch by batch. It runs through the same protocol code
(folds, grid, refit) on the same embeddings, in this process, so the ratio isolates the
classifier loop; its accuracies must agree with bench's (same seeds, same data order).
The peer runs on CPU (SentEval's hard-codes CUDA) and by default on one task only (TREC),
because it is slow.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.commands.common import split_list
from bench.data.locate import locate
from bench.embed import encode_tasks
from bench.encoders.make import encoder_options
from bench.encoders.registry import resolve
from bench.options import DATA, ENCODE, RunOptions
from bench.protocols import CONFIGS, TORCH_L2, ClassifierConfig
from bench.tasks.registry import select
from bench.tasks.transfer import evaluate_transfer_task
from bench.tasks.transfer_suite import default_jobs, evaluate_transfer_suite
from bench.threads import limit_threads

CLASSIFIER_SHARE = 0.10  # classifiers' time over encoding time in senteval-fasttest (issue 27)


class _RefModel:
    def __init__(self, model, batch_size: int, devacc: float) -> None:
        self.model = model
        self.batch_size = batch_size
        self.devacc = devacc

    def predict(self, X: np.ndarray) -> np.ndarray:

        X = torch.FloatTensor(np.asarray(X))
        out = []
        with torch.no_grad():
            for i in range(0, len(X), self.batch_size):
                out.append(self.model(X[i:i + self.batch_size]).argmax(1).numpy())
        return np.concatenate(out)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(X) == np.asarray(y)))


class SentEvalLoop:
    """SentEval's per-fit classifier loop, with the ``fit(X, y, regs, ...)`` interface."""

    name = "senteval-loop"

    def __init__(self, config: ClassifierConfig, nclasses: int, seed: int = 1111,
                 device: str = "cpu") -> None:
        self.config = config
        self.nclasses = nclasses
        self.seed = seed
        self.fits = 0

    @staticmethod
    def grid(kind: str) -> tuple[float, ...]:
        return TORCH_L2

    def fit(self, X, y, regs: Sequence[float], *, valid=None, valid_split=None) -> list[_RefModel]:
        with limit_threads("cpu"):
            return [self._fit_one(X, y, reg, valid, valid_split) for reg in regs]

    def _fit_one(self, X, y, l2, valid, valid_split) -> _RefModel:

        cfg = self.config
        np.random.seed(self.seed)
        torch.manual_seed(self.seed)
        model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], self.nclasses))
        loss_fn = torch.nn.CrossEntropyLoss()
        optim = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}[cfg.optim]
        optimizer = optim(model.parameters())
        optimizer.param_groups[0]["weight_decay"] = l2
        if valid is None:
            perm = np.random.permutation(len(X))
            cut = int(valid_split * len(X))
            Xtr, ytr, Xdv, ydv = X[perm[cut:]], y[perm[cut:]], X[perm[:cut]], y[perm[:cut]]
        else:
            Xtr, ytr, (Xdv, ydv) = X, y, valid
        Xtr, ytr = torch.FloatTensor(Xtr), torch.LongTensor(ytr)
        nepoch, best, count, stop, kept = 0, -1.0, 0, False, None
        while not stop and nepoch <= cfg.max_epoch:
            model.train()
            for _ in range(cfg.epoch_size):
                perm = np.random.permutation(len(Xtr))
                for i in range(0, len(Xtr), cfg.batch_size):
                    idx = torch.LongTensor(perm[i:i + cfg.batch_size])
                    loss = loss_fn(model(Xtr.index_select(0, idx)), ytr.index_select(0, idx))
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
            nepoch += cfg.epoch_size
            model.eval()
            acc = _RefModel(model, cfg.batch_size, 0.0).score(Xdv, ydv)
            if acc > best:
                best, kept = acc, copy.deepcopy(model)
            else:
                if count >= cfg.tenacity:
                    stop = True
                count += 1
        self.fits += 1
        return _RefModel(kept, cfg.batch_size, best)


def classifier_share(classifier_s: float, stats: dict[str, Any]) -> dict[str, Any]:
    """The classifiers' seconds against the encoding's (``encode_tasks`` stats): a ratio only
    when every sentence was encoded (cached vectors would make any classifier look slow)."""
    unique, encoded, encode_s = (stats["sentences_unique"], stats["sentences_encoded"],
                                 stats["encode_s"])
    cold = encoded == unique and encode_s > 0
    out: dict[str, Any] = {"classifier_s": round(classifier_s, 2), "encode_s": encode_s,
                           "ratio": round(classifier_s / encode_s, 3) if cold else None,
                           "target": CLASSIFIER_SHARE}
    if not cold:
        out["note"] = (f"{unique - encoded} of {unique} sentences came from the cache: run "
                       f"with --no-cache for the ratio")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="minilm-avg",
                   help="recipe name (bench list models), local path, or hub id (default "
                   "minilm-avg)")
    RunOptions.add_arguments(p, (ENCODE, DATA))
    p.add_argument("--tasks", nargs="+", default=["transfer"],
                   help="transfer tasks to time (default: all seven)")
    p.add_argument("--config", choices=sorted(CONFIGS), default="fasttest")
    p.add_argument("--reference-tasks", nargs="*", default=["TREC"],
                   help="tasks also run through SentEval's loop (slow; default TREC)")
    p.add_argument("--seed", type=int, default=1111)


def run(args: argparse.Namespace) -> dict[str, Any]:
    opts = RunOptions.from_args(args)
    device = opts.device or "cpu"
    metas = [m for m in select(split_list(args.tasks)) if m.family == "transfer"]
    location = locate(opts.data_dir)
    tasks = [m.load(location.downstream) for m in metas]
    encoder = resolve(args.model, encoder_options(opts, device))
    views, stats = encode_tasks(encoder, {t.name: t.sentences() for t in tasks},
                                cache_root=Path(opts.cache_dir) if opts.cache_dir else None,
                                use_cache=opts.use_cache, batch_size=opts.batch_size,
                                show_progress=False)
    encoded = stats["sentences_encoded"]
    result: dict[str, Any] = {
        "model": args.model, "config": CONFIGS[args.config].to_dict(), "device": device,
        "encode": {"sentences_unique": stats["sentences_unique"], "sentences_encoded": encoded,
                   "encode_s": stats["encode_s"],
                   "sentences_per_s": round(encoded / stats["encode_s"], 1)
                   if encoded and stats["encode_s"] else None},
        "tasks": {}, "reference": {},
    }
    total = 0.0
    for task in tasks:
        t0 = time.perf_counter()
        res = evaluate_transfer_task(task, views[task.name], config=args.config,
                                     seed=args.seed, device=device)
        wall = time.perf_counter() - t0
        total += wall
        result["tasks"][task.name] = {"acc": res["acc"], "devacc": res["devacc"],
                                      "fits": res["fits"], "wall_s": round(wall, 2),
                                      "fits_per_s": round(res["fits"] / wall, 2)}
    result["classifier_total_s"] = round(total, 2)
    # The same tasks fitted several at a time, as `bench run` does by default on CPU.
    jobs = default_jobs(device, len(tasks))
    t0 = time.perf_counter()
    suite = evaluate_transfer_suite(tasks, views, config=args.config, seed=args.seed,
                                    device=device, jobs=jobs, show_progress=False)
    wall = time.perf_counter() - t0
    result["suite"] = {"jobs": jobs, "wall_s": round(wall, 2),
                       "ratio_over_one_at_a_time": round(wall / total, 3) if total else None,
                       "same_results": all(suite[n]["acc"] == result["tasks"][n]["acc"] and
                                           suite[n]["devacc"] == result["tasks"][n]["devacc"]
                                           for n in result["tasks"])}
    result["classifier_vs_encoding"] = classifier_share(wall, stats)
    names = [m.name for m in metas]
    refs = [m.name for m in select(args.reference_tasks or []) if m.name in names] \
        if args.reference_tasks else []
    for name in refs:
        task = next(t for t in tasks if t.name == name)
        t0 = time.perf_counter()
        res = evaluate_transfer_task(task, views[name], config=args.config, seed=args.seed,
                                     classifier=SentEvalLoop)
        wall = time.perf_counter() - t0
        ours = result["tasks"][name]
        result["reference"][name] = {
            "acc": res["acc"], "devacc": res["devacc"], "fits": res["fits"],
            "wall_s": round(wall, 2), "fits_per_s": round(res["fits"] / wall, 2),
            "speedup": round(wall / ours["wall_s"], 2),
            "acc_diff": round(ours["acc"] - res["acc"], 2)}
    return result
