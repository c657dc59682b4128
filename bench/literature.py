"""Literature reports: published tables as typed rows (aggregates only, as printed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.errors import BenchError
from bench.protocols import Protocol
from bench.results import LITERATURE_SCHEMA, ProtocolScores, ReportError, need
from bench.scoring import Average, average
from bench.transfer_protocol import TransferProtocol


@dataclass
class LiteratureRow:
    """One line of a published table: aggregates only, as printed."""

    model: dict[str, Any]
    protocols: list[Protocol]
    scores: list[ProtocolScores]
    transfer: dict[str, float] = field(default_factory=dict)
    transfer_average: Average | None = None
    source: str = ""
    note: str = ""
    transfer_protocol: TransferProtocol | None = None  # None: the table does not say (unknown)


def _literature_transfer_protocol(item: dict[str, Any], at: str) -> TransferProtocol | None:
    """A row's ``transfer_protocol`` ({"key": "senteval", "source": ...}); None when the row
    gives none (a published number whose classifier setting is unknown)."""
    stored = item.get("transfer_protocol")
    if stored is None or (isinstance(stored, dict) and "key" not in stored
                          and "config" not in stored):
        return None
    try:
        return TransferProtocol.from_dict(stored)
    except (TypeError, KeyError, BenchError) as exc:
        raise ReportError(f"{at}: unreadable 'transfer_protocol' ({exc})") from None


@dataclass
class LiteratureReport:
    source: dict[str, Any]
    rows: list[LiteratureRow]
    units: str = ""
    bench_version: str = ""
    schema_version: int = LITERATURE_SCHEMA
    kind: str = "literature"

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> LiteratureReport:
        rows_data = data.get("rows")
        if not isinstance(rows_data, list) or not rows_data:
            raise ReportError(f"{where}: literature report has no 'rows' list")
        rows = []
        for i, item in enumerate(rows_data):
            at = f"{where}: rows[{i}]"
            model = need(item, "model", at, dict)
            try:
                protocols = [Protocol.parse(p["key"], p.get("source", ""))
                             for p in item.get("protocols", [])]
            except (KeyError, TypeError, BenchError):
                raise ReportError(f"{at}: unreadable 'protocols'") from None
            scores = []
            for key, values in (item.get("scores") or {}).items():
                if not isinstance(values, dict):
                    raise ReportError(f"{at}: scores[{key!r}] must map tasks to numbers")
                try:
                    proto = Protocol.parse(key)
                except BenchError:
                    raise ReportError(f"{at}: unknown protocol key {key!r}") from None
                tasks = {t: float(v) for t, v in values.items()
                         if isinstance(v, (int, float)) and t != "avg"}
                printed = values.get("avg")
                avg = (Average(float(printed), tuple(tasks)) if isinstance(printed, (int, float))
                       else average(tasks))
                scores.append(ProtocolScores(proto, tasks, avg))
            transfer: dict[str, float] = {}
            printed_tavg = item.get("transfer_avg")
            for task, value in (item.get("transfer") or {}).items():
                acc = value.get("acc") if isinstance(value, dict) else value
                if not isinstance(acc, (int, float)):
                    continue
                if task.lower() in ("avg", "average"):
                    printed_tavg = acc
                else:
                    transfer[task] = float(acc)
            tavg = (Average(float(printed_tavg), tuple(transfer)) if printed_tavg is not None
                    else None)
            rows.append(LiteratureRow(model, protocols, scores, transfer, tavg,
                                      str(item.get("source", "")), str(item.get("note", "")),
                                      _literature_transfer_protocol(item, at)))
        return cls(dict(data.get("source") or {}), rows, str(data.get("units", "")),
                   str(data.get("bench_version", "")))
