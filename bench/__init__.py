"""bench: protocol-explicit evaluation of sentence embeddings.

``bench.evaluate(model, tasks=..., protocols=...)`` evaluates a model from Python and returns
the typed report (``bench.results.RunReport``); ``bench.load(path)`` reads any report file.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["evaluate", "load", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `import bench` (and the CLI's start) does not import torch.
    if name == "evaluate":
        from bench.api import evaluate

        return evaluate
    if name == "load":
        from bench.reports import load

        return load
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
