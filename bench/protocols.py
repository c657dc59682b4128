"""STS evaluation protocols as values: (regressor, metric, aggregation).

The SimCSE paper (appendix B, Table B.1) shows that published STS numbers differ silently in
these three choices. A Protocol names all three; presets in ``protocols/*.toml`` say which
paper used which. Users type a preset name (``simcse``), a spelled form (``all-spearman``,
``wmean-pearson``, ``mean-pearson-reg``), a comma-separated list, ``every`` for every
combination or ``every-cosine`` for the six without a regressor. ``Protocol.parse`` is the
only parser of a spelled form; the axes' values come from the modules that implement them
(the ``metric`` and ``aggregation`` registries ``bench.correlation.METRICS`` and
``bench.aggregation.AGGREGATIONS``: a registered entry is a valid axis value at once).
Transfer-task protocols live in ``bench.transfer_protocol`` (re-exported here).
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bench.aggregation import AGGREGATIONS
from bench.correlation import METRICS
from bench.errors import ProtocolError, warn
from bench.resources import resource_dir
from bench.transfer_protocol import (  # transfer protocols, re-exported for old importers
    CLASSIFIERS,
    CONFIGS,
    DEFAULT_TRANSFER_SEED,
    SKLEARN_C,
    SKLEARN_C_KFOLD,
    TORCH_L2,
    TRANSFER_BASE,
    TRANSFER_PRESETS,
    ClassifierConfig,
    TransferProtocol,
    check_choice,
    every_transfer,
    load_transfer_presets,
    parse_transfer,
    with_source,
)

__all__ = [
    "ALIASES", "DEFAULT_TASKS", "EVERY", "EVERY_COSINE", "REGRESSORS", "REGRESSOR_SELECTIONS",
    "REGRESSOR_SUFFIX", "Preset", "Protocol", "every_combination", "load_presets",
    "parse_one", "parse_protocols", "preset_tasks",
    # moved to bench.transfer_protocol (Core v2); kept importable from here
    "CLASSIFIERS", "CONFIGS", "DEFAULT_TRANSFER_SEED", "SKLEARN_C", "SKLEARN_C_KFOLD",
    "TORCH_L2", "TRANSFER_BASE", "TRANSFER_PRESETS", "ClassifierConfig", "TransferProtocol",
    "every_transfer", "load_transfer_presets", "parse_transfer", "with_source",
]

REGRESSORS = ("none", "senteval")  # senteval: SentEval's relatedness regressor (bench.tasks.regressor)
REGRESSOR_SUFFIX = {"none": "", "senteval": "-reg"}
REGRESSOR_SELECTIONS = ("pearson", "spearman")  # dev metric that picks the regressor's epoch
EVERY, EVERY_COSINE = "every", "every-cosine"
# Deprecated spellings: "all" is also an aggregation, so "--protocol all" could be misread.
ALIASES = {"all": EVERY, "all-cosine": EVERY_COSINE}


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
        check_choice("metric", self.metric, METRICS)
        check_choice("aggregation", self.aggregation, AGGREGATIONS)
        check_choice("regressor", self.regressor, REGRESSORS)

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
