"""The task registry: one declarative record per task, looked up by name, alias or set.

A record (``TaskMetadata``) says everything bench needs to know about a dataset: its family
(which evaluation applies), the files it reads and how, its parts (STS subsets or splits) and
which of them are scored or used for training, the score range, the expected sizes, a
citation and a ``version`` that is bumped whenever the reader changes what it yields. This
mirrors MTEB's ``TaskMetadata`` and lm-evaluation-harness's task YAML: adding a dataset of an
existing family is one ``register(TaskMetadata(...))`` (plus its sha256 lines in
``bench/data/manifest.tsv``); no other module names tasks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.errors import DataError, warn


class Reader(Protocol):
    """How a task's files become a task object (``StsTask`` or ``TransferTask``)."""

    def files(self) -> tuple[str, ...]:
        """Every file the reader opens, relative to the data folder (``downstream/``)."""

    def load(self, data_dir: Path, meta: TaskMetadata) -> Any:
        """Read the files below ``data_dir``; one-line ``DataError`` naming file and line."""


@dataclass(frozen=True)
class TaskMetadata:
    """One task. ``parts`` are the STS subsets (scored together under an aggregation) or the
    splits; ``eval_parts`` the ones a score is computed on; ``train_split``/``dev_split`` name
    the supervised splits (a regressor protocol trains on them), if any."""

    name: str
    family: str  # "sts" | "transfer"
    reader: Reader
    display_name: str = ""
    aliases: tuple[str, ...] = ()
    parts: tuple[str, ...] = ("test",)
    eval_parts: tuple[str, ...] = ("test",)
    train_split: str | None = None
    dev_split: str | None = None
    score_range: tuple[float, float] | None = None
    sizes: dict[str, int] = field(default_factory=dict)  # kept pairs / samples per part
    metrics: tuple[str, ...] = ()  # transfer: what is reported besides accuracy ("f1")
    citation: str = ""
    description: str = ""
    version: int = 1
    # tasks over one corpus with different pairs or splits (SentEval's SICK-R, MTEB's SICK-R
    # on all pairs) share it: compare refuses to hold one against the other
    corpus: str = ""
    # False: selected by name only, never through its family's set or "every" (a variant
    # such as MTEB's SICK-R over all pairs, which would otherwise change every default run)
    listed: bool = True
    origin: Path | None = None  # the task file that declared it (None: built in)
    notes: tuple[str, ...] = ()  # caveats a run report carries whenever the task is evaluated

    @property
    def label(self) -> str:
        """The column heading of the paper's tables (STS-B, SICK-R, SST)."""
        return self.display_name or self.name

    @property
    def supervised(self) -> bool:
        return self.train_split is not None and self.dev_split is not None

    @property
    def subsets(self) -> bool:
        """True when several parts are scored together (STS12-16): aggregations differ."""
        return len(self.eval_parts) > 1

    def files(self) -> tuple[str, ...]:
        return self.reader.files()

    def load(self, data_dir: Path) -> Any:
        return self.reader.load(data_dir, self)

    def to_dict(self) -> dict[str, Any]:
        """What a report records about the task definition."""
        return {"name": self.name, "family": self.family, "version": self.version,
                "parts": list(self.parts), "eval_parts": list(self.eval_parts),
                "train_split": self.train_split, "dev_split": self.dev_split,
                "score_range": list(self.score_range) if self.score_range else None,
                "citation": self.citation,
                **({"task_file": self.origin.name} if self.origin is not None else {})}


_TASKS: dict[str, TaskMetadata] = {}
# Named task sets. "every" is the whole registry; "all" is kept as a deprecated alias because
# "all" is also an STS aggregation and must not be read as one. Tasks from task files join the
# set "user", not their family's: "sts" stays the paper's seven tasks.
_SETS: dict[str, tuple[str, ...]] = {}
USER_SET = "user"
SET_ALIASES = {"all": "every"}
# A task name becomes a report key, a column heading, a file name in exports and a CSS/HTML
# token on the page: ASCII letters, digits, '.', '_' and '-' only, starting with a letter or
# digit (every built-in name and alias fits), at most 64 characters.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_name(name: str, what: str = "task name") -> str:
    """``name`` if it is a safe task name, else a one-line DataError saying why."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise DataError(f"{what} {name!r} must be 1-64 ASCII letters, digits, '.', '_' or '-', "
                        f"starting with a letter or digit")
    return name


def reserved_names(family: str = "") -> set[str]:
    """Lower-cased set names (``sts``, ``transfer``, ``user``, ``every``, ``all``): --tasks
    reads these as sets before task names, so a task of that name could never be selected."""
    return {n.lower() for n in (*_SETS, family, USER_SET, "every", *SET_ALIASES) if n}


def register(meta: TaskMetadata, *, replace: bool = False) -> TaskMetadata:
    """Add a task to the registry (``replace`` to redefine one, e.g. in tests)."""
    for n in (meta.name, *meta.aliases):
        check_name(n, "task name" if n == meta.name else "alias")
    shadowed = [n for n in (meta.name, *meta.aliases) if n.lower() in reserved_names(meta.family)]
    if shadowed:
        raise DataError(f"task {meta.name!r}: name or alias {shadowed[0]!r} is the name of a "
                        f"task set, which --tasks would select instead; choose another name")
    taken = {n.lower() for t in _TASKS.values() if t.name != meta.name
             for n in (t.name, *t.aliases)}
    clash = [n for n in (meta.name, *meta.aliases) if n.lower() in taken]
    if clash:
        raise DataError(f"task {meta.name!r}: name or alias {clash[0]!r} is already registered")
    if meta.name in _TASKS and not replace:
        where = _TASKS[meta.name].origin
        raise DataError(f"task {meta.name!r} is already registered"
                        + (f" (by {where})" if where else " (a built-in task)"))
    if not set(meta.eval_parts) <= set(meta.parts):
        raise DataError(f"task {meta.name!r}: eval_parts must be among its parts")
    _TASKS[meta.name] = meta
    group = meta.family if meta.origin is None else USER_SET
    _SETS.setdefault(group, ())
    if meta.listed and meta.name not in _SETS[group]:
        _SETS[group] = (*_SETS[group], meta.name)
    return meta


def unregister(name: str) -> None:
    meta = _TASKS.pop(name)
    group = meta.family if meta.origin is None else USER_SET
    _SETS[group] = tuple(n for n in _SETS[group] if n != name)


def _ensure_catalog() -> None:
    import bench.tasks.catalog  # noqa: F401  (registers the built-in tasks on import)


def tasks() -> dict[str, TaskMetadata]:
    _ensure_catalog()
    return dict(_TASKS)


def set_names() -> dict[str, tuple[str, ...]]:
    """Task sets: one per family (``sts``, ``transfer``) and ``every`` (the listed tasks)."""
    _ensure_catalog()
    return {**{k: v for k, v in _SETS.items() if v},
            "every": tuple(n for n, t in _TASKS.items() if t.listed)}


def valid_names() -> list[str]:
    return [*set_names(), *tasks()]


def get(name: str) -> TaskMetadata:
    """A task by name or alias (case-insensitive), or a one-line error listing valid names."""
    _ensure_catalog()
    wanted = name.lower()
    for meta in _TASKS.values():
        if wanted in (n.lower() for n in (meta.name, *meta.aliases)):
            return meta
    raise DataError(f"unknown task {name!r}; valid: {', '.join(valid_names())}")


def find(name: str) -> TaskMetadata | None:
    try:
        return get(name)
    except DataError:
        return None


def select(names: Iterable[str]) -> list[TaskMetadata]:
    """Sets and task names, in the order given, each task once."""
    sets = set_names()
    out: list[TaskMetadata] = []
    for raw in names:
        key = raw.lower()
        if key in SET_ALIASES:
            warn(f"task set {raw!r} is deprecated (it reads like the 'all' aggregation); "
                 f"use {SET_ALIASES[key]!r}")
            key = SET_ALIASES[key]
        members = [get(n) for n in sets[key]] if key in sets else [get(raw)]
        out.extend(m for m in members if m not in out)
    if not out:
        raise DataError("no tasks selected")
    return out


def load_sts_task(data_dir: Path, name: str) -> Any:
    """Load one registered STS task (by name or alias) from a SentEval ``downstream`` folder."""
    meta = get(name)
    if meta.family != "sts":
        raise DataError(f"task {meta.name!r} is a {meta.family} task, not an STS task")
    return meta.load(data_dir)


def ordered(names: Sequence[str]) -> list[str]:
    """Task names in registry order (the paper's column order), unknown names last."""
    known = [n for n in tasks() if n in names]
    return known + [n for n in names if n not in known]
