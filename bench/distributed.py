"""Sharded encoding under torchrun: the process group, the shards and a failing rank.

``torchrun --nproc_per_node N -m bench run ...`` starts N processes with WORLD_SIZE, RANK and
LOCAL_RANK set; ``setup`` joins them (gloo on the CPU, NCCL on GPUs, ``cuda:LOCAL_RANK``).
The encoding pass (``bench.embed``) then splits its batches over the ranks by token cost,
each rank encodes its share and writes its cache chunks, and rank 0 receives every vector
(a collective, not the cache: that works with ``--no-cache``, with per-node caches and with
encoders that are never cached) and does the rest of the run alone.

A rank that fails must not leave the others waiting for a collective that never comes: the
ranks wait for each other by polling the process group's key-value store, where each rank
has put its host and pid and where a rank that raises leaves its one-line error. A waiting
rank sees a peer's error, or a peer on its own host whose process is gone (SIGKILL, a crash),
within a poll, and stops with one line naming that rank. torchrun itself answers a dead
worker by sending SIGTERM to the others; the handler installed here turns that into the same
line. Chunks a rank finished before the failure stay in the cache for the rerun.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pickle
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bench.devices import check_device
from bench.errors import BenchError

POLL_S = 0.2          # how often a waiting rank looks at the store
STORE_TIMEOUT = timedelta(minutes=30)  # a store read that blocks; the waits here poll instead
_setups = 0           # key namespace per setup: torchrun's store outlives a process group


class RankFailed(BenchError):
    """Another rank of a sharded run failed or died; this rank stops too."""


def torchrun_world() -> int:
    """WORLD_SIZE as torchrun sets it (1 when not launched by it)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise BenchError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number") from None


def follower() -> bool:
    """Whether this process is a rank other than 0 of a sharded run (it writes no report)."""
    import torch.distributed as dist  # heavy: torch

    return dist.is_available() and dist.is_initialized() and dist.get_rank() != 0


def _alive(pid: int) -> bool:
    """Whether a process on this host still runs (a zombie, killed but not reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def assign(costs: Sequence[int], world: int) -> list[int]:
    """The rank that encodes each batch: longest-processing-time first, each batch to the rank
    with the least token cost so far (ties: the lower rank), so the shards cost about the same
    (the largest difference is at most one batch's cost). Batches stay whole, so every vector
    comes from the same batch, hence the same numbers, as in a single process."""
    load = [0] * world
    owner = [0] * len(costs)
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        r = min(range(world), key=lambda r: (load[r], r))
        owner[i] = r
        load[r] += costs[i]
    return owner


@dataclass
class Shards:
    """This process's place in a sharded run, and the store the ranks meet in."""

    rank: int
    world: int
    device: str
    store: Any
    devices: list[str] = field(default_factory=list)
    _peers: dict[int, tuple[str, int]] = field(default_factory=dict)
    _round: int = 0
    stopping: bool = False  # a RankFailed is on its way up: a SIGTERM now adds nothing

    @property
    def lead(self) -> bool:
        """Rank 0 scores, prints and writes the report; the others only encode."""
        return self.rank == 0

    # ------------------------------------------------------------------ store and failures
    def _store(self, op: str, *args: Any) -> Any:
        try:
            return getattr(self.store, op)(*args)
        except RankFailed:
            raise
        except Exception as exc:  # the store's host (rank 0 or torchrun's agent) is gone
            raise RankFailed(f"rank {self.rank} lost the store of the sharded run "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); "
                             f"rank 0 or the launcher has stopped") from None

    def fail(self, exc: BaseException) -> None:
        """Leave this rank's error where the others look, so that their line names it."""
        if isinstance(exc, RankFailed):
            return
        text = str(exc).splitlines()[0] if str(exc) else ""
        why = text if isinstance(exc, BenchError) else f"{type(exc).__name__}: {text}"
        with contextlib.suppress(Exception):
            self.store.set(f"failed/{self.rank}", why[:400] or type(exc).__name__)

    def diagnose(self) -> str | None:
        """What went wrong elsewhere: a peer's error, or a peer on this host that is gone."""
        for r in range(self.world):
            if r != self.rank and self._store("check", [f"failed/{r}"]):
                why = self._store("get", f"failed/{r}").decode("utf-8", "replace")
                return f"rank {r} failed: {why}"
        host = socket.gethostname()
        for r, (peer_host, pid) in sorted(self._peers.items()):
            if r != self.rank and peer_host == host and not _alive(pid):
                return f"rank {r} (pid {pid}) died (killed or crashed)"
        return None

    def check(self) -> None:
        """Raise RankFailed when another rank has failed; cheap enough to call per batch."""
        why = self.diagnose()
        if why is not None:
            self.stopping = True
            raise RankFailed(f"{why}; rank {self.rank} stops too (nothing was scored; a rerun "
                             "reuses the cache chunks already written)")

    def wait_for(self, keys: Sequence[str]) -> None:
        """Poll until every key is in the store, stopping at once if another rank failed."""
        while not self._store("check", list(keys)):
            self.check()
            time.sleep(POLL_S)

    # ------------------------------------------------------------------ exchanges
    def next_round(self) -> str:
        """A fresh key prefix for one exchange (every rank calls this in the same order)."""
        self._round += 1
        return f"round{self._round}"

    def share(self, key: str, make: Any) -> Any:
        """Rank 0's ``make()`` (e.g. the batch plan), read by every rank through the store:
        rank 0 alone decides, so a chunk written meanwhile cannot make the ranks disagree."""
        if self.lead:
            value = make()
            self._store("set", key, pickle.dumps(value))
            return value
        self.wait_for([key])
        return pickle.loads(self._store("get", key))

    def gather(self, key: str, mine: Any) -> list[Any] | None:
        """Every rank's ``mine`` on rank 0 (None elsewhere), once all ranks are ready: the
        ranks wait in the store, where a failure is seen, not in the collective."""
        import torch.distributed as dist  # heavy: torch

        self._store("set", f"{key}/ready/{self.rank}", b"1")
        self.wait_for([f"{key}/ready/{r}" for r in range(self.world)])
        out: list[Any] | None = [None] * self.world if self.lead else None
        try:
            dist.gather_object(mine, out, dst=0)
        except RuntimeError as exc:
            self.check()
            raise RankFailed(f"rank {self.rank}: gathering the vectors failed "
                             f"({str(exc).splitlines()[0][:160]})") from None
        return out


def _default_store() -> Any:
    import torch.distributed as dist  # heavy: torch
    from torch.distributed import distributed_c10d  # heavy: torch

    return dist.PrefixStore(f"bench/{_setups}", distributed_c10d._get_default_store())


def _on_sigterm(shards: Shards) -> None:
    """torchrun stops the remaining workers with SIGTERM when one fails: say which one."""
    def handler(signum: int, frame: Any) -> None:
        if shards.stopping:  # this rank already saw the failure; its one line is on its way
            return
        shards.stopping = True
        why = None
        with contextlib.suppress(Exception):
            why = shards.diagnose()
        raise RankFailed(f"{why or 'another rank failed'}; rank {shards.rank} was stopped by "
                         "the launcher (SIGTERM) (nothing was scored; a rerun reuses the cache "
                         "chunks already written)")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def setup(device: str) -> Shards | None:
    """Join the sharded run torchrun started (None for a single process).

    A process group the caller already set up (a training script evaluating under DDP) is
    used as it is; one made here uses gloo on the CPU and NCCL on GPUs, and each rank's
    ``cuda`` becomes ``cuda:LOCAL_RANK``."""
    global _setups
    if torchrun_world() <= 1 and "torch" not in sys.modules:
        return None  # neither launched by torchrun nor able to hold a process group yet
    import torch  # heavy: torch
    import torch.distributed as dist  # heavy: torch

    if not (dist.is_available() and (dist.is_initialized() or torchrun_world() > 1)):
        return None
    cuda = device.startswith("cuda")
    if cuda and device == "cuda":
        rank = dist.get_rank() if dist.is_initialized() else int(os.environ.get("RANK", "0"))
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}"
    if cuda:  # before the group exists: NCCL binds each rank to the current device
        torch.cuda.set_device(check_device(device, "--device (LOCAL_RANK's GPU)"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", timeout=STORE_TIMEOUT)
        atexit.register(_destroy)
    if dist.get_world_size() == 1:
        return None
    rank = dist.get_rank()
    _setups += 1
    shards = Shards(rank, dist.get_world_size(), device, _default_store())
    shards._store("set", f"rank/{rank}",
                  json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                              "device": device}))
    keys = [f"rank/{r}" for r in range(shards.world)]
    shards.wait_for(keys)
    for r, key in enumerate(keys):
        info = json.loads(shards._store("get", key))
        shards._peers[r] = (info["host"], int(info["pid"]))
        shards.devices.append(info["device"])
    _on_sigterm(shards)
    return shards


def _destroy() -> None:
    import torch.distributed as dist  # heavy: torch

    with contextlib.suppress(Exception):
        if dist.is_initialized():
            dist.destroy_process_group()


@contextlib.contextmanager
def announcing(shards: Shards | None) -> Iterator[None]:
    """Run a sharded step; an error here is left in the store for the other ranks."""
    try:
        yield
    except BaseException as exc:
        if shards is not None:
            shards.stopping = True  # its own line first; torchrun's SIGTERM adds nothing
            shards.fail(exc)
        raise
