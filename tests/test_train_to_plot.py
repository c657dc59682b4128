"""Issue 26, item 7: from training to its plot.

The progress shows the loss; a run that will keep fewer than two checkpoints says so when
training starts, and ``bench analyze --checkpoints`` says so before encoding anything, both
naming the flags that give a trajectory; ``bench run`` on a run folder says which pooler it
uses and why. Runs are a couple of steps of the tiny random BERT (``tiny_bert``)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import bench.analysis.compute as compute
from bench.analysis.targets import collect_targets
from bench.cli import main
from bench.encoders.registry import EncoderOptions, resolve
from bench.errors import BenchError
from bench.train import rundir
from bench.train.config import TrainConfig, checkpoint_steps
from bench.train.trainer import Trainer
from tests.helpers import write_tiny_stsb


def _cfg(tmp: Path, corpus: Path, tiny_bert: Path, name: str, **kw) -> TrainConfig:
    base = dict(mode="unsup", data=str(corpus), backbone=str(tiny_bert), name=name,
                runs_dir=str(tmp), batch_size=4, max_length=16, max_steps=2, eval_steps=0,
                save_steps=50, log_steps=1, show_progress=True)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory, tiny_corpus, tiny_bert):
    """``--max-steps 2`` with the recipe's ``save_steps`` 50: one checkpoint (step 2); what
    training printed on stderr (not a terminal: the plain progress lines)."""
    root = tmp_path_factory.mktemp("runs")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        Trainer(_cfg(root, tiny_corpus, tiny_bert, "short")).train()
    return root / "short", err.getvalue()


@pytest.mark.slow  # trains two steps (module fixture)
def test_progress_shows_the_loss(short_run):
    run, err = short_run
    log = [json.loads(x) for x in (run / rundir.LOG_FILE).read_text().splitlines() if x]
    losses = [e["loss"] for e in log if "loss" in e]  # log_steps 1: one loss per step
    lines = [x for x in err.splitlines() if x.startswith("SimCSE short: ")]
    assert [x.split()[2] for x in lines] == ["1/2", "2/2"]
    shown = [float(x.rsplit("loss ", 1)[1].rstrip(")")) for x in lines]
    # the mean of the steps so far (at most the last ten), to the 4 decimals printed
    assert shown == pytest.approx([losses[0], np.mean(losses[:2])], abs=5e-5)


@pytest.mark.slow  # trains two steps (module fixture)
def test_training_says_when_it_keeps_one_checkpoint(short_run):
    run, err = short_run
    assert [s for s, _ in rundir.checkpoints(run)] == [2]
    warning = [x for x in err.splitlines() if x.startswith("bench: warning: run short")]
    assert len(warning) == 1
    assert "will keep 1 checkpoint (step 2)" in warning[0]
    assert "--save-steps 1 " in warning[0] and "--save-initial" in warning[0]
    # said before training: ahead of the first progress line
    lines = err.splitlines()
    assert lines.index(warning[0]) < next(i for i, x in enumerate(lines)
                                          if x.startswith("SimCSE short: "))


@pytest.mark.parametrize("total,save_steps,initial,expected", [
    (30, 50, False, [30]), (30, 50, True, [0, 30]), (100, 50, False, [50, 100]),
    (120, 50, False, [50, 100, 120]), (5, 0, False, [5]), (4, 2, True, [0, 2, 4])])
def test_checkpoint_steps(total, save_steps, initial, expected):
    assert checkpoint_steps(total, save_steps, initial) == expected


@pytest.mark.slow  # trains one step
def test_no_warning_with_a_trajectory(tmp_path, tiny_corpus, tiny_bert, capsys):
    Trainer(_cfg(tmp_path, tiny_corpus, tiny_bert, "traj", max_steps=1, save_initial=True,
                 show_progress=False)).train()
    assert [s for s, _ in rundir.checkpoints(tmp_path / "traj")] == [0, 1]
    assert "warning" not in capsys.readouterr().err


def test_training_warning_for_the_issue_case():
    """The issue's case without training: --max-steps 30 with the recipe's save_steps 50."""
    fake = SimpleNamespace(run_dir=Path("/nonexistent/runs/simcse-unsup-minilm-cpu"),
                           total_steps=30, step=0,
                           cfg=SimpleNamespace(name="simcse-unsup-minilm-cpu", save_steps=50,
                                               save_initial=False))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        Trainer._say_if_no_trajectory(fake)  # type: ignore[arg-type]
    assert err.getvalue() == (
        "bench: warning: run simcse-unsup-minilm-cpu will keep 1 checkpoint (step 30): "
        "'bench analyze align-uniform --checkpoints /nonexistent/runs/simcse-unsup-minilm-cpu' "
        "would draw one dot; for a trajectory over 30 steps, add --save-steps 6 (a checkpoint "
        "every 6 steps) and --save-initial (step 0, the pre-trained start)\n")


@pytest.mark.slow  # the analyze command imports matplotlib and reads a tiny STS-B
def test_analyze_says_so_before_encoding(monkeypatch, capsys, tmp_path):
    run = tmp_path / "runs" / "short"
    (run / "checkpoints" / rundir.step_dir_name(30)).mkdir(parents=True)
    data = write_tiny_stsb(tmp_path / "data", pairs=12)

    def no_encoding(*args, **kwargs):
        raise BenchError("encoding started")

    monkeypatch.setattr(compute, "model_tables", no_encoding)
    code = main(["analyze", "align-uniform", "--checkpoints", str(run), "--data-dir", str(data),
                 "--out-dir", str(tmp_path / "out"), "--threshold", "1"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and err[-1] == "bench: error: encoding started"
    assert err[0] == (f"bench: warning: --checkpoints {run}: 1 checkpoint (step 30), so it is "
                      f"one point, not a trajectory; train it again with --save-steps 6 (a "
                      f"checkpoint every 6 steps) and --save-initial (step 0, the pre-trained "
                      f"start)")


@pytest.mark.parametrize("steps,warned", [((0, 5), False), ((5,), True)])
def test_collecting_checkpoints_warns_for_fewer_than_two(tmp_path, capsys, steps, warned):
    run = tmp_path / "r"
    for step in steps:
        (run / "checkpoints" / rundir.step_dir_name(step)).mkdir(parents=True)
    assert [t.step for t in collect_targets([], [str(run)])] == list(steps)
    err = capsys.readouterr().err
    assert (err.startswith(f"bench: warning: --checkpoints {run}: 1 checkpoint (step 5)")
            if warned else err == "")


@pytest.mark.slow  # trains two steps (module fixture)
def test_run_folder_says_which_pooler_and_why(short_run):
    run, _ = short_run
    encoder = resolve(str(run), EncoderOptions())
    assert encoder.pooler == "cls_before_pooler"
    note = encoder.pooler_note
    assert note.startswith(f"{run / 'checkpoints' / 'step-00002'} (step 2): pooler "
                           f"cls_before_pooler, as the MLP was used in training only")
    assert "unsupervised" in note and "--pooler overrides it" in note
    asked = resolve(str(run), EncoderOptions(pooler="avg"))
    assert asked.pooler == "avg" and "pooler avg, as asked for" in asked.pooler_note


@pytest.mark.slow  # trains (module fixture), then a bench run on a tiny STS-B
def test_bench_run_prints_the_pooler(short_run, tmp_path, capsys):
    run, _ = short_run
    data = write_tiny_stsb(tmp_path / "data")
    assert main(["run", "--model", str(run), "--tasks", "STS-B", "--protocol", "all-spearman",
                 "--data-dir", str(data), "--skip-verify", "--no-report"]) == 0
    err = capsys.readouterr().err
    assert f"bench: {run / 'checkpoints' / 'step-00002'} (step 2): pooler cls_before_pooler" \
        in err
