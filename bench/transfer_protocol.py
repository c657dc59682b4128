"""Transfer-task protocols as values: SentEval's classifier setting, the classifier and the
seed (``TransferProtocol``), with the classifier settings they name (``CONFIGS``; the
classifier in ``bench.tasks.classifier`` only fits them) and the presets in
``protocols/transfer/*.toml``. STS protocols are in ``bench.protocols``, which re-exports
these names for its older importers.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.errors import ProtocolError
from bench.resources import resource_dir


def check_choice(what: str, value: str, valid: Iterable[str]) -> None:
    """One ProtocolError line naming the bad value and the valid ones (both protocol kinds)."""
    if value not in valid:
        raise ProtocolError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")


# SentEval's classifier settings (bench.tasks.classifier fits them)
TORCH_L2 = (1e-5, 1e-4, 1e-3, 1e-2)          # SentEval: [10**t for t in range(-5, -1)]
SKLEARN_C = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)   # inner k-fold and split: 2**[-2..3]
SKLEARN_C_KFOLD = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # KFoldClassifier: 2**[-1..5]
CLASSIFIERS = ("torch", "sklearn")


@dataclass(frozen=True)
class ClassifierConfig:
    """One of SentEval's classifier settings (``kfold`` is the engine's, the rest MLP's)."""

    name: str
    kfold: int
    optim: str
    batch_size: int
    tenacity: int
    epoch_size: int
    max_epoch: int = 200

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CONFIGS: dict[str, ClassifierConfig] = {
    # "comparable to literature" (SimCSE --mode test, SimCSE Table E.1)
    "test": ClassifierConfig("test", kfold=10, optim="adam", batch_size=64, tenacity=5,
                             epoch_size=4),
    # SentEval README's prototyping setting (SimCSE --mode fasttest)
    "fasttest": ClassifierConfig("fasttest", kfold=5, optim="rmsprop", batch_size=128,
                                 tenacity=3, epoch_size=2),
}


TRANSFER_BASE = "senteval"
DEFAULT_TRANSFER_SEED = 1111  # SentEval's default seed
TRANSFER_PRESETS = "transfer"  # protocols/transfer/*.toml


@dataclass(frozen=True)
class TransferProtocol:
    """How transfer-task accuracies are computed: SentEval's classifier setting (``config``,
    a key of ``CONFIGS``: test | fasttest), the classifier (torch |
    sklearn, which also fixes the regularisation grid) and the seed. Numbers measured under
    two of these are different quantities (fasttest vs. test moves MR by about a point), so
    ``compare`` never ranks them together.

    Spelled ``senteval[-fasttest][-sklearn][-seedN]``: ``senteval`` is SentEval's default
    setting, which SimCSE's Table E.1 uses ("We follow default configurations from SentEval",
    appendix E).
    """

    config: str = "test"
    classifier: str = "torch"
    seed: int = DEFAULT_TRANSFER_SEED
    source: str = ""

    def __post_init__(self) -> None:
        check_choice("transfer classifier setting", self.config, CONFIGS)
        check_choice("transfer classifier", self.classifier, CLASSIFIERS)

    @property
    def key(self) -> str:
        """``senteval``, ``senteval-fasttest``, ``senteval-sklearn``, ...; ``-seedN`` when the
        seed is not SentEval's default."""
        parts = [TRANSFER_BASE]
        if self.config != "test":
            parts.append(self.config)
        if self.classifier != "torch":
            parts.append(self.classifier)
        if self.seed != DEFAULT_TRANSFER_SEED:
            parts.append(f"seed{self.seed}")
        return "-".join(parts)

    @property
    def grid(self) -> dict[str, tuple[float, ...]]:
        """The regularisation values searched, by validation kind (the classifier's own)."""
        if self.classifier == "torch":
            return {"l2": TORCH_L2}
        return {"C": SKLEARN_C, "C (k-fold tasks)": SKLEARN_C_KFOLD}

    def settings(self) -> str:
        """The setting in words, e.g. ``kfold 10, adam, batch 64, tenacity 5, epoch size 4``."""
        c = CONFIGS[self.config]
        if self.classifier == "sklearn":
            text = f"kfold {c.kfold}, scikit-learn LogisticRegression"
        else:
            text = (f"kfold {c.kfold}, {c.optim}, batch {c.batch_size}, tenacity {c.tenacity}, "
                    f"epoch size {c.epoch_size}")
        return text + (f", seed {self.seed}" if self.seed != DEFAULT_TRANSFER_SEED else "")

    def describe(self) -> str:
        return f"{self.key} ({self.settings()})"

    @classmethod
    def parse(cls, text: str, source: str = "") -> TransferProtocol:
        """A spelled form, or a one-line ProtocolError listing what is valid."""
        words = text.strip().lower().split("-")
        config, classifier, seed = "test", "torch", DEFAULT_TRANSFER_SEED
        ok = words[0] == TRANSFER_BASE
        for word in words[1:]:
            if word in CONFIGS and word != "test" and config == "test":
                config = word
            elif word in CLASSIFIERS and word != "torch" and classifier == "torch":
                classifier = word
            elif word.startswith("seed") and word[4:].isdigit():
                seed = int(word[4:])
            else:
                ok = False
        if not ok:
            valid = [p.key for p in every_transfer()]
            raise ProtocolError(f"unknown transfer protocol {text!r}; valid: {', '.join(valid)} "
                                f"(optionally -seedN), or a preset: "
                                f"{', '.join(sorted(load_transfer_presets()))}")
        return cls(config, classifier, seed, source)

    def to_dict(self) -> dict:
        return {"key": self.key, "config": self.config, "classifier": self.classifier,
                "seed": self.seed, "settings": CONFIGS[self.config].to_dict(),
                "grid": {k: list(v) for k, v in self.grid.items()}, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict) -> TransferProtocol:
        if "config" in data:
            return cls(data["config"], data.get("classifier", "torch"),
                       int(data.get("seed", DEFAULT_TRANSFER_SEED)), data.get("source", ""))
        return cls.parse(data["key"], data.get("source", ""))

    @classmethod
    def from_run(cls, run: dict) -> TransferProtocol | None:
        """What a run's options (``transfer_config``, ``classifier``, ``seed``) say; None for
        a run without them (no transfer task)."""
        if "transfer_config" not in run:
            return None
        return cls(run["transfer_config"], run.get("classifier", "torch"),
                   int(run.get("seed", DEFAULT_TRANSFER_SEED)))


def every_transfer() -> list[TransferProtocol]:
    return [TransferProtocol(c, k) for k in CLASSIFIERS for c in CONFIGS]


def load_transfer_presets(folder: Path | None = None) -> dict[str, TransferProtocol]:
    """Named transfer protocols (``protocols/transfer/*.toml``: config, classifier, seed,
    source), by file stem."""
    folder = folder or resource_dir("protocols") / TRANSFER_PRESETS
    presets: dict[str, TransferProtocol] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            presets[path.stem] = TransferProtocol(
                data.get("config", "test"), data.get("classifier", "torch"),
                int(data.get("seed", DEFAULT_TRANSFER_SEED)), data.get("source", ""))
        except tomllib.TOMLDecodeError as exc:
            raise ProtocolError(f"{path}: invalid TOML ({exc})") from None
        except (ProtocolError, TypeError, ValueError) as exc:
            raise ProtocolError(f"{path}: {exc}") from None
    return presets


def parse_transfer(text: str) -> TransferProtocol:
    """What follows ``--transfer-protocol``: a preset name or a spelled form."""
    presets = load_transfer_presets()
    if text.strip() in presets:
        return presets[text.strip()]
    return with_source(TransferProtocol.parse(text))


def with_source(protocol: TransferProtocol) -> TransferProtocol:
    """The protocol with the source of the preset that names the same setting, if any."""
    if protocol.source:
        return protocol
    for preset in load_transfer_presets().values():
        if preset.key == protocol.key:
            return preset
    return protocol
