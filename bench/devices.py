"""Devices named on the command line or in the API, validated once, before any work starts."""

from __future__ import annotations

import re

from bench.errors import BenchError

_FORMS = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


def check_device(device: str) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``mps``, available here; else one line saying why."""
    device = str(device).strip()
    if not _FORMS.match(device):
        raise BenchError(f"--device {device!r}: not a device; valid: cpu, cuda, cuda:N, mps")
    if device == "cpu":
        return device
    import torch

    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BenchError(f"--device {device}: CUDA is not available on this machine")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise BenchError(f"--device {device}: only {torch.cuda.device_count()} CUDA "
                             f"device(s) here")
    elif not torch.backends.mps.is_available():
        raise BenchError("--device mps: Apple's MPS backend is not available on this machine")
    return device
