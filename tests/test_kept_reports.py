"""The kept reports, regenerated under schema 2, give every number their schema-1 versions gave.

``tests/data/*.schema1.json`` are the schema-1 reports as bench wrote them before the typed
report (their per-pair lists removed to keep them small; stored scores, per-part correlations,
regressor and transfer results kept). Both versions are read through ``bench.reports.load``.

GloVe averages are deterministic: equal to 1e-9 points. The MiniLM STS report was last written
before encoding batches were formed by token count (the previous session's change), so its
vectors differ from today's by float noise (~1e-7): Pearson moves by < 1e-5 points, Spearman
by < 1e-4, except STS12, whose SMTeuroparl and surprise.SMTnews subsets hold pairs of identical
sentences whose cosine is 1 up to rounding: their ranks swap with that noise, and STS12's
Spearman moves by up to 0.0054 points (0.025 on surprise.SMTnews alone). The MiniLM transfer
report is compared exactly (accuracies are rounded to 2 decimals by SentEval's protocol).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.protocols import every_combination
from bench.reports import load

REPO = Path(__file__).resolve().parents[1]
PAIRS = {  # schema-1 fixture -> regenerated kept report
    "minilm-avg-sts-all": "minilm-avg-sts-every",
    "glove-avg-sts-all": "glove-avg-sts-every",
    "minilm-avg-transfer-fasttest": "minilm-avg-transfer-fasttest",
}


def _tolerance(old_name: str, metric: str, task: str) -> float:
    if old_name != "minilm-avg-sts-all":
        return 1e-9
    if metric == "pearson":
        return 1e-5
    return 0.01 if task == "STS12" else 1e-4


@pytest.mark.parametrize("old_name, new_name", PAIRS.items())
def test_regenerated_report_equals_its_schema1_version(old_name, new_name):
    old = load(REPO / "tests" / "data" / f"{old_name}.schema1.json")
    new = load(REPO / "reports" / f"{new_name}.json")
    assert new.schema_version == 2 and old.notes == ["upgraded from schema 1"]
    assert new.model.fingerprint == old.model.fingerprint
    for proto in every_combination():
        was, now = old.score(proto), new.score(proto)
        assert (was is None) == (now is None), proto.key
        if was is None:
            continue
        assert was.values.keys() == now.values.keys()
        for task, value in was.values.items():
            tol = _tolerance(old_name, proto.metric, task)
            assert now.values[task] == pytest.approx(value, abs=tol), (proto.key, task)
        assert now.average.value == pytest.approx(was.average.value,
                                                  abs=_tolerance(old_name, proto.metric, "STS12"))
        assert now.average.tasks == tuple(was.values)
    for name, task in old.tasks.items():
        fresh = new.tasks[name]
        for part, values in task.parts.items():
            assert fresh.parts[part].n == values.n
            near_ties = 0.03 if part in ("SMTeuroparl", "surprise.SMTnews") else 1e-4
            tol = 1e-9 if old_name != "minilm-avg-sts-all" else near_ties
            assert fresh.parts[part].spearman == pytest.approx(values.spearman, abs=tol)
            assert fresh.parts[part].pearson == pytest.approx(values.pearson, abs=max(tol, 1e-5)
                                                              if tol > 1e-9 else tol)
        if task.regression is not None:
            tol = 1e-9 if old_name != "minilm-avg-sts-all" else 1e-3
            for key in ("pearson", "spearman", "mse", "dev"):
                assert getattr(fresh.regression, key) == pytest.approx(
                    getattr(task.regression, key), abs=tol), (name, key)
            for key in ("epochs", "best_epoch"):
                assert getattr(fresh.regression, key) == getattr(task.regression, key)
        if task.transfer is not None:
            assert fresh.transfer.to_dict() | {"wall_s": 0} == \
                task.transfer.to_dict() | {"wall_s": 0}
        assert fresh.files == task.files
    if old.transfer_average is not None:
        assert new.transfer_average.value == pytest.approx(old.transfer_average.value, abs=0.005)


def test_kept_reports_are_small_and_hold_no_machine_path():
    for path in (REPO / "reports").glob("*.json"):
        text = path.read_text(encoding="utf-8")
        for marker in ("/root/", "/home/", "/tmp/", "/work/", "C:\\\\"):
            assert marker not in text, (path.name, marker)
        sidecar = path.with_name(path.stem + ".pairs.npz")
        size = path.stat().st_size + (sidecar.stat().st_size if sidecar.exists() else 0)
        seeds = len((json.loads(text).get("seeds") or {}).get("runs") or [None])
        # a quarter of a schema-1 STS report per evaluated model (a seed folder holds several)
        assert size < 330_000 * seeds, (path.name, size)
