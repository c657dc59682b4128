"""STS evaluation protocols as values: (regressor, metric, aggregation).

The SimCSE paper (appendix B) shows published STS numbers differ silently in these three
choices. A Protocol names all three; presets in ``protocols/*.toml`` say which paper used
which. Users type a preset name (``simcse``), a spelled form (``all-spearman``,
``wmean-pearson``), a comma-separated list, or ``all`` for every combination.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bench.errors import ProtocolError
from bench.resources import resource_dir

METRICS = ("spearman", "pearson")
AGGREGATIONS = ("all", "mean", "wmean")
REGRESSORS = ("none", "senteval")  # senteval: SentEval's relatedness regressor (bench.tasks.regressor)
REGRESSOR_SELECTIONS = ("pearson", "spearman")  # dev metric that picks the regressor's epoch


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
        if self.metric not in METRICS:
            raise ProtocolError(f"unknown metric {self.metric!r}; valid: {', '.join(METRICS)}")
        if self.aggregation not in AGGREGATIONS:
            raise ProtocolError(f"unknown aggregation {self.aggregation!r}; "
                                f"valid: {', '.join(AGGREGATIONS)}")
        if self.regressor not in REGRESSORS:
            raise ProtocolError(f"unknown regressor {self.regressor!r}; "
                                f"valid: {', '.join(REGRESSORS)}")

    @property
    def key(self) -> str:
        """The spelled form, e.g. ``all-spearman`` or ``mean-pearson-reg``."""
        suffix = "" if self.regressor == "none" else "-reg"
        return f"{self.aggregation}-{self.metric}{suffix}"

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "metric": self.metric, "aggregation": self.aggregation,
                "regressor": self.regressor, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Protocol:
        return cls(data["metric"], data["aggregation"], data.get("regressor", "none"),
                   data.get("source", ""))


@dataclass(frozen=True)
class Preset:
    name: str
    protocols: tuple[Protocol, ...]
    source: str
    description: str
    path: Path


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
        name = data.get("name", path.stem)
        presets[name] = Preset(name, protos, source, data.get("description", ""), path)
    return presets


def parse_spelled(text: str) -> Protocol | None:
    """``all-spearman`` / ``wmean-pearson`` / ``mean-pearson-reg``; None if not that shape."""
    parts = text.lower().split("-")
    regressor = "none"
    if parts and parts[-1] == "reg":
        regressor = "senteval"
        parts = parts[:-1]
    if len(parts) == 2 and parts[0] in AGGREGATIONS and parts[1] in METRICS:
        return Protocol(parts[1], parts[0], regressor)
    return None


def parse_protocols(text: str) -> list[Protocol]:
    """Parse what follows ``--protocol``: presets, spelled forms, ``all`` (every combination),
    ``all-cosine`` (every no-regressor combination), comma-separated lists."""
    presets = load_presets()
    chosen: list[Protocol] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        if item == "all":
            found = every_combination()
        elif item == "all-cosine":  # the six no-regressor combinations: scoring only, no training
            found = [p for p in every_combination() if p.regressor == "none"]
        elif item in presets:
            found = list(presets[item].protocols)
        else:
            spelled = parse_spelled(item)
            if spelled is None:
                valid = sorted(presets) + [p.key for p in every_combination()] + ["all", "all-cosine"]
                raise ProtocolError(f"unknown protocol {item!r}; valid: {', '.join(valid)}")
            found = [spelled]
        for proto in found:
            if all(p.key != proto.key for p in chosen):
                chosen.append(proto)
    if not chosen:
        raise ProtocolError("no protocol given")
    return chosen
