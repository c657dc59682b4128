"""The typed run report (schema 2): dataclasses and their JSON.

One unit throughout: **points** (correlations x 100, accuracies in %), as the paper prints
them; the regressor's ``mse`` is in gold-score units. Paths are relative to the data folder
or omitted. Per-pair similarities (and the regressor's test predictions) live in a sidecar
``<report>.pairs.npz`` that the JSON references by file name and sha256, so a report stays
small and readable while ``compare`` and the bootstrap can still recompute any aggregation.
Only the scored parts' pairs are kept (STS12-16 subsets, STS-B / SICK-R test). The sidecar's
I/O is ``bench.pairs``; published tables are read by ``bench.literature``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from typing import Any, TypeVar

import numpy as np

from bench.correlation import LEGACY_TIES, STORED_METRICS, TIE_RULES, TIES
from bench.errors import BenchError
from bench.family import family
from bench.protocols import Protocol
from bench.scoring import Average, average, row
from bench.transfer_protocol import TransferProtocol, with_source

RUN_SCHEMA = 2
LITERATURE_SCHEMA = 1
UNITS = "points (correlation x 100, accuracy in %); regression mse in gold-score units"


class ReportError(BenchError):
    """A report file that cannot be read: one line naming the file and the field."""


def number(value: Any) -> float:
    """A stored number; null (how strict JSON stores a computed NaN) reads back as nan."""
    return float("nan") if value is None else float(value)


def need(data: Any, key: str, where: str, kind: type | tuple[type, ...] = object) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise ReportError(f"{where}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind):
        raise ReportError(f"{where}: field {key!r} has the wrong type "
                          f"({type(value).__name__})")
    return value


# ------------------------------------------------------------------------------- task results

def _read_metrics(data: dict[str, Any], skip: tuple[str, ...]) -> dict[str, float]:
    """Stored metric values by name: the two every report stores, then any other number (a
    registered metric's value, say Kendall's tau), in the file's order."""
    out = {m: number(data[m]) for m in STORED_METRICS}
    out.update({k: number(v) for k, v in data.items()
                if k not in out and k not in skip and isinstance(v, (int, float))
                and not isinstance(v, bool)})
    return out


class _ByMetric:
    """Metric values stored by name in ``metrics``; ``result.pearson`` reads ``metrics``."""

    metrics: dict[str, float]

    def __getattr__(self, name: str) -> float:
        metrics = self.__dict__.get("metrics")
        if metrics is not None and name in metrics:
            return metrics[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def value(self, metric: str) -> float | None:
        """The stored value of ``metric`` in points; None when the report did not store it."""
        value = self.metrics.get(metric)
        return None if value is None else float(value)


@dataclass
class PartResult(_ByMetric):
    """One STS subset or split: pair count and every registered metric of cosine with gold
    (points, by name; ``pearson`` and ``spearman`` always)."""

    n: int
    pearson: InitVar[float | None] = None
    spearman: InitVar[float | None] = None
    sim: np.ndarray | None = None  # per-pair cosine (sidecar)
    gold: np.ndarray | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def __post_init__(self, pearson: float | None, spearman: float | None) -> None:
        given = {"pearson": pearson, "spearman": spearman}
        self.metrics = {**{k: v for k, v in given.items() if v is not None}, **self.metrics}

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, **self.metrics}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartResult:
        return cls(int(data["n"]), metrics=_read_metrics(data, ("n",)))


# The init-only defaults above would shadow ``metrics`` as class attributes (``part.pearson``).
del PartResult.pearson, PartResult.spearman


_REGRESSION_AFTER = ("mse", "n", "dev", "dev_n", "epochs", "best_epoch", "dev_curve",
                     "below_one_train", "wall_s")


@dataclass
class RegressionResult(_ByMetric):
    """SentEval's relatedness regressor on a supervised STS task (see bench.tasks.regressor):
    every registered metric of its test predictions against gold (points, by name)."""

    selection: str
    label_fix: bool
    seed: int
    pearson: InitVar[float | None]  # points, test predictions against gold
    spearman: InitVar[float | None]
    mse: float
    n: int
    dev: float  # points, best dev correlation under ``selection``
    dev_n: int
    epochs: int
    best_epoch: int
    dev_curve: list[float]  # points, per chunk of 50 epochs
    below_one_train: int
    wall_s: float
    yhat: np.ndarray | None = None  # test predictions, in SentEval's sorted order (sidecar)
    gold: np.ndarray | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    _ARRAYS = ("yhat", "gold")

    def __post_init__(self, pearson: float | None, spearman: float | None) -> None:
        given = {"pearson": pearson, "spearman": spearman}
        self.metrics = {**{k: v for k, v in given.items() if v is not None}, **self.metrics}

    def to_dict(self) -> dict[str, Any]:
        head = {"selection": self.selection, "label_fix": self.label_fix, "seed": self.seed}
        return {**head, **self.metrics, **{k: getattr(self, k) for k in _REGRESSION_AFTER}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegressionResult:
        skip = ("selection", "label_fix", "seed", *_REGRESSION_AFTER)
        metrics = _read_metrics({"pearson": None, "spearman": None, **data}, skip)
        return cls(data["selection"], data["label_fix"], data["seed"], None, None,
                   *(data[k] for k in _REGRESSION_AFTER), metrics=metrics)


@dataclass
class TransferResult:
    """One SentEval transfer task: test and dev accuracy (points), MRPC's F1, and details."""

    acc: float
    devacc: float
    ndev: int
    ntest: int
    f1: float | None = None
    details: dict[str, Any] = field(default_factory=dict)  # l2, folds, classifier, config ...

    def to_dict(self) -> dict[str, Any]:
        out = {"acc": self.acc, "devacc": self.devacc, "ndev": self.ndev, "ntest": self.ntest}
        if self.f1 is not None:
            out["f1"] = self.f1
        return {**out, **self.details}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransferResult:
        core = ("acc", "devacc", "ndev", "ntest", "f1")
        try:
            return cls(float(data["acc"]), float(data.get("devacc", "nan")),
                       int(data.get("ndev", 0)), int(data.get("ntest", 0)), data.get("f1"),
                       {k: v for k, v in data.items() if k not in core})
        except (KeyError, TypeError, ValueError):
            raise ReportError(f"transfer result {data!r:.80}: needs a numeric 'acc'") from None


@dataclass
class TaskResult:
    """Everything a run measured on one task, with the task definition it used."""

    name: str
    family: str
    version: int = 1
    eval_parts: tuple[str, ...] = ("test",)
    supervised: bool = False
    main_score: float | None = None  # points: the run's first protocol (STS), accuracy
    eval_s: float = 0.0
    files: dict[str, str] = field(default_factory=dict)  # path in the data folder -> sha256
    parts: dict[str, PartResult] = field(default_factory=dict)
    regression: RegressionResult | None = None
    transfer: TransferResult | None = None
    # STS: {"cosine"|"euclidean"|"manhattan": {"pearson", "spearman"}} in points over the
    # scored parts pooled (what MTEB stores besides its main score); empty when not measured
    similarities: dict[str, dict[str, float]] = field(default_factory=dict)
    # the payload of a family that keeps no fields above (a plugin's: pair classification)
    payload: Any = None
    # the tie rule its rank correlations were scored under (bench.correlation); a report
    # that names none was scored before the rule existed: exact
    ties: str = TIES

    def to_dict(self) -> dict[str, Any]:
        """The common fields, then the family's payload (``bench.family.Family``)."""
        out: dict[str, Any] = {"family": self.family, "version": self.version,
                               "main_score": self.main_score, "eval_s": self.eval_s,
                               "files": self.files}
        if family(self.family).by_protocol and self.ties != LEGACY_TIES:
            out["ties"] = self.ties  # absent: the legacy rule (a report re-saves as it was)
        return {**out, **family(self.family).payload_to_dict(self)}

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any], where: str) -> TaskResult:
        family_name = need(data, "family", where, str)
        try:
            owner = family(family_name)
        except BenchError as exc:
            raise ReportError(f"{where}: {exc}") from None
        task = cls(name, family_name, int(data.get("version", 1)),
                   tuple(data.get("eval_parts", ("test",))), bool(data.get("supervised")),
                   data.get("main_score"), float(data.get("eval_s", 0.0)),
                   dict(data.get("files", {})))
        task.ties = data.get("ties", LEGACY_TIES)
        if task.ties not in TIE_RULES:
            raise ReportError(f"{where}: ties {task.ties!r} is not a tie rule "
                              f"({', '.join(TIE_RULES)})")
        owner.payload_from_dict(task, data, where)
        return task


def read_sts_payload(task: TaskResult, data: dict[str, Any], where: str) -> None:
    """An STS task's parts, regressor result and pooled similarities from its JSON."""
    for part, values in (data.get("parts") or {}).items():
        try:
            task.parts[part] = PartResult.from_dict(values)
        except (KeyError, TypeError, ValueError):
            raise ReportError(f"{where}: parts[{part!r}] needs n, pearson, spearman") from None
    if data.get("regression"):
        try:
            task.regression = RegressionResult.from_dict(data["regression"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(f"{where}: unreadable 'regression' ({exc})") from None
    sims = data.get("similarities") or {}
    try:
        task.similarities = {k: {m: float(v[m]) for m in ("pearson", "spearman")}
                             for k, v in sims.items()}
    except (KeyError, TypeError, ValueError):
        raise ReportError(f"{where}: 'similarities' needs pearson and spearman per "
                          f"similarity") from None


def read_transfer_payload(task: TaskResult, data: dict[str, Any], where: str) -> None:
    """A transfer task's accuracies and details from its JSON."""
    if data.get("transfer"):
        task.transfer = TransferResult.from_dict(data["transfer"])


# ---------------------------------------------------------------------------------- the model

@dataclass
class ModelRecord:
    """What the report says about the encoder; the fields MTEB's ModelMeta has where known."""

    name: str
    requested: str
    spec: dict[str, Any]
    fingerprint: str
    revision: str | None = None
    embedding_dim: int | None = None
    n_parameters: int | None = None
    max_tokens: int | None = None
    similarity: str = "cosine"
    training_data: list[str] | None = None  # None: unknown; [] : none (untrained or frozen)
    extra: dict[str, Any] = field(default_factory=dict)  # post-processor fits, ...

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> ModelRecord:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known.setdefault("requested", data.get("name", "?"))
        for key in ("name", "spec", "fingerprint"):
            need(data, key, f"{where}: model", object)
        return cls(**known)


# --------------------------------------------------------------------------- task-keyed maps

V = TypeVar("V")
# The task registry (a layer above) sets this on import: a task name or alias -> the name a
# report stores. Reading a report imports it, so a loaded report always resolves aliases.
_task_name: Callable[[str], str] = str


def set_task_names(canonical: Callable[[str], str]) -> None:
    """Let task-keyed maps read a task by any alias (called by ``bench.tasks.registry``)."""
    global _task_name
    _task_name = canonical


class ByTask(dict[str, V]):
    """A dict keyed by registered task names (``STSBenchmark``) that also reads by any alias
    (``STS-B``, ``stsb``), as tables print them. What is stored, iterated and written to JSON
    is unchanged: only look-ups of a key it does not hold try the task's registered name."""

    def _key(self, key: object) -> object:
        if isinstance(key, str) and not dict.__contains__(self, key):
            return _task_name(key)
        return key

    def __missing__(self, key: str) -> V:
        name = self._key(key)
        if name != key and dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, self._key(key))

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[key] if key in self else default


# ----------------------------------------------------------------------------------- the run

@dataclass
class ProtocolScores:
    protocol: Protocol
    values: dict[str, float]
    average: Average | None

    def __post_init__(self) -> None:
        self.values = ByTask(self.values)  # values["STS-B"] reads STSBenchmark

    def to_dict(self) -> dict[str, Any]:
        return {"protocol": self.protocol.to_dict(), "values": self.values,
                "average": self.average.to_dict() if self.average else None}


def score_protocols(tasks: dict[str, TaskResult], protocols: list[Protocol]
                    ) -> list[ProtocolScores]:
    """Every protocol the results can give, through the one scorer."""
    out = []
    for proto in protocols:
        values = row(tasks, proto)
        if values:
            out.append(ProtocolScores(proto, values, average(values)))
    return out


def mean_scores(per_seed: list[ProtocolScores]) -> ProtocolScores:
    """Each task's number averaged over seeds; Avg. through the one scorer's ``average``."""
    first = per_seed[0]
    values = {t: float(np.mean([s.values[t] for s in per_seed])) for t in first.values}
    return ProtocolScores(first.protocol, values, average(values))


@dataclass
class SeedStat:
    """One number over training seeds: per-seed values (points), mean, sample sd, and the
    seed-and-test-set interval (bench.seeds) where per-pair data allowed one."""

    values: list[float]
    mean: float
    sd: float  # ddof=1; nan with a single seed
    ci: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"values": self.values, "mean": self.mean, "sd": self.sd,
                "ci": list(self.ci) if self.ci is not None else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeedStat:
        ci = data.get("ci")
        return cls([number(v) for v in data["values"]], number(data["mean"]),
                   number(data["sd"]), (number(ci[0]), number(ci[1])) if ci else None)


@dataclass
class SeedRun:
    """One training seed's evaluation: its model and its own task results and scores."""

    seed: int
    path: str
    model: ModelRecord
    tasks: dict[str, TaskResult]
    scores: list[ProtocolScores]
    transfer_average: Average | None = None

    def __post_init__(self) -> None:
        self.tasks = ByTask(self.tasks)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "path": self.path, "model": self.model.to_dict(),
                "scores": [s.to_dict() for s in self.scores],
                "transfer_average": (self.transfer_average.to_dict()
                                     if self.transfer_average else None),
                "tasks": {k: t.to_dict() for k, t in self.tasks.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> SeedRun:
        seed = int(need(data, "seed", where))
        at = f"{where}[seed {seed}]"
        tasks = {name: TaskResult.from_dict(name, t, f"{at}: tasks[{name!r}]")
                 for name, t in need(data, "tasks", at, dict).items()}
        scores = _read_scores(need(data, "scores", at, list), at)
        tavg = data.get("transfer_average")
        return cls(seed, str(data.get("path", "")),
                   ModelRecord.from_dict(need(data, "model", at, dict), at), tasks, scores,
                   Average.from_dict(tavg) if tavg else None)


@dataclass
class SeedSection:
    """The per-seed part of a multi-seed report (``bench run --model runs/NAME`` over a
    ``--seeds`` folder). ``summary``: protocol key -> task (or "avg") -> SeedStat; ``transfer``:
    task (or "avg") -> accuracy SeedStat; ``interval``: how the intervals were computed."""

    seeds: list[int]
    runs: list[SeedRun]
    summary: dict[str, dict[str, SeedStat]]
    transfer: dict[str, SeedStat] = field(default_factory=dict)
    interval: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"seeds": self.seeds, "interval": self.interval,
                "summary": {k: {t: st.to_dict() for t, st in v.items()}
                            for k, v in self.summary.items()},
                "transfer": {t: st.to_dict() for t, st in self.transfer.items()},
                "runs": [r.to_dict() for r in self.runs]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> SeedSection:
        at = f"{where}: seeds"
        try:
            runs = [SeedRun.from_dict(r, at) for r in need(data, "runs", at, list)]
            summary = {k: {t: SeedStat.from_dict(st) for t, st in v.items()}
                       for k, v in need(data, "summary", at, dict).items()}
            transfer = {t: SeedStat.from_dict(st) for t, st in (data.get("transfer") or {}).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(f"{at}: unreadable per-seed section ({exc})") from None
        seeds = [int(s) for s in need(data, "seeds", at, list)]
        if seeds != [r.seed for r in runs]:
            raise ReportError(f"{at}: 'seeds' does not match the seeds of 'runs'")
        return cls(seeds, runs, summary, transfer, dict(data.get("interval") or {}))


def _read_scores(items: list[Any], where: str) -> list[ProtocolScores]:
    """Stored scores; a null Avg. beside task values is their mean again (what bench stores),
    so a table never meets a row with values but no average."""
    try:
        out = []
        for s in items:
            values = {k: number(v) for k, v in s["values"].items()}
            avg = Average.from_dict(s["average"]) if s.get("average") else average(values)
            out.append(ProtocolScores(Protocol.from_dict(s["protocol"]), values, avg))
        return out
    except (KeyError, TypeError, ValueError, BenchError) as exc:
        raise ReportError(f"{where}: unreadable protocols or scores ({exc})") from None


@dataclass
class RunReport:
    model: ModelRecord
    protocols: list[Protocol]
    tasks: dict[str, TaskResult]
    scores: list[ProtocolScores]
    data: dict[str, Any]
    run: dict[str, Any]
    environment: dict[str, Any]
    timings: dict[str, Any]
    created: str
    bench_version: str
    transfer_average: Average | None = None
    notes: list[str] = field(default_factory=list)
    pairs_file: dict[str, str] | None = None  # {"file": ..., "sha256": ...} once written
    transfer_protocol: TransferProtocol | None = None  # set when the run has transfer tasks
    schema_version: int = RUN_SCHEMA
    kind: str = "run"
    seeds: SeedSection | None = None  # a multi-seed report: top-level numbers are seed means
    # reports of the embedding variants scored from this run's vectors (bench.variants):
    # each is written as its own report, never inside this one
    variants: list[RunReport] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.tasks = ByTask(self.tasks)  # tasks["SICK-R"] reads SICKRelatedness

    # -- views --------------------------------------------------------------------------
    def sts_tasks(self) -> dict[str, TaskResult]:
        """The tasks whose numbers depend on the STS protocol (the STS family's)."""
        return {k: t for k, t in self.tasks.items() if family(t.family).by_protocol}

    def transfer_tasks(self) -> dict[str, TaskResult]:
        return {k: t for k, t in self.tasks.items() if t.transfer is not None}

    def score(self, protocol: Protocol) -> ProtocolScores | None:
        """Stored scores under ``protocol``, else recomputed from the stored parts (a
        multi-seed report: from each seed's parts, then averaged over seeds)."""
        for s in self.scores:
            if s.protocol.key == protocol.key:
                return s
        if self.seeds is not None:
            per_seed = self.seed_scores(protocol)
            return mean_scores(per_seed) if per_seed else None
        values = row(self.sts_tasks(), protocol)
        return ProtocolScores(protocol, values, average(values)) if values else None

    def seed_scores(self, protocol: Protocol) -> list[ProtocolScores] | None:
        """Each seed's scores under ``protocol`` (stored, else recomputed from its parts), in
        seed order; None for a single-seed report or when a seed cannot give them."""
        if self.seeds is None:
            return None
        out = []
        for run in self.seeds.runs:
            got = next((s for s in run.scores if s.protocol.key == protocol.key), None)
            if got is None:
                values = row(run.tasks, protocol)
                if not values:
                    return None
                got = ProtocolScores(protocol, values, average(values))
            out.append(got)
        return out

    @property
    def has_pairs(self) -> bool:
        return bool(self.sts_tasks()) and all(
            p.sim is not None for t in self.sts_tasks().values()
            for name, p in t.parts.items() if name in t.eval_parts)

    # -- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version, "kind": self.kind,
            "bench_version": self.bench_version, "created": self.created, "units": UNITS,
            "model": self.model.to_dict(),
            "protocols": [p.to_dict() for p in self.protocols],
            "scores": [s.to_dict() for s in self.scores],
            "transfer_average": (self.transfer_average.to_dict()
                                 if self.transfer_average else None),
            "transfer_protocol": (self.transfer_protocol.to_dict()
                                  if self.transfer_protocol else None),
            "tasks": {k: t.to_dict() for k, t in self.tasks.items()},
            "data": self.data, "run": self.run, "environment": self.environment,
            "timings": self.timings, "notes": self.notes, "pairs": self.pairs_file,
            **({"seeds": self.seeds.to_dict()} if self.seeds is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> RunReport:
        tasks_data = need(data, "tasks", where, dict)
        tasks = {name: TaskResult.from_dict(name, t, f"{where}: tasks[{name!r}]")
                 for name, t in tasks_data.items()}
        try:
            protocols = [Protocol.from_dict(p) for p in need(data, "protocols", where, list)]
        except (KeyError, TypeError, ValueError, BenchError) as exc:
            raise ReportError(f"{where}: unreadable protocols or scores ({exc})") from None
        scores = _read_scores(need(data, "scores", where, list), where)
        tavg = data.get("transfer_average")
        run = dict(data.get("run") or {})
        seeds = data.get("seeds")
        return cls(ModelRecord.from_dict(need(data, "model", where, dict), where), protocols,
                   tasks, scores, dict(data.get("data") or {}), run,
                   dict(data.get("environment") or {}), dict(data.get("timings") or {}),
                   str(data.get("created", "")), str(data.get("bench_version", "?")),
                   Average.from_dict(tavg) if tavg else None, list(data.get("notes") or []),
                   data.get("pairs"),
                   read_transfer_protocol(data.get("transfer_protocol"), run, tasks, where),
                   seeds=SeedSection.from_dict(seeds, where) if seeds is not None else None)


def read_transfer_protocol(stored: Any, run: dict[str, Any], tasks: dict[str, TaskResult],
                           where: str) -> TransferProtocol | None:
    """A run's transfer protocol: the stored one, else what its run options say (reports
    written before the field existed record ``run.transfer_config`` / ``run.classifier``);
    None without transfer tasks, or when neither says (unknown: never ranked)."""
    if not any(t.transfer is not None for t in tasks.values()):
        return None
    try:
        if isinstance(stored, dict):
            return TransferProtocol.from_dict(stored)
        found = TransferProtocol.from_run(run)
    except (KeyError, TypeError, ValueError, BenchError) as exc:
        raise ReportError(f"{where}: unreadable transfer protocol ({exc})") from None
    return with_source(found) if found is not None else None  # None: unknown
