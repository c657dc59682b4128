"""bench perf: the GPU script without a GPU, its comparisons, and its steps run on the CPU."""

from __future__ import annotations

import argparse
import json

import pytest

from bench.cli import main
from tests.conftest import REPO
from tests.sts_files import stsb_rows, unregister_task_files, write_task


def test_gpu_script_without_a_gpu_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "gpu.json"
    assert main(["perf", "gpu", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bench: error: bench perf gpu needs a CUDA GPU")
    assert err.count("\n") == 1 and not out.exists()


def test_procs_must_be_positive(capsys):
    assert main(["perf", "sts", "--procs", "0"]) == 2
    assert "--procs must be at least 1" in capsys.readouterr().err


def test_score_table_and_gap_read_every_number_of_a_report():
    from bench.perf._shared import largest_gap, score_table
    from bench.reports import load

    path = REPO / "reports" / "minilm-avg-sts-every.json"
    raw = json.loads(path.read_text())
    expected = {f"{s['protocol']['key']}/{task}": v
                for s in raw["scores"] for task, v in s["values"].items()}
    expected.update({f"{s['protocol']['key']}/avg": s["average"]["value"]
                     for s in raw["scores"] if s["average"]})
    table = score_table(load(path))
    assert table == pytest.approx(expected, abs=1e-12) and len(table) == len(expected)
    shifted = dict(table)
    key = sorted(shifted)[3]
    shifted[key] += 0.05
    gap = largest_gap(table, shifted)
    assert gap["at"] == key and gap["max_abs_diff_points"] == pytest.approx(0.05, abs=1e-9)
    assert gap["compared"] == len(table)


@pytest.mark.slow  # four MiniLM runs on a small task (~20 s on two cores)
def test_gpu_steps_run_on_the_cpu_and_write_every_figure(tmp_path, data_dir, monkeypatch):
    """The script's steps with the CPU standing in for the GPU: the JSON has every figure,
    and fp32 "on the device" equals the CPU reference exactly (same device, same numbers)."""
    import bench.perf.gpu as gpu
    from bench.tasks.taskfile import load_task_files

    monkeypatch.setattr(gpu, "GPU", "cpu")
    monkeypatch.setattr(gpu, "require_gpu", lambda: "cpu (test)")
    toml = write_task(tmp_path / "tasks", "StsbHead", stsb_rows(data_dir, "test", 0, 60))
    load_task_files([toml])
    try:
        args = argparse.Namespace(data_dir=str(data_dir), batch_size=32, sts_tasks="StsbHead",
                                  transfer_tasks="", stsb_task="StsbHead")
        out = gpu.run(args)
    finally:
        unregister_task_files()
    assert out["cuda_fp32"]["vs_cpu_fp32"]["max_abs_diff_points"] == 0.0
    for precision in ("fp32", "fp16", "bf16"):
        cmp = out[f"cuda_{precision}"]["vs_cpu_fp32"]
        assert cmp["compared"] == len(out["cpu_fp32"]["scores"]) >= 12
        assert cmp["tolerance_points"] == gpu.TOLERANCE[precision]
    enc = out["encode_vs_sentence_transformers"]
    assert enc["sentences"] == out["sentences_unique"] > 100 and enc["ratio_bench_vs_peer"] > 0
    assert out["sharded"] == "skipped: one GPU" and "transfer_fasttest" not in out
    versus = out["versus_sentence_transformers"]
    assert versus["stsb_simcse"]["pairs"] == 60 and versus["suite"]["sentences_encoded"] == \
        versus["suite"]["sentences_needed"] == versus["stsb_simcse"]["sentences_encoded"]
    # the same pairs and model: the evaluator's Spearman is bench's up to float noise
    assert versus["stsb_simcse"]["spearman_diff_points"] < 0.01
    json.dumps(out)  # one JSON


def test_perf_transfer_prints_classifier_time_against_a_cold_encode_only():
    from bench.perf.transfer import CLASSIFIER_SHARE, classifier_share

    cold = classifier_share(47.0, {"sentences_unique": 100, "sentences_encoded": 100,
                                   "encode_s": 321.0})
    assert cold["ratio"] == round(47 / 321, 3) == 0.146 and cold["target"] == CLASSIFIER_SHARE
    warm = classifier_share(47.0, {"sentences_unique": 100, "sentences_encoded": 40,
                                   "encode_s": 3.0})
    assert warm["ratio"] is None and warm["note"].startswith("60 of 100 sentences came from")
