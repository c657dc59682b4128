"""One registry mechanism for everything bench looks up by name.

Encoder types, tasks, task families, metrics, aggregations, analyses, perf benchmarks and
commands are each a :class:`Registry`. An entry is an object or a lazy ``"module:attr"``
string (imported on first use, so that registering costs nothing until the entry is used).
Third-party packages add entries through package entry points, one group per registry
(``bench.encoders``, ``bench.tasks``, ...), in the manner of lm-evaluation-harness's single
``Registry`` (``lm_eval/api/registry.py``): a plugin is one line in the plugin's
``pyproject.toml``::

    [project.entry-points."bench.metrics"]
    kendall = "my_package.metrics:kendall"

Look-ups of unknown names raise one line with the closest valid names first.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from bench.errors import BenchError, warn

T = TypeVar("T")

ENTRY_POINT_PREFIX = "bench."


class RegistryError(BenchError):
    """An unknown name, a name registered twice, or a plugin that cannot be loaded."""


def suggest(name: str, valid: list[str], limit: int = 3) -> str:
    """``"; did you mean X?"`` for the closest valid names (case-insensitive), else ``""``."""
    lowered = {v.lower(): v for v in valid}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=limit, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(lowered[c] for c in close) + "?"


def _resolve(target: str) -> object:
    module, _, attr = target.partition(":")
    obj: object = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Named entries of one kind, in registration order, plus those of installed plugins.

    ``kind`` names the entries in error messages ("metric", "encoder type"); ``group`` is the
    entry-point group that plugins use (default ``bench.<kind>s`` with spaces as dashes).
    ``check(name, obj)``, when given, sees every lazy entry once it is imported (a plugin's
    included) and returns it or raises: what a registry's own ``register`` would validate.
    """

    def __init__(self, kind: str, group: str | None = None,
                 check: Callable[[str, object], T] | None = None) -> None:
        self.kind = kind
        self.group = group or ENTRY_POINT_PREFIX + kind.replace(" ", "-") + "s"
        self._check = check
        self._entries: dict[str, T | str] = {}
        self._aliases: dict[str, str] = {}
        self._plugins: dict[str, str] = {}  # name -> distribution that declared it
        self._plugins_loaded = False

    def register(self, name: str, obj: T | str | None = None, *, aliases: tuple[str, ...] = (),
                 replace: bool = False) -> Callable[[T], T] | T | str:
        """Register ``obj`` (or a lazy ``"module:attr"``) under ``name``; without ``obj``,
        return a decorator. A name taken by another entry is an error unless ``replace``
        (which also drops the replaced entry's aliases)."""
        if obj is None:
            def decorator(target: T) -> T:
                self.register(name, target, aliases=aliases, replace=replace)
                return target
            return decorator
        for key in (name, *aliases):
            taken = key in self._entries or key in self._aliases
            same = self._canonical(key) == name and self._same(name, obj)  # idempotent
            if taken and not replace and not same:
                raise RegistryError(f"{self.kind} {key!r} is registered already")
        if replace:
            self._drop_aliases(name)
        self._entries[name] = obj
        for alias in aliases:
            self._aliases[alias] = name
        return obj

    def _same(self, name: str, obj: object) -> bool:
        """Whether ``name`` holds ``obj`` already (registering it again changes nothing)."""
        if name not in self._entries:
            return True  # an alias of name, given again
        held = self._entries[name]
        return held is obj or (isinstance(held, str) and held == obj)

    def unregister(self, name: str) -> None:
        """Remove an entry and its aliases (tests register toy entries and remove them)."""
        self._entries.pop(name, None)
        self._plugins.pop(name, None)
        self._drop_aliases(name)

    def _drop_aliases(self, name: str) -> None:
        for alias in [a for a, n in self._aliases.items() if n == name]:
            del self._aliases[alias]

    def _canonical(self, name: str) -> str:
        return self._aliases.get(name, name)

    def load_plugins(self) -> None:
        """Register the entries of installed packages' entry points (once)."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for point in entry_points(group=self.group):
            dist = point.dist.name if point.dist else "?"
            if point.name in self._entries or point.name in self._aliases:
                warn(f"{self.kind} {point.name!r} of package {dist!r} ignored: bench has one "
                     f"of that name (entry point group {self.group})")
                continue
            self._entries[point.name] = point.value
            self._plugins[point.name] = dist

    def refresh_plugins(self) -> None:
        """Forget the plugins' entries and look for them again on next use (a package was
        installed or removed in this process; tests)."""
        for name in self._plugins:
            self._entries.pop(name, None)
        self._plugins.clear()
        self._plugins_loaded = False

    def plugin(self, name: str) -> str | None:
        """The distribution whose entry point declared ``name`` (None: registered in code)."""
        self.load_plugins()
        return self._plugins.get(self._canonical(name))

    def __contains__(self, name: object) -> bool:
        self.load_plugins()
        return isinstance(name, str) and self._canonical(name) in self._entries

    def get(self, name: str) -> T:
        """The entry registered as ``name`` (or an alias), imported if it was lazy."""
        self.load_plugins()
        key = self._canonical(name)
        if key not in self._entries:
            raise RegistryError(f"unknown {self.kind} {name!r}{suggest(name, self.names())}; "
                                f"valid: {', '.join(self.names())}")
        entry = self._entries[key]
        if isinstance(entry, str):
            try:
                loaded = _resolve(entry)
                if self._check is not None:
                    loaded = self._check(key, loaded)
            except BenchError:
                raise
            except Exception as exc:  # a plugin's module may fail in any way: one line
                raise RegistryError(f"{self.kind} {name!r}: cannot load {entry!r} "
                                    f"({type(exc).__name__}: {exc})") from None
            entry = loaded  # type: ignore[assignment]
            self._entries[key] = entry
        return entry  # type: ignore[return-value]

    def names(self) -> list[str]:
        self.load_plugins()
        return list(self._entries)

    def loaded(self) -> Iterator[tuple[str, T]]:
        """The entries already imported, lazy ones not yet used left out: imports nothing, so
        that a ``check`` may compare an entry with the others without recursing."""
        return iter([(n, e) for n, e in self._entries.items() if not isinstance(e, str)])

    def items(self) -> Iterator[tuple[str, T]]:
        for name in self.names():
            yield name, self.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())
