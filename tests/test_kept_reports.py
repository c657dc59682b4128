"""The kept reports, regenerated under schema 2, give every number their schema-1 versions gave.

``tests/data/*.schema1.json`` are the schema-1 reports as bench wrote them before the typed
report (their per-pair lists removed to keep them small; stored scores, per-part correlations,
regressor and transfer results kept). Both versions are read through ``bench.reports.load``.
"""

from __future__ import annotations

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
            assert now.values[task] == pytest.approx(value, abs=1e-9), (proto.key, task)
        assert now.average.value == pytest.approx(was.average.value, abs=1e-9)
        assert now.average.tasks == tuple(was.values)
    for name, task in old.tasks.items():
        fresh = new.tasks[name]
        for part, values in task.parts.items():
            assert fresh.parts[part].n == values.n
            assert fresh.parts[part].spearman == pytest.approx(values.spearman, abs=1e-9)
            assert fresh.parts[part].pearson == pytest.approx(values.pearson, abs=1e-9)
        if task.regression is not None:
            for key in ("pearson", "spearman", "mse", "dev", "epochs", "best_epoch"):
                assert getattr(fresh.regression, key) == pytest.approx(
                    getattr(task.regression, key), abs=1e-9), (name, key)
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
        assert size < 330_000, (path.name, size)  # a quarter of a schema-1 STS report
