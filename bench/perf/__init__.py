"""Benchmarks run by ``bench perf <name>``: one module per benchmark, each exposing
``add_arguments(parser)`` and ``run(args) -> dict`` (figures reported as ratios against a
peer measured in the same process).

The benchmarks are one :class:`bench.registry.Registry` (``BENCHMARKS``): each module of this
package (``flow.py`` is ``bench perf flow``; ``_``-prefixed modules are helpers), registered
lazily, plus those of installed packages::

    [project.entry-points."bench.perf-benchmarks"]
    my-bench = "my_package.my_bench"
"""

from __future__ import annotations

import pkgutil
from types import ModuleType

from bench.registry import Registry

BENCHMARKS: Registry[ModuleType] = Registry("perf benchmark")

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        BENCHMARKS.register(_info.name.replace("_", "-"), f"{__name__}.{_info.name}")
