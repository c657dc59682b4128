"""The task registry: one declarative record per task, looked up by name, alias or set.

A record (``TaskMetadata``) says everything bench needs to know about a dataset: its family
(which evaluation applies), the files it reads and how, its parts (STS subsets or splits) and
which of them are scored or used for training, the score range, the expected sizes, a
citation and a ``version`` that is bumped whenever the reader changes what it yields. This
mirrors MTEB's ``TaskMetadata`` and lm-evaluation-harness's task YAML: adding a dataset of an
existing family is one ``register(TaskMetadata(...))`` (plus its sha256 lines in
``bench/data/manifest.tsv``); no other module names tasks.

The records live in one :class:`bench.registry.Registry` (``TASKS``). A third-party package
adds a task with an entry point naming a ``TaskMetadata``::

    [project.entry-points."bench.tasks"]
    MyTask = "my_package.tasks:MY_TASK"

It is checked as ``register`` checks, and joins the set ``user`` (as task files do), so that
installing a package never changes what ``--tasks sts`` selects.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.errors import DataError, warn
from bench.registry import Registry
from bench.results import set_task_names
from bench.tasks.catalog import BUILTIN
from bench.tasks.metadata import Reader, TaskMetadata

__all__ = ["Reader", "TaskMetadata", "register", "unregister", "get", "find", "select"]


# Named task sets are derived from the records: one per family, "user" and "every" (the whole
# registry); "all" is kept as a deprecated alias because "all" is also an STS aggregation and
# must not be read as one. Tasks from task files and plugins join the set "user", not their
# family's: "sts" stays the paper's seven tasks.
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


def _group(meta: TaskMetadata) -> str:
    """The set a task joins: its family's if built in (or registered in code), else "user"."""
    return meta.family if meta.origin is None and TASKS.plugin(meta.name) is None else USER_SET


def _sets(metas: Iterable[TaskMetadata]) -> dict[str, tuple[str, ...]]:
    sets: dict[str, tuple[str, ...]] = {}
    for meta in metas:
        group = _group(meta)
        sets[group] = (*sets.get(group, ()), *((meta.name,) if meta.listed else ()))
    return sets


def reserved_names(family: str = "") -> set[str]:
    """Lower-cased set names (``sts``, ``transfer``, ``user``, ``every``, ``all``): --tasks
    reads these as sets before task names, so a task of that name could never be selected."""
    groups = _sets(meta for _, meta in TASKS.loaded())
    return {n.lower() for n in (*groups, family, USER_SET, "every", *SET_ALIASES) if n}


def _validate(meta: TaskMetadata, replace: bool = False) -> None:
    """What ``register`` checks, without registering (also run on a plugin's task)."""
    for n in (meta.name, *meta.aliases):
        check_name(n, "task name" if n == meta.name else "alias")
    shadowed = [n for n in (meta.name, *meta.aliases) if n.lower() in reserved_names(meta.family)]
    if shadowed:
        raise DataError(f"task {meta.name!r}: name or alias {shadowed[0]!r} is the name of a "
                        f"task set, which --tasks would select instead; choose another name")
    taken = {n.lower() for _, t in TASKS.loaded() if t.name != meta.name
             for n in (t.name, *t.aliases)}
    taken |= {n.lower() for n in TASKS.names() if n != meta.name}  # plugins not yet imported
    clash = [n for n in (meta.name, *meta.aliases) if n.lower() in taken]
    if clash:
        raise DataError(f"task {meta.name!r}: name or alias {clash[0]!r} is already registered")
    if not set(meta.eval_parts) <= set(meta.parts):
        raise DataError(f"task {meta.name!r}: eval_parts must be among its parts")


def _checked_plugin(name: str, obj: object) -> TaskMetadata:
    """A plugin's entry, once imported: a ``TaskMetadata`` of that name that ``register``
    would accept."""
    where = f"task {name!r} of package {TASKS.plugin(name)!r} (entry point group {TASKS.group})"
    if not isinstance(obj, TaskMetadata):
        raise DataError(f"{where} is a {type(obj).__name__}, not a bench TaskMetadata")
    if obj.name != name:
        raise DataError(f"{where} names its task {obj.name!r}; the two names must agree")
    try:
        _validate(obj)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    return obj


TASKS: Registry[TaskMetadata] = Registry("task", check=_checked_plugin)


def register(meta: TaskMetadata, *, replace: bool = False) -> TaskMetadata:
    """Add a task to the registry (``replace`` to redefine one, e.g. in tests)."""
    _validate(meta)
    if meta.name in TASKS and not replace:
        where = TASKS.get(meta.name).origin
        raise DataError(f"task {meta.name!r} is already registered"
                        + (f" (by {where})" if where else " (a built-in task)"))
    TASKS.register(meta.name, meta, aliases=meta.aliases, replace=True)
    return meta


def unregister(name: str) -> None:
    if name not in TASKS.names():
        raise KeyError(name)
    TASKS.unregister(name)


def tasks() -> dict[str, TaskMetadata]:
    """Every task by name, in registration order (plugins' imported and checked here)."""
    return dict(TASKS.items())


def set_names() -> dict[str, tuple[str, ...]]:
    """Task sets: one per family (``sts``, ``transfer``), ``user`` and ``every`` (the listed
    tasks)."""
    metas = tasks()
    return {**{k: v for k, v in _sets(metas.values()).items() if v},
            "every": tuple(n for n, t in metas.items() if t.listed)}


def valid_names() -> list[str]:
    """Sets, then the listed tasks by the names tables print (``STS-B``, ``SICK-R``)."""
    return [*set_names(), *(m.label for m in tasks().values() if m.listed)]


def _suggestion(name: str) -> str:
    """``"; did you mean X?"`` over every set, name and alias, each task given by its label."""
    label = {n.lower(): n for n in set_names()}
    for meta in tasks().values():
        label.update({n.lower(): meta.label for n in (meta.name, *meta.aliases)})
    close = difflib.get_close_matches(name.lower(), list(label), n=6, cutoff=0.6)
    picked = list(dict.fromkeys(label[c] for c in close))[:3]
    return "; did you mean " + " or ".join(picked) + "?" if picked else ""


def get(name: str) -> TaskMetadata:
    """A task by name or alias (case-insensitive), or one line: the closest names first, then
    the valid ones as tables print them."""
    wanted = name.lower()
    for meta in tasks().values():
        if wanted in (n.lower() for n in (meta.name, *meta.aliases)):
            return meta
    raise DataError(f"unknown task {name!r}{_suggestion(name)}; valid: "
                    f"{', '.join(valid_names())} (aliases: 'bench list tasks')")


def canonical(name: str) -> str:
    """The registered name (a report key) of a task name or alias, case-insensitive; a name
    no task has is returned unchanged (a report may hold tasks of a task file)."""
    found = find(name)
    return found.name if found is not None else name


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


# The built-in tasks come first, before any plugin is looked for: neither a task file nor a
# plugin can take their names (tests/test_registry.py checks them as register would).
for _meta in BUILTIN:
    TASKS.register(_meta.name, _meta, aliases=_meta.aliases)
set_task_names(canonical)  # report look-ups by alias: values["STS-B"]
