"""The noise floor (bench.noise_floor): what bench run --noise-floor records, checked against
separate runs at each batch size, and compare's mark for a difference within it."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bench
from bench.cli import main
from bench.noise_floor import below_floor, precisions
from tests.sts_files import unregister_task_files, write_task
from tests.test_ties import BatchNoiseEncoder, _rows


class LoudBatchNoise(BatchNoiseEncoder):
    """Vectors that move by about 5% with the batch they are encoded in: a visible floor."""

    def encode(self, sentences, batch_size=64):
        out = super().encode(sentences, batch_size)
        rng = np.random.default_rng(len(sentences) + int(1e3 * abs(out.sum())))
        return out * (1 + 0.05 * rng.standard_normal(out.shape))


@pytest.fixture
def task(tmp_path):
    yield write_task(tmp_path / "t", "FloorTask", _rows("floor", 3))
    unregister_task_files()


def _run(task, out=None, **options):
    return bench.evaluate(LoudBatchNoise(), task_files=[task], tasks=["FloorTask"],
                          protocols="all-spearman", use_cache=False, out=out, **options)


@pytest.mark.slow  # four small runs and a compare (about 2 s)
def test_the_floor_is_the_largest_move_over_batch_sizes(task, tmp_path, capsys):
    main_path = tmp_path / "main.json"
    report = _run(task, main_path, batch_size=16, noise_floor=True)
    record = report.run["noise_floor"]
    value = report.scores[0].values["FloorTask"]
    others = {bs: _run(task, batch_size=bs).scores[0].values["FloorTask"] for bs in (8, 128)}
    assert record["protocol"] == "all-spearman"
    assert record["variants"]["batch 8"]["FloorTask"] == others[8]
    assert record["variants"]["batch 128"]["FloorTask"] == others[128]
    expected = max(abs(others[8] - value), abs(others[128] - value))
    assert expected > 0  # the encoder's batch noise moves the number
    assert record["floor"]["FloorTask"] == expected
    assert set(record["variants"]) == {"batch 8", "batch 128"}  # an object: no precisions

    # compare marks the batch-8 run's difference as within the floor
    other = tmp_path / "b8.json"
    _run(task, other, batch_size=8)
    assert main(["compare", str(main_path), str(other), "--significance", "--resamples", "50",
                 "--format", "json"]) == 0
    rows = next(t for t in json.loads(capsys.readouterr().out)["tables"]
                if t["title"] == "Paired significance")["rows"]
    cell = next(r for r in rows if r["Task"] == "FloorTask")
    assert abs(cell["Delta"]["value"]) <= expected and cell["within noise floor"] == "yes"


def test_below_floor_rule():
    floors = [("all-spearman", {"STS12": 0.2}), None]
    assert below_floor(0.1, "STS12", "all-spearman", floors) is True
    assert below_floor(0.2, "STS12", "all-spearman", floors) is True  # as much as the floor
    assert below_floor(-0.3, "STS12", "all-spearman", floors) is False
    assert below_floor(0.1, "STS12", "all-pearson", floors) is None  # another protocol
    assert below_floor(0.1, "STS13", "all-spearman", floors) is None


def test_precisions_per_device():
    assert precisions("cpu") == ["bf16"] and precisions("mps") == ["fp16"]


@pytest.mark.slow  # writes two synthetic reports and runs compare (about 0.5 s)
@pytest.mark.parametrize("claimed, expected", [
    ("no variants", "run.noise_floor: needs a protocol key, its variants"),
    (-1.0, "run.noise_floor.floor['STS12']: -1.0 is not what its variants give"),
    # a floor wider than its own variants show (0.01): it would excuse a real difference
    (5.0, "run.noise_floor.floor['STS12']: 5.0 is not what its variants give")])
def test_a_floor_its_variants_contradict_is_one_line(tmp_path, capsys, claimed, expected):
    from tests.test_compare import _gold, _noisy, _synthetic_run

    gold = _gold(1)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    _synthetic_run(a, "a", _noisy(gold, 1.0, 1), gold)
    data = _synthetic_run(b, "b", _noisy(gold, 1.0, 2), gold)
    variants = {"batch 8": {"STS12": data["scores"]["all-spearman"]["STS12"] + 0.01}}
    record = {"protocol": "all-spearman", "floor": {"STS12": claimed}}
    if claimed != "no variants":
        record["variants"] = variants
    data["run"] = {"noise_floor": record}
    b.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--significance"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
