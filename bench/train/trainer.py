"""The SimCSE training loop: one process or DDP, evaluation, checkpoints and exact resume.

Follows the reference (HF Trainer as ``train.py`` configures it): AdamW without weight decay,
linear decay to zero without warm-up, gradient clipping at 1.0, STS-B dev Spearman every
``eval_steps`` with the best checkpoint kept. The data order is a pure function of (seed,
step) and the RNG states are saved with each checkpoint, so ``resume`` replays exactly the
run that was interrupted. The saved state is plain data read back without unpickling code
(``bench.train.state``), and a resume is refused unless run.json shows the same settings,
process count, training file and STS-B dev pairs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist

from bench.atomic import atomic_write_text
from bench.callbacks import StsEvaluator
from bench.data.locate import locate
from bench.devices import check_device
from bench.encoders.transformer import autocast_context
from bench.environment import describe_environment
from bench.errors import BenchError, warn
from bench.fingerprint import sha256_file
from bench.progress import count, progress_bar
from bench.seeding import seed_everything
from bench.tasks.registry import get
from bench.train import rundir
from bench.train import state as train_state
from bench.train.config import TrainConfig, checkpoint_steps, saves_at, trajectory_flags
from bench.train.data import TrainingData, batch_indices, read_training_data, steps_per_epoch
from bench.train.loss import gather_with_grad, simcse_loss
from bench.train.model import SimCSEModel, load_backbone, mask_tokens
from bench.train.positives import Corpus, make_positive, read_corpus

# Stream of the positive makers' generator, apart from the data order's ([seed, epoch]).
_POSITIVE_STREAM = 17
LOSS_SHOWN_OVER = 10  # the progress bar shows the mean loss of the last N steps


def _init_distributed(device: str) -> tuple[int, int, str]:
    """(rank, world size, device) from torchrun's environment; gloo on CPU, NCCL on GPUs."""
    check_device(device)  # before a process group is set up on a device that is not there
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    if device.startswith("cuda") and world > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}"
        torch.cuda.set_device(device)
    return rank, world, check_device(device)


def _barrier(world: int) -> None:
    if world > 1:
        dist.barrier()


def _dev_digest(data_dir: str | None) -> str:
    """SHA-256 of the STS-B dev pairs (sentences and gold) that model selection scores on.

    ``data_dir`` may move between a run and its resumption; the pairs may not, or the log
    and best/ would mix scores on two dev sets.
    """

    part = get("STSBenchmark").load(locate(data_dir).downstream).parts["dev"]
    pairs = [list(part.sent1), list(part.sent2), [float(g) for g in part.gold]]
    return hashlib.sha256(json.dumps(pairs).encode("utf-8")).hexdigest()


class TrainerCallback(Protocol):
    """Hook called by :meth:`Trainer.train` after every optimiser step.

    ``on_step_end`` runs once the step's logging, evaluation and checkpoint (when due) are
    done, with ``trainer.step`` the number of steps completed; returning True stops the run
    there, as a kill after that point would (``--resume`` continues from the last
    checkpoint). Use it to watch or cut a run from your own code, e.g. stop on a budget.
    Under DDP it runs in every process, and all of them must return the same answer (decide
    on ``trainer.step`` or on values every process shares), or the processes part ways.
    """

    def on_step_end(self, trainer: Trainer) -> bool | None: ...


class Trainer:
    """Holds the model, optimiser and bookkeeping of one run; ``train()`` drives it.

    ``callbacks``: objects with ``on_step_end(trainer) -> bool`` (see ``TrainerCallback``).
    """

    def __init__(self, cfg: TrainConfig, callbacks: Sequence[TrainerCallback] = ()) -> None:
        self.cfg = cfg
        self.callbacks = list(callbacks)
        self.rank, self.world, self.device = _init_distributed(cfg.device)
        self.run_dir = Path(cfg.runs_dir) / cfg.name
        # Everything that can fail on bad input happens before anything is written.
        self.data: TrainingData = read_training_data(cfg.data, cfg.mode)
        # A maker other than dropout reads the file in order (articles) and may load a model.
        self.positive = make_positive(cfg.positive, cfg.backbone, cfg.positive_model)
        self.corpus: Corpus | None = None
        self.anchor_lines: np.ndarray | None = None
        if not self.positive.same_text:
            self.corpus = read_corpus(cfg.data)
            self.positive.prepare(self.corpus, self.device)
            self.anchor_lines = self.positive.anchors(self.corpus)
        examples = len(self.data) if self.anchor_lines is None else len(self.anchor_lines)
        self.global_batch = cfg.batch_size * self.world
        self.per_epoch = steps_per_epoch(examples, self.global_batch, self.data.path)
        self.total_steps = cfg.max_steps or cfg.epochs * self.per_epoch
        # What the dev scores (and so best/) rest on, recorded and compared on --resume.
        self.dev_sha256 = (_dev_digest(cfg.data_dir) if cfg.eval_steps and self.rank == 0
                           else None)
        self.resume_from = self._check_run_dir()
        # A refused train_state.pt is refused before the backbone is loaded.
        resume_state = self._read_state(*self.resume_from) if self.resume_from else None
        # model selection as the reference trainer: raw cosine Spearman on the STS-B dev pairs
        self.dev = (StsEvaluator("STSBenchmark", "dev", "spearman", data_dir=cfg.data_dir)
                    if cfg.eval_steps and self.rank == 0 else None)
        seed_everything(cfg.seed)
        self.tokenizer, backbone, head = load_backbone(cfg.backbone, cfg.dropout, cfg.mlm)
        self.model = SimCSEModel(backbone, cfg.pooler, bool(cfg.mlp_only_train), head)
        self.model.to(self.device).train()
        # Table 2's (f_theta1, f_theta2): an independent copy of the same start encodes x+;
        # the run folder's model is f_theta1, the encoder of the anchors x.
        self.model2 = copy.deepcopy(self.model) if cfg.dual_encoder else None
        self.ddp, self.ddp2 = self.model, self.model2
        if self.world > 1:
            ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
            self.ddp = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
            if self.model2 is not None:
                self.ddp2 = torch.nn.parallel.DistributedDataParallel(self.model2,
                                                                      device_ids=ids)
        params = self._trainable()
        # The fused kernel is the same AdamW update in one pass over each tensor; on 2 CPU
        # cores it takes ~24 ms a step for MiniLM against ~130 ms for the per-tensor loop.
        self.optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, betas=(0.9, 0.999),
                                           eps=1e-8, weight_decay=0.0,
                                           fused=torch.device(self.device).type in ("cpu", "cuda"))
        total = self.total_steps
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: max(0.0, (total - s) / total))
        device_type = torch.device(self.device).type
        self.scaler = torch.amp.GradScaler(device_type, enabled=cfg.precision == "fp16")
        self.step = 0
        self.best: dict[str, Any] = {"step": None, "stsb_dev_spearman": None}
        self.log: list[dict[str, Any]] = []
        self.pending: list[float] = []
        self.recent_losses: deque[float] = deque(maxlen=LOSS_SHOWN_OVER)  # the progress bar's
        self.elapsed_before = 0.0
        self.step_times: list[float] = []
        if resume_state is not None:
            self._load_state(resume_state, self.resume_from[1] / rundir.STATE_FILE)

    def _trainable(self) -> list[torch.nn.Parameter]:
        models = [self.model] + ([self.model2] if self.model2 is not None else [])
        return [p for m in models for p in m.parameters() if p.requires_grad]

    # -- run folder -------------------------------------------------------------------------
    def _check_run_dir(self) -> tuple[int, Path] | None:
        """The checkpoint to resume from; refuses a resume that would not continue the run.

        On ``--resume`` the run folder must hold its run.json, written with the same
        settings (``TrainConfig.identity``: everything but the folder, device, data folder
        and progress display), the same number of processes and the same training file
        (its SHA-256). ``max_steps`` and ``epochs`` count too: the learning rate decays
        linearly to the last step, so a longer run differs from the start.
        """
        if not self.cfg.resume:
            if self.run_dir.exists() and any(self.run_dir.iterdir()):
                raise BenchError(f"run folder {self.run_dir} already exists; pass --resume to "
                                 f"continue it or choose another --name")
            return None
        run_json = self.run_dir / rundir.RUN_FILE
        if self.run_dir.is_dir():
            rundir.check_no_links_out(self.run_dir)
        if run_json.is_file():
            self._check_same_run(rundir.read_run_info(self.run_dir), run_json)
        elif self.run_dir.is_dir() and any(self.run_dir.iterdir()):
            raise BenchError(f"{run_json}: missing, so nothing says which settings and data "
                             f"this run was trained with; start a new run under another "
                             f"--name")
        return rundir.latest_resumable(self.run_dir)

    def _check_same_run(self, saved: dict[str, Any], run_json: Path) -> None:
        mine, before = self.cfg.identity(), saved["config"]
        known = TrainConfig.defaults()  # settings added after the run was written
        diff = [k for k in mine if before.get(k, known.get(k)) != mine[k]]
        if diff:
            was = ", ".join(f"{k}={before.get(k, known.get(k))!r}" for k in diff)
            now = ", ".join(f"{k}={mine[k]!r}" for k in diff)
            raise BenchError(f"{run_json}: --resume with different settings ({', '.join(diff)}"
                             f") (run: {was}; now: {now}); use the original ones or another "
                             f"--name")
        if saved["world_size"] != self.world:
            raise BenchError(f"{run_json}: run used {saved['world_size']} process(es), this "
                             f"resume has {self.world}")
        was, now = saved["data"]["sha256"], sha256_file(self.data.path)
        if was != now:
            raise BenchError(f"{run_json}: data digest differs (run: {was[:12]}..., now: "
                             f"{now[:12]}...): the training file {self.data.path} changed "
                             f"since this run started; start a new run")
        dev = saved.get("dev")  # absent in run.json files written before it was recorded
        if isinstance(dev, dict) and self.dev_sha256 is not None and (
                dev.get("sha256") != self.dev_sha256):
            raise BenchError(f"{run_json}: STS-B dev digest differs (run: "
                             f"{str(dev.get('sha256'))[:12]}..., now: {self.dev_sha256[:12]}"
                             f"...): --data-dir holds other dev pairs than this run was "
                             f"selected on; use the original data or start a new run")

    def _run_info(self, status: str) -> dict[str, Any]:
        return {"kind": "simcse-train", "status": status, "config": self.cfg.identity(),
                "world_size": self.world, "global_batch": self.global_batch,
                "steps_total": self.total_steps, "steps_per_epoch": self.per_epoch,
                "data": {"path": str(self.data.path), "examples": len(self.data),
                         "sha256": sha256_file(self.data.path)},
                "dev": ({"task": "STSBenchmark", "split": "dev", "sha256": self.dev_sha256}
                        if self.dev_sha256 is not None else None),
                "eval_pooler": self.model.eval_pooler, "mlp_at_eval": self.model.mlp_at_eval,
                "positive": {**self.positive.describe(), "anchors": (
                    len(self.data) if self.anchor_lines is None else len(self.anchor_lines))},
                "evaluated_encoder": ("f_theta1, the encoder of the anchors x (f_theta2, "
                                      "which encoded x+, is only in train_state.pt)"
                                      if self.model2 is not None else "the one shared encoder"),
                "best": self.best, "steps_done": self.step,
                "environment": describe_environment(self.device)}

    def _meta(self, dev: float | None) -> dict[str, Any]:
        return {"step": self.step, "eval_pooler": self.model.eval_pooler,
                "mlp_at_eval": self.model.mlp_at_eval, "train_pooler": self.model.pooler,
                "mlp_only_train": self.model.mlp_only_train, "mode": self.cfg.mode,
                "backbone": self.cfg.backbone, "run": self.cfg.name,
                "stsb_dev_spearman": dev,
                **({"dual_encoder": True, "encoder": "f_theta1 (anchors x)"}
                   if self.model2 is not None else {})}

    def _save_checkpoint(self, dev: float | None) -> None:
        rngs = [train_state.rng_state()]
        if self.world > 1:
            rngs = [None] * self.world
            dist.all_gather_object(rngs, train_state.rng_state())
        if self.rank == 0:
            state = {"step": self.step, "model": self.model.state_dict(),
                     "optimizer": self.optimizer.state_dict(),
                     "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                     "rng": rngs, "best": self.best, "log": self.log, "pending": self.pending,
                     "elapsed": self._elapsed()}
            if self.model2 is not None:
                state["model2"] = self.model2.state_dict()
            target = self.run_dir / "checkpoints" / rundir.step_dir_name(self.step)
            rundir.write_model_folder(target, self.model, self.tokenizer, self._meta(dev), state)
            rundir.drop_older_states(self.run_dir, target)
        _barrier(self.world)

    def _read_state(self, step: int, folder: Path) -> dict[str, Any]:
        """A checkpoint's training state, read without unpickling (bench.train.state)."""
        path = folder / rundir.STATE_FILE
        state = train_state.load(path, self.device)
        train_state.check(state, path, step, self.world, self.cfg.dual_encoder)
        return state

    def _load_state(self, state: dict[str, Any], path: Path) -> None:
        """Restore a checked training state into the model, optimiser and generators."""
        try:
            self.model.load_state_dict(state["model"])
            if self.model2 is not None:
                self.model2.load_state_dict(state["model2"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
            raise BenchError(f"{path}: does not fit this run's model or optimiser "
                             f"({first or type(exc).__name__}); refusing to resume from it"
                             ) from None
        train_state.set_rng_state(state["rng"][self.rank], path)
        self.step, self.best, self.log = state["step"], state["best"], state["log"]
        self.pending, self.elapsed_before = state["pending"], state["elapsed"]

    def _elapsed(self) -> float:
        return self.elapsed_before + (time.perf_counter() - self._t0)

    def _append_log(self, entry: dict[str, Any]) -> None:
        self.log.append(entry)
        if self.rank == 0:
            rundir.write_log(self.run_dir, self.log)

    # -- one step ---------------------------------------------------------------------------
    def _texts(self, step: int) -> tuple[list[str], int]:
        if self.anchor_lines is not None:
            return self._made_pairs(step), 2
        idx = batch_indices(len(self.data), self.global_batch, step, self.cfg.seed)
        idx = idx[self.rank * self.cfg.batch_size:(self.rank + 1) * self.cfg.batch_size]
        cols = [[col[i] for i in idx] for col in self.data.columns]
        if self.cfg.mode == "unsup":
            views = 1 if self.cfg.fixed_dropout else 2
            return cols[0] * views, views
        return [s for col in cols for s in col], len(cols)

    def _made_pairs(self, step: int) -> list[str]:
        """Anchors then their x+ from the positive maker, for this process's slice.

        x+ is made for the whole global batch from one generator of (seed, step), so the
        pairs do not depend on the number of processes.
        """
        assert self.corpus is not None and self.anchor_lines is not None
        pos = batch_indices(len(self.anchor_lines), self.global_batch, step, self.cfg.seed)
        lines = self.anchor_lines[pos]
        rng = np.random.default_rng([self.cfg.seed, step, _POSITIVE_STREAM])
        positives = self.positive.make(self.corpus, lines, rng)
        mine = slice(self.rank * self.cfg.batch_size, (self.rank + 1) * self.cfg.batch_size)
        return [self.corpus.sentences[i] for i in lines[mine]] + positives[mine]

    def _tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        inputs = self.tokenizer(texts, padding=True, truncation=True,
                                max_length=self.cfg.max_length, return_tensors="pt")
        return {k: v.to(self.device) for k, v in inputs.items()}

    def train_step(self, step: int) -> float:
        texts, n_views = self._texts(step)
        second = None
        if self.model2 is not None:  # x through f_theta1, x+ through f_theta2
            half = len(texts) // n_views
            texts, second = texts[:half], self._tokenize(texts[half:])
        inputs = self._tokenize(texts)
        mlm_inputs = None
        if self.cfg.mlm:
            mlm_inputs = mask_tokens(inputs["input_ids"], inputs["attention_mask"],
                                     self.tokenizer, self.cfg.mlm_probability)
            if "token_type_ids" in inputs:
                mlm_inputs["token_type_ids"] = inputs["token_type_ids"]
        with autocast_context(self.device, self.cfg.precision):
            if second is None:
                views, mlm_loss = self.ddp(inputs, n_views, mlm_inputs)
            else:
                views, mlm_loss = self.ddp(inputs, 1, mlm_inputs)
                views = views + self.ddp2(second, 1)[0]
        z1 = gather_with_grad(views[0])
        # "fixed 0.1": one pass, so both views share the dropout mask and are identical.
        z2 = gather_with_grad(views[1]) if len(views) > 1 else z1
        z3 = gather_with_grad(views[2]) if len(views) > 2 else None
        loss = simcse_loss(z1, z2, z3, self.cfg.temperature, self.cfg.hard_negative_alpha,
                           self.cfg.similarity)
        # Every process computes the loss of the whole global batch but backpropagates only
        # through its own slice; DDP averages, so scale by the world size to obtain exactly
        # the single-process gradient of the global batch (the reference leaves it 1/W).
        backward = loss * self.world
        total = loss.detach()
        if mlm_loss is not None:
            backward = backward + self.cfg.mlm_weight * mlm_loss
            total = total + self.cfg.mlm_weight * mlm_loss.detach()
        self.scaler.scale(backward).backward()
        self.scaler.unscale_(self.optimizer)
        if self.cfg.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self._trainable(), self.cfg.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(total)

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self) -> float | None:
        """STS-B dev Spearman on process 0 (others wait); the best model is exported."""
        score = None
        if self.rank == 0 and self.dev is not None:
            score = self.dev(lambda s: self.model.encode(
                s, self.tokenizer, device=self.device, precision=self.cfg.precision))
            # Step 0 is reported but, as in the reference, not a candidate for "best".
            best = self.best["stsb_dev_spearman"]
            if self.step > 0 and (best is None or score > best):
                self.best = {"step": self.step, "stsb_dev_spearman": score}
                rundir.write_model_folder(self.run_dir / "best", self.model, self.tokenizer,
                                          self._meta(score))
            self._append_log({"step": self.step, "stsb_dev_spearman": score,
                              "best_step": self.best["step"],
                              "elapsed_s": round(self._elapsed(), 3)})
        _barrier(self.world)
        return score

    def _say_if_no_trajectory(self) -> None:
        """One line before training when the run will hold fewer than two checkpoints (a
        ``--max-steps`` below the recipe's save interval): its alignment/uniformity plot
        would be one dot, and the flags that give a trajectory."""
        kept = [s for s, _ in rundir.checkpoints(self.run_dir)]
        kept += checkpoint_steps(self.total_steps, self.cfg.save_steps, self.cfg.save_initial,
                                 self.step)
        kept = sorted(set(kept))
        if len(kept) >= 2:
            return
        steps = ", ".join(f"step {s}" for s in kept) or "none"
        warn(f"run {self.cfg.name} will keep {count(len(kept), 'checkpoint')} ({steps}): "
             f"'bench analyze align-uniform --checkpoints {self.run_dir}' would draw one dot; "
             f"for a trajectory over {count(self.total_steps, 'step')}, add "
             f"{trajectory_flags(self.total_steps)}")

    # -- the loop ---------------------------------------------------------------------------
    def train(self) -> dict[str, Any]:
        """Run to the end, or until a callback asks to stop (``finished`` is then False)."""
        cfg = self.cfg
        self._t0 = time.perf_counter()
        if self.rank == 0:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            rundir.remove_partials(self.run_dir)
            atomic_write_text(self.run_dir / rundir.RUN_FILE,
                              json.dumps(self._run_info("running"), indent=2) + "\n")
            self._say_if_no_trajectory()
        _barrier(self.world)
        initial = None
        if self.step == 0 and cfg.eval_steps:
            initial = self.evaluate()
        if self.step == 0 and cfg.save_initial:  # the pre-trained start (Figure 2)
            self._save_checkpoint(initial)
        with progress_bar(f"SimCSE {cfg.name}", self.total_steps,
                          disable=not cfg.show_progress or self.rank != 0) as advance:
            advance(self.step)
            while self.step < self.total_steps:
                t = time.perf_counter()
                self.pending.append(self.train_step(self.step))
                self.step += 1
                self.step_times.append(time.perf_counter() - t)
                self.recent_losses.append(self.pending[-1])
                advance(1, status=f"loss {np.mean(self.recent_losses):.4f}")
                last = self.step == self.total_steps
                if cfg.log_steps and (self.step % cfg.log_steps == 0 or last):
                    self._append_log({"step": self.step,
                                      "epoch": round(self.step / self.per_epoch, 4),
                                      "loss": float(np.mean(self.pending)),
                                      "lr": self.scheduler.get_last_lr()[0],
                                      "elapsed_s": round(self._elapsed(), 3)})
                    self.pending = []
                dev = None
                if cfg.eval_steps and (self.step % cfg.eval_steps == 0 or last):
                    dev = self.evaluate()
                if saves_at(self.step, self.total_steps, cfg.save_steps):
                    self._save_checkpoint(dev)
                stop = [bool(cb.on_step_end(self)) for cb in self.callbacks]
                if any(stop) and not last:
                    return self._summary(initial, finished=False)
        if self.rank == 0:
            atomic_write_text(self.run_dir / rundir.RUN_FILE,
                              json.dumps(self._run_info("finished"), indent=2) + "\n")
        return self._summary(initial, finished=True)

    def _summary(self, initial: float | None, finished: bool) -> dict[str, Any]:
        if initial is None:  # a resumed run: the step-0 score is in the restored log
            initial = next((e["stsb_dev_spearman"] for e in self.log
                            if e["step"] == 0 and "stsb_dev_spearman" in e), None)
        return {"run_dir": str(self.run_dir), "finished": finished, "steps": self.step,
                "steps_total": self.total_steps, "initial_stsb_dev_spearman": initial,
                "best": self.best, "wall_s": round(self._elapsed(), 2),
                "step_times": self.step_times, "world_size": self.world, "rank": self.rank,
                "config": asdict(self.cfg)}


def train(cfg: TrainConfig, callbacks: Sequence[TrainerCallback] = ()) -> dict[str, Any]:
    return Trainer(cfg, callbacks).train()
