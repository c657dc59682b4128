"""Task families as registered entries: what a family owns beyond evaluating its tasks.

A family (``sts``, ``transfer``, or a plugin's: pair classification, retrieval ...) owns

- its result payload: the family's fields of a task's JSON (``payload_to_dict`` /
  ``payload_from_dict``), so the report format needs no edit for a new family;
- its rows: the numbers one report shows for its tasks (``values``; STS under a protocol);
- its table for ``bench compare`` and the HTML page (``table``; ``bench.compare.tables.
  family_tables`` calls it; the default is one accuracy-style column per task plus Avg.);
- its mean over training seeds (``mean``);
- evaluation of its loaded tasks on their embeddings (``evaluate``).

``FAMILIES`` is the ``family`` registry; ``TaskMetadata.family`` is checked against it when a
task is declared. The built-in families are lazy entries (``bench.tasks.families``), so this
module imports nothing of bench but the registry and stays below the report schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bench.registry import Registry, RegistryError, suggest


class Family:
    """The interface, with defaults for a family whose payload is a JSON object of numbers
    stored under the family's name and whose row is its ``main_score`` per task."""

    name: str = ""
    title: str = ""  # the heading of its table ("Pair classification (accuracy)")
    # True: compare and the page draw the family's table themselves, with protocols and
    # intervals (STS, transfer); ``family_tables`` leaves it out
    own_table: bool = False
    # True: the family's numbers depend on the STS protocol (score rows hold them)
    by_protocol: bool = False

    # -- the result payload -------------------------------------------------------------
    def payload_to_dict(self, task: Any) -> dict[str, Any]:
        """The family's fields of the task's JSON object (merged after the common ones)."""
        return {self.name: task.payload} if task.payload is not None else {}

    def payload_from_dict(self, task: Any, data: Mapping[str, Any], where: str) -> None:
        """Read the family's fields of ``data`` into ``task`` (one-line ReportError)."""
        task.payload = data.get(self.name)

    # -- rows, table, seeds ----------------------------------------------------------------
    def values(self, tasks: Mapping[str, Any], protocol: Any = None) -> dict[str, float] | None:
        """The number each of the family's tasks shows (points), in task order; None when
        one of them cannot give it under ``protocol``."""
        return {k: float(t.main_score) for k, t in tasks.items()
                if t.family == self.name and t.main_score is not None}

    def table(self, rows: list[Any]) -> Any:
        """A ``bench.compare.tables.Table`` of ``rows`` (compare's rows), or None for the
        default table that ``bench.compare.tables.family_tables`` draws."""
        return None

    def mean(self, tasks: list[Any], out: Any) -> None:
        """Fill ``out`` (the seed-mean task result, header set) from the per-seed results:
        by default every number of the payload averaged over seeds."""
        first = tasks[0].payload
        if isinstance(first, dict):
            out.payload = {k: (float(np.mean([t.payload[k] for t in tasks]))
                               if isinstance(v, (int, float)) and not isinstance(v, bool)
                               else v) for k, v in first.items()}

    def evaluate(self, tasks: list[Any], views: dict[str, Any], ctx: Any) -> dict[str, Any]:
        """One ``TaskResult`` per task, keyed by task name, in the order of ``tasks``."""
        raise NotImplementedError


FAMILIES: Registry[Family] = Registry("family", group="bench.families")
FAMILIES.register("sts", "bench.tasks.families:STS")
FAMILIES.register("transfer", "bench.tasks.families:TRANSFER")


def family(name: str) -> Family:
    """The registered family ``name`` (one line naming the valid ones otherwise)."""
    return FAMILIES.get(name)


def check_family(name: str, task: str) -> None:
    """A task's declared family must be registered: one line naming the task and the valid
    families (instead of a KeyError in the runner)."""
    if name not in FAMILIES:
        raise RegistryError(f"task {task!r}: unknown family {name!r}"
                            f"{suggest(name, FAMILIES.names())}; valid: "
                            f"{', '.join(FAMILIES.names())}")
