"""SimCSE under DDP with 2 CPU processes (gloo): the gathered loss and gradients equal the
single-process ones on the same global batch, and a 2-step DDP training run equals a
single-process run with the global batch (dropout off, so both are deterministic). The
training run uses the tiny random-weight BERT: the equality holds for any weights."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file

from bench.train.config import TrainConfig
from bench.train.loss import gather_with_grad, simcse_loss

WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _global_batch():
    rng = np.random.default_rng(11)
    inputs = [torch.tensor(rng.normal(size=(6, 8)), dtype=torch.float64) for _ in range(3)]
    weight = torch.tensor(rng.normal(size=(8, 5)), dtype=torch.float64)
    return inputs, weight


def _loss_worker(rank: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD)
    try:
        inputs, weight = _global_batch()
        weight.requires_grad_(True)  # a linear "encoder" shared by both processes
        local = [x[rank * 3:(rank + 1) * 3] @ weight for x in inputs]
        loss = simcse_loss(*[gather_with_grad(z) for z in local], temperature=0.05,
                           hard_negative_alpha=2.0)
        (loss * WORLD).backward()  # as the trainer does
        dist.all_reduce(weight.grad)  # what DDP does with parameter gradients: the mean
        weight.grad /= WORLD
        torch.save({"loss": loss.detach(), "grad": weight.grad}, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # spawns two processes that each import torch
def test_gathered_loss_and_gradients_equal_single_process(tmp_path):
    mp.spawn(_loss_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    inputs, weight = _global_batch()
    weight.requires_grad_(True)
    loss = simcse_loss(*[x @ weight for x in inputs], temperature=0.05, hard_negative_alpha=2.0)
    loss.backward()
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        torch.testing.assert_close(got["loss"], loss.detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(got["grad"], weight.grad, rtol=1e-10, atol=1e-12)


def _config(runs: Path, data: Path, name: str, batch: int, backbone: str) -> TrainConfig:
    return TrainConfig(mode="sup", data=str(data), backbone=backbone, name=name, runs_dir=str(runs), batch_size=batch, max_length=16,
                       max_steps=2, eval_steps=0, save_steps=0, log_steps=1, dropout=0.0,
                       learning_rate=1e-4, show_progress=False)


def _train_worker(rank: int, port: int, runs: str, data: str, backbone: str) -> None:
    torch.set_num_threads(1)
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                       "RANK": str(rank), "LOCAL_RANK": str(rank),
                       "WORLD_SIZE": str(WORLD)})
    from bench.train.trainer import train

    try:
        train(_config(Path(runs), Path(data), "ddp", batch=2, backbone=backbone))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_training_equals_single_process_on_the_global_batch(tmp_path, train_dir, tiny_bert):
    rows = (train_dir / "nli_sample.csv").read_text(encoding="utf-8").splitlines()[:9]
    data = tmp_path / "nli.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    mp.spawn(_train_worker, args=(_free_port(), str(tmp_path), str(data), str(tiny_bert)),
             nprocs=WORLD, join=True)
    from bench.train.trainer import train

    single = train(_config(tmp_path, data, "single", batch=4, backbone=str(tiny_bert)))
    assert single["world_size"] == 1
    a = load_file(tmp_path / "ddp/checkpoints/step-00002/model.safetensors")
    b = load_file(tmp_path / "single/checkpoints/step-00002/model.safetensors")
    base = load_file(tiny_bert / "model.safetensors")
    moved = 0
    for key in a:
        if key.endswith("attention.self.key.bias"):
            # Softmax ignores a shift shared by all keys, so this gradient is zero but for
            # rounding noise, which Adam scales up to steps of size lr in either direction.
            continue
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
        if key in base and key.startswith("encoder.") and not torch.equal(a[key], base[key]):
            moved += 1
    assert moved > 0  # training did change the weights
    ddp_log = (tmp_path / "ddp/train_log.jsonl").read_text().splitlines()
    single_log = (tmp_path / "single/train_log.jsonl").read_text().splitlines()
    import json

    la = [json.loads(x)["loss"] for x in ddp_log]
    lb = [json.loads(x)["loss"] for x in single_log]
    assert la == pytest.approx(lb, rel=1e-4)
