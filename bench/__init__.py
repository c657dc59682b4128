"""bench: protocol-explicit evaluation of sentence embeddings.

``bench.evaluate(model, tasks=..., protocols=...)`` evaluates a model from Python and returns
the typed report (``bench.results.RunReport``); ``bench.analyze(kind, models, ...)`` computes one
of ``bench analyze``'s analyses (``bench.analysis.api``); ``bench.load(path)`` reads any report
file.
"""

from __future__ import annotations

from typing import Any

from bench.version import __version__

__all__ = ["analyze", "evaluate", "load", "table", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `import bench` (and the CLI's start) does not import torch.
    if name == "evaluate":
        from bench.api import evaluate

        return evaluate
    if name == "analyze":
        from bench.analysis.api import analyze

        return analyze
    if name == "load":
        from bench.reports import load

        return load
    if name == "table":
        from bench.render import table

        return table
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
