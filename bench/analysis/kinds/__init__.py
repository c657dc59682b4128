"""The analyses of ``bench analyze``: one module each, discovered here (as ``bench/perf/`` is).

A module in this package is one analysis. It defines:

- ``NAME``: the sub-command (``bench analyze NAME``); ``HELP``: its one-line help;
- ``add_arguments(parser)``: its own options (the common ones are added by the command); from
  Python (``bench.analyze``) they are keywords named as the flags' destinations, with the
  same defaults, types and choices;
- ``options(args) -> dict``: what the report records of those options, validated here, before
  any data is read or model encoded;
- ``compute(table, sets, options, args, model) -> dict``: the values of one model, from its
  STS-B ``EmbeddingTable``, the ``StsbSets``, the recorded options, its own parameters as a
  Namespace (for what is not recorded) and the model's description so far (``label``, ``fingerprint``, ...).
  Keys starting with ``_`` are handed to ``plot`` but not stored in the report;
- ``rows(entries, options) -> Rows``: the terminal table (a "model" column comes first);
- ``plot(entries, sets, options, path, title)``: the PNG;
- ``title(options, sets) -> str``: the plot's title;
- optionally ``check(sets, options)``: raise ``BenchError`` for options these sets cannot
  satisfy, so that the error comes before the first model is encoded.

``plot``, ``rows`` and ``title`` read the recorded ``options``, not ``args``, so that a figure
can be redrawn from a report alone. Adding an analysis is adding one module; nothing else
names it. The analyses are one :class:`bench.registry.Registry` (``ANALYSES``): this package's
modules, plus those of installed packages declared as entry points::

    [project.entry-points."bench.analyses"]
    mean-norm = "my_package.mean_norm"   # a module as above, NAME = "mean-norm"
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

from bench.analysis.sets import StsbSets
from bench.embed import EmbeddingTable
from bench.registry import Registry, RegistryError

Entry = dict[str, Any]  # one model's description and values, as stored in the report


class Rows(NamedTuple):
    """The terminal table of an analysis: column headers and one row of cells per entry."""

    columns: list[str]
    rows: list[list[str]]
    caption: str | None = None


def _no_check(sets: StsbSets, options: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class AnalysisKind:
    """One analysis module's interface, checked once when the module is discovered."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    options: Callable[[argparse.Namespace], dict[str, Any]]
    compute: Callable[[EmbeddingTable, StsbSets, dict[str, Any], argparse.Namespace, Entry],
                      dict[str, Any]]
    rows: Callable[[Sequence[Entry], dict[str, Any]], Rows]
    plot: Callable[[Sequence[Entry], StsbSets, dict[str, Any], Path, str], Any]
    title: Callable[[dict[str, Any], StsbSets], str]
    check: Callable[[StsbSets, dict[str, Any]], None] = _no_check

    @classmethod
    def from_module(cls, module: ModuleType) -> AnalysisKind:
        required = ("NAME", "HELP", "add_arguments", "options", "compute", "rows", "plot",
                    "title")
        missing = [attr for attr in required if not hasattr(module, attr)]
        if missing:
            raise TypeError(f"analysis module {getattr(module, '__name__', module)} lacks "
                            f"{', '.join(missing)}")
        return cls(module.NAME, module.HELP, module.add_arguments, module.options,
                   module.compute, module.rows, module.plot, module.title,
                   getattr(module, "check", _no_check))


def _as_kind(name: str, obj: object) -> AnalysisKind:
    """A plugin's entry (a module, or an ``AnalysisKind``), checked once imported."""
    kind = obj if isinstance(obj, AnalysisKind) else AnalysisKind.from_module(obj)  # type: ignore[arg-type]
    if kind.name != name:
        raise RegistryError(f"analysis entry point {name!r} names an analysis {kind.name!r}; "
                            f"the two names must agree")
    return kind


ANALYSES: Registry[AnalysisKind] = Registry("analysis", group="bench.analyses", check=_as_kind)
_FROM_PACKAGE: set[str] = set()  # the names this package's modules registered


def discover() -> dict[str, AnalysisKind]:
    """Every analysis, by ``NAME``, sorted by name: this package's modules (looked for on each
    call, so that a module added to ``__path__`` is found) and the registry's other entries."""
    found: dict[str, AnalysisKind] = {}
    for info in pkgutil.iter_modules(__path__):
        kind = AnalysisKind.from_module(importlib.import_module(f"{__name__}.{info.name}"))
        if kind.name in found:
            raise TypeError(f"two analysis modules are named {kind.name!r}")
        found[kind.name] = kind
    for gone in _FROM_PACKAGE - set(found):
        ANALYSES.unregister(gone)
    for name, kind in found.items():
        ANALYSES.register(name, kind, replace=True)
    _FROM_PACKAGE.clear()
    _FROM_PACKAGE.update(found)
    return dict(sorted(ANALYSES.items()))
