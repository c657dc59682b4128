"""A task's record (``TaskMetadata``) and how its files are read (``Reader``): what the
built-in catalog (``bench.tasks.catalog``), task files and plugins declare, and what the
registry (``bench.tasks.registry``) holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.family import check_family


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
    family: str  # a registered family (bench.family.FAMILIES): "sts", "transfer", ...
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

    def __post_init__(self) -> None:
        check_family(self.family, self.name)  # a typo fails where the task is declared

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
