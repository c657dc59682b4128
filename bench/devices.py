"""Device names: validated once, up front, before any model is loaded or any sentence encoded.

torch accepts many spellings and fails late (an AssertionError deep in a classifier) or not
at all (a CPU-only encoder would record ``cuda`` as its device); bench accepts ``cpu``,
``cuda``, ``cuda:N`` and ``mps`` and checks that the device exists here.
"""

from __future__ import annotations

import re

from bench.errors import BenchError

VALID_FORMS = "cpu, cuda, cuda:N, mps"
_FORM = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


class DeviceError(BenchError):
    """A device name that is malformed or not present on this machine."""


def check_device(device: str, option: str = "--device") -> str:
    """Return ``device`` if it is valid and available, else raise a one-line DeviceError."""
    if not isinstance(device, str) or not _FORM.match(device):
        raise DeviceError(f"{option} {device!r} is not a device; valid forms: {VALID_FORMS}")
    import torch  # heavy: torch

    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"{option} {device!r} requested but CUDA is not available here "
                              "(use --device cpu)")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise DeviceError(f"{option} {device!r}: this machine has "
                              f"{torch.cuda.device_count()} CUDA device(s)")
    if device == "mps" and not (getattr(torch.backends, "mps", None)
                                and torch.backends.mps.is_available()):
        raise DeviceError(f"{option} {device!r} requested but MPS is not available here")
    return device


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags as the kernel lists them (empty where there is no such file)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def has_amx_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU has AMX tiles for bf16 (Sapphire Rapids and later): there, bf16
    matrix products run several times faster than fp32. bench never switches to bf16 by
    itself; ``bench perf sts`` measures the speed and the score difference."""
    return "amx_bf16" in cpu_flags(cpuinfo)
