"""The noise floor of a run: how far its STS numbers move when only the batch size or the
precision changes (``bench run --noise-floor``; mteb#4009 reports such drift).

The run's STS tasks are encoded again, without the cache, at batch 8 and batch 128 (the
run's precision) and, for a model given by name, in each reduced precision the device has
(CUDA: fp16, and bf16 where supported; CPU: bf16; MPS: fp16) at the run's batch size, then
scored by the one scorer under the run's first protocol. A task's floor is the largest
absolute change from the run's own number over those variants, in points; Avg.'s the same
over the variants' averages. The report records every variant's numbers and the floors
(``run.noise_floor``), and ``bench compare --significance`` marks a difference no larger
than the larger floor of the two rows: it is within what re-running the same model can give.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from bench.embed import encode_tasks
from bench.encoders.base import Encoder
from bench.errors import BenchError
from bench.protocols import Protocol
from bench.results import RunReport, score_protocols
from bench.tasks.families import FAMILIES, EvalContext

BATCHES = (8, 128)


def precisions(device: str) -> list[str]:
    """The reduced precisions ``device`` offers (module doc)."""
    if device.startswith("cuda"):
        import torch  # heavy: torch (only asked on a CUDA device)

        return ["fp16", *(["bf16"] if torch.cuda.is_bf16_supported() else [])]
    if device.startswith("mps"):
        return ["fp16"]
    return ["bf16"]


def variant_scores(encoder: Encoder, tasks: Sequence[Any], protocol: Protocol,
                   ctx: EvalContext, batch_size: int) -> dict[str, float]:
    """The STS tasks' numbers (and "avg") under ``protocol``, encoded afresh at
    ``batch_size``."""
    sts = [t for t in tasks if FAMILIES.get(t.meta.family).by_protocol]
    views, _ = encode_tasks(encoder, {t.name: t.sentences() for t in sts}, use_cache=False,
                            batch_size=batch_size, show_progress=False,
                            families={t.name: t.meta.family for t in sts},
                            sides={t.name: t.sides() for t in sts})
    results = FAMILIES.get("sts").evaluate([t for t in sts if t.meta.family == "sts"],
                                           views, ctx)
    scores = score_protocols(results, [protocol])
    if not scores:
        return {}
    return {**scores[0].values, "avg": scores[0].average.value}


def measure(encoder: Encoder, tasks: Sequence[Any], protocol: Protocol, ctx: EvalContext,
            main: Mapping[str, float], batch_size: int,
            with_precision: Callable[[str], Encoder] | None, device: str) -> dict[str, Any]:
    """The ``run.noise_floor`` record: each variant's numbers and every cell's floor."""
    variants: dict[str, dict[str, float]] = {}
    for size in BATCHES:
        variants[f"batch {size}"] = variant_scores(encoder, tasks, protocol, ctx, size)
    if with_precision is not None:
        for precision in precisions(device):
            variants[precision] = variant_scores(with_precision(precision), tasks, protocol,
                                                 ctx, batch_size)
    floor = {k: max(abs(v[k] - main[k]) for v in variants.values() if k in v)
             for k in main}
    return {"protocol": protocol.key, "variants": variants, "floor": floor}


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise BenchError(f"{field}: {value!r:.40} is not a finite number of points")
    return float(value)


def read_floor(report: RunReport, where: str) -> tuple[str, dict[str, float]] | None:
    """(protocol key, cell -> floor in points) a report recorded, None when it has none.

    The floor is derived evidence: each cell's largest distance between a variant's number
    and the run's own under that protocol. It is recomputed here from the variants and the
    report's scores, and a recorded floor that disagrees (someone else's file claiming a
    wider floor) is refused in one line, as is a malformed record."""
    record = (report.run or {}).get("noise_floor")
    if record is None:
        return None
    field = f"{where}: run.noise_floor"
    if not isinstance(record, dict) or not isinstance(record.get("protocol"), str) \
            or not isinstance(record.get("floor"), dict) \
            or not isinstance(record.get("variants"), dict) or not record["variants"]:
        raise BenchError(f"{field}: needs a protocol key, its variants and a floor per cell")
    key = record["protocol"]
    main = next((s for s in report.scores if s.protocol.key == key), None)
    if main is None:
        raise BenchError(f"{field}.protocol: {key!r:.40} is not one of the report's protocols")
    own = {**main.values, "avg": main.average.value if main.average else None}
    variants = {}
    for name, values in record["variants"].items():
        if not isinstance(values, dict):
            raise BenchError(f"{field}.variants[{name!r:.40}]: not a table of cell = points")
        variants[name] = {str(c): _number(v, f"{field}.variants[{name!r:.40}][{c!r:.40}]")
                          for c, v in values.items()}
    floor = {}
    for cell, value in record["floor"].items():
        stated = _number(value, f"{field}.floor[{cell!r:.40}]")
        base = own.get(cell)
        found = [abs(v[cell] - base) for v in variants.values()
                 if cell in v and base is not None]
        if not found or abs(max(found) - stated) > 1e-9:
            raise BenchError(f"{field}.floor[{cell!r:.40}]: {stated!r} is not what its variants "
                             f"give against the report's own {key} number "
                             f"({max(found) if found else 'none'})")
        floor[str(cell)] = stated
    return key, floor


def below_floor(delta: float, cell: str, key: str,
                floors: Sequence[tuple[str, dict[str, float]] | None]) -> bool | None:
    """Whether a difference is no larger than the larger floor of the rows compared (a change
    of batch size alone gave as much; None when
    neither row recorded a floor for that cell under protocol ``key``)."""
    found = [f[1][cell] for f in floors if f is not None and f[0] == key and cell in f[1]]
    if not found or not np.isfinite(delta):
        return None
    return abs(delta) <= max(found)
