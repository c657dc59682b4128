"""What a report records about the software and hardware a number was measured on."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from bench.version import __version__

PACKAGES = ("torch", "transformers", "sentence-transformers", "numpy", "scipy",
            "scikit-learn", "pandas", "pyarrow", "tokenizers", "safetensors")


def package_versions() -> dict[str, str | None]:
    """Installed versions by name; bench's own is the running code's (the distribution is
    named sentbench, and a checkout on PYTHONPATH has no installed metadata at all)."""
    out: dict[str, str | None] = {"bench": __version__}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def describe_environment(device: str = "cpu") -> dict:
    import torch  # heavy: torch

    env = {"python": sys.version.split()[0], "platform": platform.platform(),
           "machine": platform.machine(), "packages": package_versions(),
           "torch_threads": torch.get_num_threads(), "device": device}
    if device.startswith("cuda") and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return env
