"""Every setting of a SimCSE training run, with the reference ``train.py`` defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from bench.encoders.base import PRECISIONS
from bench.errors import BenchError
from bench.progress import count
from bench.train.data import MODES
from bench.train.loss import SIMILARITIES
from bench.train.model import TRAIN_POOLERS
from bench.train.positives import PositiveError, check_spec

# Settings that may differ between a run and its resumption: where the run folder and the
# SentEval data lie (the training file and the STS-B dev pairs are compared by digest
# instead), the device, and the progress display. Every other setting, max_steps and epochs
# included, is part of the run: the learning rate decays linearly to the last step, so a
# longer run is a different run from its first step on.
NOT_IDENTITY = ("resume", "show_progress", "runs_dir", "data_dir", "device")


@dataclass
class TrainConfig:
    mode: str
    data: str
    backbone: str
    name: str
    runs_dir: str = "runs"
    pooler: str = "cls"
    mlp_only_train: bool | None = None  # None: True for unsup (paper default), False for sup
    temperature: float = 0.05
    hard_negative_alpha: float = 1.0  # alpha of Eq. 8 (the reference adds log(alpha) to the logit)
    mlm: bool = False
    mlm_weight: float = 0.1
    mlm_probability: float = 0.15
    dropout: float | None = None  # None: the backbone's own (0.1 for BERT)
    fixed_dropout: bool = False  # Table 3 "fixed 0.1": the same mask for both views
    # Table 1 / 2 ablations: how x+ is made, one encoder or two, the similarity of Eq. 1.
    positive: str = "dropout"  # bench.train.positives spelling
    positive_model: str | None = None  # masked LM for --positive mlm:K (default: the backbone)
    dual_encoder: bool = False  # Table 2 (f_theta1, f_theta2): a second copy encodes x+
    similarity: str = "cosine"  # "dot": z1 . z2 without temperature (Table D.1 "N/A")
    save_initial: bool = False  # also checkpoint step 0 (the pre-trained start of Figure 2)
    batch_size: int = 64  # per process; the global batch is batch_size x processes
    learning_rate: float = 3e-5
    max_length: int = 32
    epochs: int = 1
    max_steps: int | None = None  # overrides epochs when set
    seed: int = 42
    precision: str = "fp32"
    device: str = "cpu"
    max_grad_norm: float = 1.0  # HF Trainer's default, which the reference inherits
    eval_steps: int = 250  # 0: no evaluation
    save_steps: int = 250  # 0: only the final checkpoint
    log_steps: int = 10
    data_dir: str | None = None
    resume: bool = False
    show_progress: bool = True

    def __post_init__(self) -> None:
        if self.mlp_only_train is None:
            self.mlp_only_train = self.mode == "unsup" and self.pooler == "cls"
        self.validate()

    def validate(self) -> None:
        def bad(msg: str) -> BenchError:
            return BenchError(f"train simcse: {msg}")

        if self.mode not in MODES:
            raise bad(f"unknown mode {self.mode!r}; valid: {', '.join(MODES)}")
        if self.pooler not in TRAIN_POOLERS:
            raise bad(f"unknown pooler {self.pooler!r}; valid: {', '.join(TRAIN_POOLERS)}")
        if self.precision not in PRECISIONS:
            raise bad(f"unknown precision {self.precision!r}; valid: {', '.join(PRECISIONS)}")
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise bad(f"invalid run name {self.name!r} (a plain folder name)")
        if self.temperature <= 0:
            raise bad(f"temperature must be positive, got {self.temperature}")
        if self.hard_negative_alpha < 0:
            raise bad(f"hard-negative alpha must be >= 0, got {self.hard_negative_alpha}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise bad(f"dropout must be in [0, 1), got {self.dropout}")
        if self.fixed_dropout and self.mode != "unsup":
            raise bad("fixed dropout (same mask for both views) only applies to --mode unsup")
        if self.similarity not in SIMILARITIES:
            raise bad(f"unknown similarity {self.similarity!r}; valid: {', '.join(SIMILARITIES)}")
        try:
            positive, _ = check_spec(self.positive)
        except PositiveError as exc:
            raise bad(str(exc)) from None
        if positive != "dropout" and self.mode != "unsup":
            raise bad(f"--positive {self.positive} makes unsupervised pairs; it needs --mode "
                      f"unsup (sup takes x+ from the CSV)")
        if positive != "dropout" and self.fixed_dropout:
            raise bad(f"--fixed-dropout encodes x once for both views; with --positive "
                      f"{self.positive} the views are different texts")
        if self.positive_model is not None and positive != "mlm":
            raise bad("--positive-model names the masked LM of --positive mlm:K only")
        if self.dual_encoder and self.mode != "unsup":
            raise bad("--dual-encoder applies to --mode unsup (Table 2)")
        if self.dual_encoder and self.fixed_dropout:
            raise bad("--dual-encoder encodes x and x+ with two encoders; --fixed-dropout "
                      "needs one pass of one encoder")
        for key in ("batch_size", "learning_rate", "max_length", "epochs"):
            if getattr(self, key) <= 0:
                raise bad(f"{key.replace('_', '-')} must be positive, got {getattr(self, key)}")
        for key in ("eval_steps", "save_steps", "log_steps"):
            if getattr(self, key) < 0:
                raise bad(f"{key.replace('_', '-')} must be >= 0, got {getattr(self, key)}")
        if self.max_steps is not None and self.max_steps <= 0:
            raise bad(f"max-steps must be positive, got {self.max_steps}")

    def identity(self) -> dict[str, Any]:
        """The settings that define the run (compared on --resume)."""
        return {k: v for k, v in asdict(self).items() if k not in NOT_IDENTITY}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Field defaults: what a run.json written before a field existed meant by it."""
        return {f.name: f.default for f in fields(cls)}

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def saves_at(step: int, total: int, save_steps: int) -> bool:
    """Whether the trainer checkpoints after ``step``: every ``save_steps`` and the last."""
    return bool(save_steps and step % save_steps == 0) or step == total


def checkpoint_steps(total: int, save_steps: int, save_initial: bool, start: int = 0
                     ) -> list[int]:
    """The steps a run from ``start`` to ``total`` keeps a checkpoint of."""
    steps = [s for s in range(start + 1, total + 1) if saves_at(s, total, save_steps)]
    return ([0] if save_initial and start == 0 else []) + steps


def trajectory_flags(total: int) -> str:
    """The ``bench train simcse`` flags that give a run of ``total`` steps a trajectory of
    checkpoints (Figure 2: alignment/uniformity along training), in words."""
    every = max(1, total // 5)
    return (f"--save-steps {every} (a checkpoint every {count(every, 'step')}) and "
            f"--save-initial (step 0, the pre-trained start)")
