"""MTEB interop (Muennighoff et al. 2023, the ``mteb`` package): its STS tasks as bench tasks,
bench reports exported to and MTEB result files read from MTEB's results layout, and bench
encoders as MTEB models.

- ``bench.mteb.tasks``: which bench task is which MTEB task (the one place of that fact);
- ``bench.mteb.export``: ``bench export mteb`` (no ``mteb`` needed to write the files);
- ``bench.mteb.results``: MTEB result files and folders as literature reports (``compare``);
- ``bench.mteb.model``: ``as_model`` (needs ``pip install 'sentbench[mteb]'``).
"""

from __future__ import annotations

from typing import Any

from bench.errors import MtebError


def as_model(model: Any, **options: Any) -> Any:
    """An object implementing MTEB's encoder protocol around ``model`` (anything
    ``bench.evaluate`` accepts: a recipe name or path, a SentenceTransformer, a Hugging Face
    model with ``tokenizer=``, an Encoder, a callable). See ``bench.mteb.model.as_model``."""
    from bench.mteb.model import as_model as _as_model  # heavy: mteb (through bench.mteb.model)

    return _as_model(model, **options)


__all__ = ["MtebError", "as_model"]
