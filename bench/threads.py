"""Limit torch's intra-op threads for small CPU workloads, safely across threads.

Fits on tiny tensors (SentEval's classifiers and regressor, a Glow over sentence vectors)
gain nothing from intra-op parallelism: extra threads only add synchronisation, badly so
on a busy machine (2 threads cost 16x the CPU time of 1 for the flow on a loaded 2-core
machine). Parallelism comes from fitting several tasks at once instead
(``bench.tasks.transfer_suite``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()
_USERS = 0
_BEFORE = 1


@contextmanager
def limit_threads(device: str, threads: int | None = 1) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads when ``device`` is a CPU.

    A no-op for other devices or ``threads=None``. The setting is process-wide, so it is
    reference-counted: the first of concurrent users saves it, the last one restores it
    (concurrent users asking for different counts get the latest one asked for).
    """
    import torch  # heavy: torch

    global _USERS, _BEFORE
    if not threads or torch.device(device).type != "cpu":
        yield
        return
    with _LOCK:
        if _USERS == 0:
            _BEFORE = torch.get_num_threads()
        torch.set_num_threads(threads)
        _USERS += 1
    try:
        yield
    finally:
        with _LOCK:
            _USERS -= 1
            if _USERS == 0:
                torch.set_num_threads(_BEFORE)
