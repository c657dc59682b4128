"""Run folders from someone else (issue 23): ``bench train simcse --resume`` and ``bench run
--model runs/X`` read them without running their code, refuse a resume that would not
continue the same run, and refuse malformed or redirected folders in one line naming the
file. One tiny run (random-weight BERT, 2 of 4 steps done) is trained once; each test works
on its own copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.cli import main as cli_main
from bench.encoders.registry import EncoderOptions, resolve
from bench.errors import BenchError
from bench.train import rundir
from bench.train.config import TrainConfig
from bench.train.trainer import Trainer
from tests.helpers import write_tiny_stsb

STEP2 = Path("checkpoints") / "step-00002"
# The settings the run was trained with, as command-line options (besides data and names).
OPTIONS = ["--mode", "unsup", "--batch-size", "4", "--max-length", "16", "--max-steps", "4",
           "--eval-steps", "2", "--save-steps", "2", "--log-steps", "1"]


class Touch:
    """Unpickling this creates ``path``: a harmless stand-in for code a pickle can run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


class StopAt:
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer: Trainer) -> bool:
        return trainer.step >= self.step


@pytest.fixture(scope="module")
def stsb(tmp_path_factory) -> Path:
    return write_tiny_stsb(tmp_path_factory.mktemp("stsb"), pairs=8)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_corpus, tiny_bert, stsb) -> Path:
    """A run stopped after step 2 of 4: checkpoints/step-00002 with train_state.pt, best/."""
    runs = tmp_path_factory.mktemp("runs")
    cfg = TrainConfig(mode="unsup", data=str(tiny_corpus), backbone=str(tiny_bert), name="r",
                      runs_dir=str(runs), batch_size=4, max_length=16, max_steps=4,
                      eval_steps=2, save_steps=2, log_steps=1, data_dir=str(stsb),
                      show_progress=False)
    assert not Trainer(cfg, callbacks=[StopAt(2)]).train()["finished"]
    return runs / "r"


@pytest.fixture
def run(tmp_path, trained, tiny_corpus) -> Path:
    """A copy of the run, trained on its own copy of the corpus (run.json points there)."""
    target = tmp_path / "runs" / "r"
    shutil.copytree(trained, target)
    data = tmp_path / "corpus.txt"
    shutil.copyfile(tiny_corpus, data)
    info = json.loads((target / "run.json").read_text())
    info["config"]["data"] = str(data)
    (target / "run.json").write_text(json.dumps(info))
    return target


def _resume(capsys, run: Path, tiny_bert: Path, stsb: Path, *extra: str) -> tuple[int, str]:
    data = str(run.parent.parent / "corpus.txt")  # where the run fixture put it
    code = cli_main(["train", "simcse", "--quiet", *OPTIONS, "--data", data, "--backbone",
                     str(tiny_bert), "--name", run.name, "--runs-dir", str(run.parent),
                     "--data-dir", str(stsb), "--resume", *extra])
    return code, capsys.readouterr().err


def _one_line(code: int, err: str, *parts: str) -> None:
    assert code == 2 and err.startswith("bench: error: ") and err.count("\n") == 1, err
    for part in parts:
        assert part in err, err


# -- 1. train_state.pt is read without unpickling code ------------------------------------------
def test_state_file_is_plain_data(trained):
    """What training writes loads under torch's weights_only loader (no code, no NumPy)."""
    state = torch.load(trained / STEP2 / rundir.STATE_FILE, weights_only=True)
    assert state["step"] == 2
    keys = state["rng"][0]["numpy"]["key"]
    assert isinstance(keys, list) and len(keys) == 624 and all(type(k) is int for k in keys)


def test_resume_refuses_a_pickle_that_runs_code(tmp_path, capsys, run, tiny_bert, stsb):
    marker = tmp_path / "pwned"
    state = run / STEP2 / rundir.STATE_FILE
    torch.save({"step": 2, "payload": Touch(marker)}, state)
    before = (run / "run.json").read_bytes()
    code, err = _resume(capsys, run, tiny_bert, stsb)
    assert not marker.exists()
    _one_line(code, err, str(state), "not a plain checkpoint", "refusing to load")
    assert (run / "run.json").read_bytes() == before
    assert not (run / "checkpoints" / "step-00004").exists()


def test_state_of_an_older_bench_is_refused_with_the_way_out(capsys, run, tiny_bert, stsb):
    """Older bench pickled NumPy's RNG state (an ndarray): refused, saying what to do."""
    state = run / STEP2 / rundir.STATE_FILE
    old = torch.load(state, weights_only=False)  # written by this test session's fixture
    old["rng"][0]["numpy"] = np.random.get_state()
    torch.save(old, state)
    code, err = _resume(capsys, run, tiny_bert, stsb)
    _one_line(code, err, str(state), "not a plain checkpoint", "start a new run")


def test_a_forged_step_is_refused(capsys, run, tiny_bert, stsb):
    """Plain data that disagrees with its folder (step 9 in step-00002) is not taken over."""
    state = run / STEP2 / rundir.STATE_FILE
    forged = torch.load(state, weights_only=False)  # written by this test session's fixture
    forged["step"] = 9
    torch.save(forged, state)
    code, err = _resume(capsys, run, tiny_bert, stsb)
    _one_line(code, err, str(state), "field 'step'")


def test_a_clean_copy_resumes_to_the_end(capsys, run, tiny_bert, stsb):
    code, err = _resume(capsys, run, tiny_bert, stsb)
    assert code == 0, err
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["steps_done"] == 4


# -- 2. a resume continues the same run or is refused ------------------------------------------
def test_resume_refuses_a_changed_training_file(capsys, run, tiny_bert, stsb):
    info = json.loads((run / "run.json").read_text())
    data = Path(info["config"]["data"])
    data.write_text(data.read_text() + "one more sentence\n")
    before = (run / "run.json").read_bytes()
    code, err = _resume(capsys, run, tiny_bert, stsb)
    _one_line(code, err, str(run / "run.json"), "data digest differs",
              f"run: {info['data']['sha256'][:12]}")
    assert (run / "run.json").read_bytes() == before  # the digest is not rewritten


def test_resume_refuses_a_run_without_run_json(capsys, run, tiny_bert, stsb):
    (run / "run.json").unlink()
    code, err = _resume(capsys, run, tiny_bert, stsb)
    _one_line(code, err, str(run / "run.json"), "missing")
    assert not (run / "run.json").exists()


def test_resume_refuses_other_dev_pairs(tmp_path, capsys, run, tiny_bert, stsb):
    """--data-dir may move, but best/ and the log must rest on one STS-B dev set."""
    other = write_tiny_stsb(tmp_path / "other-stsb", pairs=6)
    code, err = _resume(capsys, run, tiny_bert, other)
    _one_line(code, err, str(run / "run.json"), "STS-B dev digest differs")
    moved = tmp_path / "moved-stsb"
    shutil.copytree(stsb, moved)
    code, err = _resume(capsys, run, tiny_bert, moved)
    assert code == 0, err


@pytest.mark.parametrize("option, value, shown", [
    ("--lr", "1e-4", "run: learning_rate=3e-05; now: learning_rate=0.0001"),
    ("--seed", "7", "run: seed=42; now: seed=7"),
    ("--batch-size", "2", "run: batch_size=4; now: batch_size=2"),
])
def test_resume_names_the_changed_setting_and_both_values(capsys, run, tiny_bert, stsb,
                                                          option, value, shown):
    code, err = _resume(capsys, run, tiny_bert, stsb, option, value)
    _one_line(code, err, str(run / "run.json"), "different settings", shown)


# -- 3. a run folder as a model ----------------------------------------------------------------
def _edit_json(path: Path, **changes) -> None:
    value = json.loads(path.read_text())
    value.update(changes)
    path.write_text(json.dumps(value))


@pytest.mark.parametrize("case, file, expected", [
    ("not json", "run.json", "not valid JSON"),
    ("a list", "run.json", "expected a JSON object"),
    ("world_size", "run.json", "field 'world_size'"),
    ("sha256", "run.json", "field 'data.sha256'"),
    ("status", "run.json", "field 'status'"),
    ("backbone", "run.json", "field 'config.backbone'"),
    ("meta pooler", "best/bench_checkpoint.json", "field 'eval_pooler'"),
    ("meta list", "best/bench_checkpoint.json", "expected a JSON object"),
])
def test_a_malformed_run_folder_is_named(run, case, file, expected):
    path = run / file
    if case == "not json":
        path.write_text("{\"kind\": ")
    elif case in ("a list", "meta list"):
        path.write_text("[1, 2]")
    elif case == "world_size":
        _edit_json(path, world_size="2")
    elif case == "sha256":
        _edit_json(path, data={"path": "x"})
    elif case == "status":
        _edit_json(path, status=["finished"])
    elif case == "backbone":
        config = json.loads(path.read_text())["config"]
        _edit_json(path, config={**config, "backbone": {"path": "/elsewhere"}})
    else:
        _edit_json(path, eval_pooler="__import__('os')")
    with pytest.raises(BenchError, match=expected) as err:
        resolve(str(run), EncoderOptions())
    assert str(path) in str(err.value)


def test_bench_run_on_a_malformed_run_is_one_line(capsys, run, stsb):
    (run / "run.json").write_text("{")
    code = cli_main(["run", "--model", str(run), "--tasks", "STSBenchmark", "--data-dir",
                     str(stsb), "--no-report", "--quiet", "--skip-verify"])
    # (the tiny STS-B is not the manifest's: --skip-verify, which warns on its own line)
    errors = [line for line in capsys.readouterr().err.splitlines()
              if not line.startswith("bench: warning: ")]
    _one_line(code, "".join(e + "\n" for e in errors), str(run / "run.json"), "not valid JSON")


def test_best_linked_outside_the_run_is_refused(tmp_path, run):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(run / "best", elsewhere)
    (run / "best").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(BenchError, match="links outside the run folder"):
        resolve(str(run), EncoderOptions())


def test_a_weight_file_linked_outside_is_refused(tmp_path, run):
    weights = run / "best" / "model.safetensors"
    shutil.move(weights, tmp_path / "w.safetensors")
    weights.symlink_to(tmp_path / "w.safetensors")
    with pytest.raises(BenchError, match="links outside the checkpoint folder"):
        resolve(str(run), EncoderOptions())


def test_a_seed_folder_linked_elsewhere_is_refused(tmp_path, run):
    group = tmp_path / "group"
    group.mkdir()
    (group / "seed-1").symlink_to(run, target_is_directory=True)
    with pytest.raises(BenchError, match="links outside the folder"):
        rundir.seed_runs(group)  # what bench run --model GROUP evaluates


def test_pickled_weights_are_never_loaded(run):
    """A .bin instead of safetensors is refused, although torch could read it."""
    best = run / "best"
    from safetensors.torch import load_file

    torch.save(load_file(best / "model.safetensors"), best / "pytorch_model.bin")
    (best / "model.safetensors").unlink()
    with pytest.raises(BenchError, match=r"no model.safetensors \(found pytorch_model.bin"):
        resolve(str(run), EncoderOptions())


def test_a_config_naming_custom_code_is_refused(run):
    config = run / "best" / "config.json"
    _edit_json(config, auto_map={"AutoModel": "modeling_evil.EvilModel"})
    with pytest.raises(BenchError, match="auto_map") as err:
        resolve(str(run), EncoderOptions())
    assert str(config) in str(err.value)


def test_resume_refuses_a_checkpoint_linked_elsewhere(tmp_path, capsys, run, tiny_bert, stsb):
    """Resuming would load that state and later delete it (only the latest keeps one)."""
    elsewhere = tmp_path / "elsewhere"
    shutil.move(run / STEP2, elsewhere)
    (run / STEP2).symlink_to(elsewhere, target_is_directory=True)
    code, err = _resume(capsys, run, tiny_bert, stsb)
    _one_line(code, err, str(run / STEP2), "links outside the run folder")
    assert (elsewhere / rundir.STATE_FILE).is_file()


# -- models that ship their own code -----------------------------------------------------------
def _folder_with_code(tiny_bert: Path, folder: Path, marker: Path) -> Path:
    """A model folder whose config asks transformers to import its modeling_evil.py, which
    creates ``marker`` on import."""
    shutil.copytree(tiny_bert, folder)
    _edit_json(folder / "config.json", model_type="evilbert",
               auto_map={"AutoConfig": "modeling_evil.EvilConfig",
                         "AutoModel": "modeling_evil.EvilModel"})
    (folder / "modeling_evil.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
        "from transformers import BertConfig, BertModel\n"
        "class EvilConfig(BertConfig):\n    model_type = 'evilbert'\n"
        "class EvilModel(BertModel):\n    config_class = EvilConfig\n")
    return folder


@pytest.mark.parametrize("where", ["backbone", "bench run"])
def test_custom_code_is_never_run_even_when_the_user_says_yes(tmp_path, monkeypatch, tiny_bert,
                                                              where):
    """Without trust_remote_code=False, transformers asks on the terminal; a yes runs the
    folder's code. bench passes False, so nothing is asked and nothing runs."""
    from bench.train.model import load_backbone

    marker = tmp_path / "pwned"
    folder = _folder_with_code(tiny_bert, tmp_path / "model", marker)
    monkeypatch.setattr("builtins.input", lambda *a: "y")
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "modules"))
    with pytest.raises(BenchError, match="custom code"):
        if where == "backbone":
            load_backbone(str(folder))
        else:
            resolve(str(folder), EncoderOptions(pooler="cls")).encode(["a sentence"])
    assert not marker.exists()
