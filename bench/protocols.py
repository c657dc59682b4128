"""STS evaluation protocols as values: (regressor, metric, aggregation).

The SimCSE paper (appendix B, Table B.1) shows that published STS numbers differ silently in
these three choices. A Protocol names all three; presets in ``protocols/*.toml`` say which
paper used which. Users type a preset name (``simcse``), a spelled form (``all-spearman``,
``wmean-pearson``, ``mean-pearson-reg``), a comma-separated list, ``every`` for every
combination or ``every-cosine`` for the six without a regressor. ``Protocol.parse`` is the
only parser of a spelled form; the axes' values come from the modules that implement them
(the ``metric`` and ``aggregation`` registries ``bench.correlation.METRICS`` and
``bench.aggregation.AGGREGATIONS``: a registered entry is a valid axis value at once).
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.aggregation import AGGREGATIONS
from bench.correlation import METRICS
from bench.errors import ProtocolError, warn
from bench.resources import resource_dir

REGRESSORS = ("none", "senteval")  # senteval: SentEval's relatedness regressor (bench.tasks.regressor)
REGRESSOR_SUFFIX = {"none": "", "senteval": "-reg"}
REGRESSOR_SELECTIONS = ("pearson", "spearman")  # dev metric that picks the regressor's epoch
EVERY, EVERY_COSINE = "every", "every-cosine"
# Deprecated spellings: "all" is also an aggregation, so "--protocol all" could be misread.
ALIASES = {"all": EVERY, "all-cosine": EVERY_COSINE}


def _check_choice(what: str, value: str, valid) -> None:
    """One ProtocolError line naming the bad value and the valid ones."""
    if value not in valid:
        raise ProtocolError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")


@dataclass(frozen=True)
class Protocol:
    """How STS numbers are computed.

    - ``aggregation`` combines the subsets of STS12-16 (``all``: one correlation over the
      concatenated pairs; ``mean``: unweighted mean of per-subset correlations; ``wmean``:
      mean weighted by pair counts). STS-B and SICK-R are scored on their test split.
    - ``regressor`` ``none`` scores STS-B / SICK-R by cosine similarity; ``senteval`` trains
      SentEval's regressor on their train split and reports ``metric`` on test predictions
      (STS12-16 are unaffected). Which dev metric selects the regressor's model (Pearson in
      upstream SentEval, Spearman in SimCSE's fork) is a run option
      (``--regressor-selection``, default pearson) recorded in the report, not part of the
      key: it is a property of the tool being reproduced, not of the published protocol.
    """

    metric: str
    aggregation: str
    regressor: str = "none"
    source: str = ""

    def __post_init__(self) -> None:
        _check_choice("metric", self.metric, METRICS)
        _check_choice("aggregation", self.aggregation, AGGREGATIONS)
        _check_choice("regressor", self.regressor, REGRESSORS)

    @property
    def key(self) -> str:
        """The spelled form, e.g. ``all-spearman`` or ``mean-pearson-reg``."""
        return f"{self.aggregation}-{self.metric}{REGRESSOR_SUFFIX[self.regressor]}"

    @classmethod
    def parse(cls, text: str, source: str = "") -> Protocol:
        """A spelled form (``aggregation-metric[-reg]``) or a one-line ProtocolError."""
        key = text.strip().lower()
        regressor = "none"
        for name, suffix in REGRESSOR_SUFFIX.items():
            if suffix and key.endswith(suffix):
                regressor, key = name, key[:-len(suffix)]
        aggregation, _, metric = key.partition("-")
        if aggregation not in AGGREGATIONS or metric not in METRICS:
            raise ProtocolError(f"unknown protocol {text!r}; a spelled protocol is "
                                f"AGGREGATION-METRIC[-reg] with aggregation in "
                                f"{'/'.join(AGGREGATIONS)} and metric in {'/'.join(METRICS)}")
        return cls(metric, aggregation, regressor, source)

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "metric": self.metric, "aggregation": self.aggregation,
                "regressor": self.regressor, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Protocol:
        return cls(data["metric"], data["aggregation"], data.get("regressor", "none"),
                   data.get("source", ""))


@dataclass(frozen=True)
class Preset:
    """A named protocol from a paper; ``tasks`` (optional) are the tasks that paper scores
    under it (MTEB's set differs from SentEval's), used when a run names no tasks."""

    name: str
    protocols: tuple[Protocol, ...]
    source: str
    description: str
    path: Path
    tasks: tuple[str, ...] | None = None


def every_combination() -> list[Protocol]:
    """All (regressor, metric, aggregation) combinations, in a stable order."""
    return [Protocol(m, a, r) for r, m, a in itertools.product(REGRESSORS, METRICS, AGGREGATIONS)]


def _as_list(value) -> list[str]:
    return list(value) if isinstance(value, list) else [value]


def load_presets(folder: Path | None = None) -> dict[str, Preset]:
    folder = folder or resource_dir("protocols")
    presets: dict[str, Preset] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ProtocolError(f"{path}: invalid TOML ({exc})") from None
        source = data.get("source", "")
        try:
            protos = tuple(
                Protocol(m, a, data.get("regressor", "none"), source)
                for m in _as_list(data["metric"]) for a in _as_list(data["aggregation"])
            )
        except KeyError as exc:
            raise ProtocolError(f"{path}: missing key {exc.args[0]!r}") from None
        except ProtocolError as exc:
            raise ProtocolError(f"{path}: {exc}") from None
        tasks = data.get("tasks")
        if tasks is not None and not (isinstance(tasks, list) and tasks
                                      and all(isinstance(t, str) for t in tasks)):
            raise ProtocolError(f"{path}: 'tasks' must be a non-empty list of task names")
        name = data.get("name", path.stem)
        presets[name] = Preset(name, protos, source, data.get("description", ""), path,
                               tuple(tasks) if tasks is not None else None)
    return presets


DEFAULT_TASKS = ("sts",)


def preset_tasks(text: str) -> list[str]:
    """The tasks a ``--protocol`` value implies when no tasks are named: those of each preset
    that lists its own (``mteb``), plus the default ``sts`` set for every other item."""
    presets = load_presets()
    out: list[str] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        preset = presets.get(item)
        names = preset.tasks if preset is not None and preset.tasks else DEFAULT_TASKS
        out.extend(n for n in names if n not in out)
    return out or list(DEFAULT_TASKS)


def parse_protocols(text: str) -> list[Protocol]:
    """Parse what follows ``--protocol``: presets, spelled forms, ``every`` (every
    combination), ``every-cosine`` (every no-regressor combination), comma-separated lists."""
    presets = load_presets()
    chosen: list[Protocol] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        if item.lower() in ALIASES:
            warn(f"--protocol {item!r} is deprecated (it reads like the 'all' aggregation); "
                 f"use {ALIASES[item.lower()]!r}")
            item = ALIASES[item.lower()]
        if item == EVERY:
            found = every_combination()
        elif item == EVERY_COSINE:  # scoring only, no regressor training
            found = [p for p in every_combination() if p.regressor == "none"]
        elif item in presets:
            found = list(presets[item].protocols)
        else:
            try:
                found = [Protocol.parse(item)]
            except ProtocolError:
                valid = sorted(presets) + [p.key for p in every_combination()] + [EVERY,
                                                                                  EVERY_COSINE]
                raise ProtocolError(f"unknown protocol {item!r}; valid: {', '.join(valid)}"
                                    ) from None
        for proto in found:
            if all(p.key != proto.key for p in chosen):
                chosen.append(proto)
    if not chosen:
        raise ProtocolError("no protocol given")
    return chosen


def parse_one(text: str) -> Protocol:
    """A spelled form, or a preset that names exactly one protocol (``compare --protocol``)."""
    presets = load_presets()
    if text in presets:
        protos = presets[text].protocols
        if len(protos) != 1:
            raise ProtocolError(f"preset {text!r} names {len(protos)} protocols "
                                f"({', '.join(p.key for p in protos)}); give one")
        return protos[0]
    try:
        return Protocol.parse(text)
    except ProtocolError:
        raise ProtocolError(f"unknown protocol {text!r}; valid: {', '.join(sorted(presets))}, "
                            f"or AGGREGATION-METRIC[-reg] such as all-spearman") from None


# ------------------------------------------------------------------------ transfer tasks

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
        _check_choice("transfer classifier setting", self.config, CONFIGS)
        _check_choice("transfer classifier", self.classifier, CLASSIFIERS)

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
