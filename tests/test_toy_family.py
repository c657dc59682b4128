"""A third task family registered from this module only: pair classification (a cosine
threshold chosen on train, accuracy on test), run through bench.evaluate, the report's save /
load round trip, ``bench compare`` and the HTML page, with no edit anywhere else. Its
numbers are checked against numpy computed here from the encoder's own vectors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bench
from bench.cli import main
from bench.compare.rows import load_rows
from bench.compare.tables import report_family_tables
from bench.encoders.registry import resolve
from bench.errors import BenchError
from bench.family import FAMILIES, Family
from bench.htmlpage import build_page
from bench.registry import RegistryError
from bench.reports import ReportError, report_text
from bench.results import TaskResult
from bench.tasks.metadata import TaskMetadata
from bench.tasks.registry import register, unregister

TASK = "ToyPairs"
SPLITS = {"train": (0, 200), "test": (200, 300)}  # slices of STS-B train; label: score >= 2.5


def _pairs(data_dir: Path, split: str) -> tuple[list[str], list[str], np.ndarray]:
    start, stop = SPLITS[split]
    lines = (data_dir / "STS/STSBenchmark/sts-train.csv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in lines.splitlines()[start:stop]]
    return ([" ".join(r[5].split()) for r in rows], [" ".join(r[6].split()) for r in rows],
            np.array([float(r[4]) >= 2.5 for r in rows]))


@dataclass
class ToyTask:
    """What the runner needs of a loaded task: its name, record, sentences and sides."""

    name: str
    meta: Any
    splits: dict[str, tuple[list[str], list[str], np.ndarray]]
    files: tuple[Path, ...] = ()

    def sides(self) -> tuple[list[str], list[str]]:
        return ([s for a, _, _ in self.splits.values() for s in a],
                [s for _, b, _ in self.splits.values() for s in b])

    def sentences(self) -> list[str]:
        a, b = self.sides()
        return a + b


@dataclass(frozen=True)
class ToyReader:
    data_dir: Path

    def files(self) -> tuple[str, ...]:
        return ()

    def load(self, data_dir: Path, meta: TaskMetadata) -> ToyTask:
        return ToyTask(meta.name, meta, {s: _pairs(self.data_dir, s) for s in SPLITS})


def _cos(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    return (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)


def threshold_accuracy(train_cos, train_y, test_cos, test_y) -> tuple[float, float]:
    """The train-accuracy-maximising threshold (first of ties, over the midpoints) and the
    test accuracy in %."""
    s = np.sort(train_cos)
    candidates = np.concatenate([[s[0] - 1], (s[1:] + s[:-1]) / 2])
    acc = [np.mean((train_cos > c) == train_y) for c in candidates]
    best = float(candidates[int(np.argmax(acc))])
    return best, 100 * float(np.mean((test_cos > best) == test_y))


class PairClassification(Family):
    name = "pairclass"
    title = "Pair classification (accuracy)"

    def evaluate(self, tasks, views, ctx) -> dict[str, TaskResult]:
        out = {}
        for task in tasks:
            table = views[task.name]
            cos = {s: _cos(table.lookup(a), table.lookup(b, side=1))
                   for s, (a, b, _) in task.splits.items()}
            threshold, acc = threshold_accuracy(cos["train"], task.splits["train"][2],
                                                cos["test"], task.splits["test"][2])
            out[task.name] = TaskResult(task.name, self.name, main_score=acc, payload={
                "acc": acc, "threshold": threshold, "n": len(task.splits["test"][2])})
        return out


@pytest.fixture
def toy(data_dir):
    FAMILIES.register("pairclass", PairClassification())
    register(TaskMetadata(TASK, "pairclass", ToyReader(data_dir), display_name="Toy",
                          parts=("train", "test"), eval_parts=("test",)))
    yield
    unregister(TASK)
    FAMILIES.unregister("pairclass")


@pytest.fixture(scope="module")
def glove():
    return resolve("glove-avg")


def _expected(glove, data_dir: Path) -> tuple[float, float]:
    """Threshold and accuracy from vectors the encoder gives here, not through bench's run."""
    cos = {}
    for split in SPLITS:
        a, b, _ = _pairs(data_dir, split)
        cos[split] = _cos(glove.encode(a), glove.encode(b))
    return threshold_accuracy(cos["train"], _pairs(data_dir, "train")[2], cos["test"],
                              _pairs(data_dir, "test")[2])


@pytest.fixture
def toy_report(toy, glove, data_dir, tmp_path):
    out = tmp_path / "toy.json"
    report = bench.evaluate(glove, tasks=[TASK], data_dir=data_dir, cache_dir=tmp_path / "cache",
                            out=out)
    return report, out


def test_toy_family_runs_and_round_trips(toy_report, glove, data_dir):
    report, out = toy_report
    threshold, acc = _expected(glove, data_dir)
    task = report.tasks[TASK]
    assert task.family == "pairclass" and task.main_score == pytest.approx(acc, abs=1e-9)
    assert task.payload == {"acc": pytest.approx(acc, abs=1e-9),
                            "threshold": pytest.approx(threshold, abs=1e-12), "n": 100}
    assert report.scores == []  # no STS task: nothing under an STS protocol
    data = json.loads(out.read_text())
    assert data["tasks"][TASK]["pairclass"]["acc"] == pytest.approx(acc, abs=1e-9)
    loaded = bench.load(out)
    assert loaded.tasks[TASK].payload == task.payload
    assert report_text(loaded.to_dict()) == out.read_text()  # byte-identical re-save
    # the table bench run shows for it (bench.compare.tables.report_family_tables)
    [table] = report_family_tables(loaded)
    assert table.title == "Pair classification (accuracy)"
    assert [c.value for c in table.rows[0][3:]] == [pytest.approx(acc, abs=1e-9)] * 2


def test_toy_family_in_bench_compare(toy_report, glove, data_dir, capsys):
    _, out = toy_report
    _, acc = _expected(glove, data_dir)
    capsys.readouterr()
    assert main(["compare", str(out), str(out), "--format", "json"]) == 0
    tables = json.loads(capsys.readouterr().out)["tables"]
    table = next(t for t in tables if t["title"] == "Pair classification (accuracy)")
    assert table["columns"] == ["Model", "Protocol", "Source", "Toy", "Avg."]
    assert [r["Toy"] for r in table["rows"]] == [pytest.approx(acc, abs=1e-9)] * 2


def test_toy_family_on_the_html_page(toy_report, glove, data_dir):
    _, out = toy_report
    _, acc = _expected(glove, data_dir)
    page = build_page(load_rows([out]), [])
    assert "Pair classification (accuracy)" in page and f"{acc:.2f}" in page


def test_unknown_family_is_one_line(toy_report, data_dir):
    _, out = toy_report
    with pytest.raises(RegistryError, match=r"task 'Typo': unknown family 'pairclas'; did you "
                                            r"mean pairclass\?; valid: sts, transfer, pairclass"):
        TaskMetadata("Typo", "pairclas", ToyReader(data_dir))
    FAMILIES.unregister("pairclass")  # a report of a family this install does not know
    with pytest.raises(ReportError, match=rf"tasks\['{TASK}'\]: unknown family 'pairclass'"):
        bench.load(out)
    FAMILIES.register("pairclass", PairClassification())
    assert isinstance(RegistryError("x"), BenchError)
