"""Issue 26, item 5: errors that point the way.

A path-like ``--model`` that does not exist is "no such folder" (never a hub look-up and never
the list of every recipe); only ``org/name`` reaches the hub; a recipe typo gets its closest
recipes first, in a short line, without the hub; a task typo gets the names tables print; and
``bench ... | head -1`` ends quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bench.encoders.transformer as transformer
from bench.cli import main
from bench.encoders.registry import EncoderOptions, resolve
from bench.errors import DataError, ModelError
from bench.recipes import load_recipes
from bench.tasks.registry import select
from tests.helpers import write_tiny_stsb

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def hub_calls(monkeypatch):
    """Every attempt to load a model by name through transformers (the hub), recorded."""
    seen: list[str] = []

    def fake_load(location, display, dtype="fp32"):
        seen.append(location)
        raise ModelError("reached the loader")

    monkeypatch.setattr(transformer, "load_hf", fake_load)
    return seen


@pytest.mark.parametrize("name,what", [
    ("./models/my-simcse", "folder"), ("../models/my-simcse", "folder"),
    ("/no/such/model", "folder"), ("~/no-such-model-26", "folder"), ("a/b/c", "folder"),
    ("runs/my-run", "folder"), ("vectors/glove.txt", "file"), ("my-vectors.txt", "file"),
])
def test_path_like_names_are_paths(tmp_path, monkeypatch, hub_calls, name, what):
    monkeypatch.chdir(tmp_path)  # no runs/ here: runs/NAME is still bench's run folder
    monkeypatch.delenv("BENCH_RUNS_DIR", raising=False)
    with pytest.raises(ModelError) as info:
        resolve(name).encode(["x"])
    text = str(info.value)
    assert text.startswith(f"--model {name}: no such {what}"), text
    assert "valid recipes" not in text and "glove-avg" not in text and "\n" not in text
    assert hub_calls == []


def test_a_missing_run_next_to_others_suggests_them(tmp_path, monkeypatch, hub_calls):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_RUNS_DIR", raising=False)
    (tmp_path / "runs" / "my-run-2").mkdir(parents=True)
    (tmp_path / "my-org").mkdir()
    with pytest.raises(ModelError, match=r"^--model runs/my-run: no such folder; did you mean "
                                         r"runs/my-run-2\?$"):
        resolve("runs/my-run")
    # org/name whose org is a folder here is a path too, not a hub id
    with pytest.raises(ModelError, match="^--model my-org/model: no such folder"):
        resolve("my-org/model")
    assert hub_calls == []


def test_runs_name_is_looked_for_under_bench_runs_dir(tmp_path, monkeypatch, hub_calls):
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "my-run-2").mkdir(parents=True)
    monkeypatch.setenv("BENCH_RUNS_DIR", str(elsewhere))
    with pytest.raises(ModelError) as info:
        resolve("runs/my-run")
    assert str(info.value) == (f"--model runs/my-run: no such folder (nor {elsewhere / 'my-run'}"
                               f", under $BENCH_RUNS_DIR); did you mean "
                               f"{elsewhere / 'my-run-2'}?")
    assert hub_calls == []


@pytest.mark.parametrize("typo,first", [("glove-avgg", "glove-avg"), ("minlm-avg", "minilm-avg"),
                                        ("simcse-bertt", "simcse-bert")])
def test_recipe_typo_suggests_first_and_short_without_the_hub(hub_calls, typo, first):
    with pytest.raises(ModelError) as info:
        resolve(typo)  # fails here, before any encoder (and so any hub call) exists
    text = str(info.value)
    assert text.startswith(f"unknown model {typo!r}; did you mean {first}"), text
    assert "bench list models" in text and "org/name" in text
    # short: not the list of every recipe (there are more than 40 of them)
    assert len(load_recipes()) > 40 and len(text) < 250
    assert sum(r in text.split() for r in load_recipes()) <= 3
    assert hub_calls == []


def test_bare_names_never_reach_the_hub_unless_cached(hub_calls, monkeypatch, tmp_path):
    """A bare legacy id (``bert-base-uncased``) is a hub id only when it was downloaded
    already (huggingface_hub's cache layout: models--NAME/refs/main, snapshots/COMMIT/)."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    with pytest.raises(ModelError, match="^unknown model 'bert-base-uncased'; did you mean "
                                         "bert-base-cls"):
        resolve("bert-base-uncased", EncoderOptions(pooler="cls"))
    assert hub_calls == []
    repo = cache / "models--bert-base-uncased"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    (repo / "snapshots" / ("0" * 40)).mkdir(parents=True)
    (repo / "snapshots" / ("0" * 40) / "config.json").write_text("{}")
    enc = resolve("bert-base-uncased", EncoderOptions(pooler="cls"))
    with pytest.raises(ModelError, match="reached the loader"):
        enc.encode(["x"])
    assert hub_calls == ["bert-base-uncased"]


def test_org_name_is_a_hub_id(hub_calls):
    enc = resolve("nobody/no-such-model", EncoderOptions(pooler="avg"))
    with pytest.raises(ModelError, match="reached the loader"):
        enc.encode(["x"])
    assert hub_calls == ["nobody/no-such-model"]


@pytest.mark.slow  # bench run imports torch and reads the task before resolving the model
def test_cli_missing_folder_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = write_tiny_stsb(tmp_path / "data")
    out = tmp_path / "r.json"
    code = main(["run", "--model", "./models/my-simcse", "--tasks", "STS-B", "--skip-verify",
                 "--data-dir", str(data), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines()[-1] == ("bench: error: --model ./models/my-simcse: "
                                                  "no such folder (nearest existing folder: .)")
    assert len(err.splitlines()) == 2  # the --skip-verify warning, then the error
    assert not out.exists()


@pytest.mark.parametrize("typo,suggested", [("STS-17", "STS16"), ("stsbenchmrk", "STS-B"),
                                            ("sick-rr", "SICK-R"), ("SICKR-al", "SICK-R-all")])
def test_task_typo_gets_the_table_names(typo, suggested):
    with pytest.raises(DataError) as info:
        select([typo])
    text = str(info.value)
    head, _, valid = text.partition("; valid: ")
    assert head.startswith(f"unknown task {typo!r}; did you mean ") and suggested in head
    # the valid names as tables print them, not the registry's keys
    assert "STS-B" in valid and "SICK-R" in valid
    assert "STSBenchmark" not in text and "SICKRelatedness" not in text


def test_task_aliases_are_accepted_everywhere():
    assert [m.name for m in select(["sts-b", "SICK-R", "stsb", "STSBenchmark"])] == \
        ["STSBenchmark", "SICKRelatedness"]


@pytest.mark.parametrize("argv", [["list", "models", "--json"], ["list", "tasks"],
                                  ["list", "models"]])
def test_closed_pipe_ends_quietly_in_process(monkeypatch, capsys, argv):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone: every write meets a broken pipe
    with open(write_end, "w", encoding="utf-8") as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        assert main(argv) == 141  # 128 + SIGPIPE, as a tool killed by the signal
    assert capsys.readouterr().err == ""


@pytest.mark.slow  # starts Python (seconds on a busy machine)
def test_closed_pipe_ends_quietly():
    """``bench list models --json | head -1``: the reader is gone before bench writes (its
    end of the pipe is closed before bench starts), so the first write meets a broken pipe,
    and Python's own exit must not report it again."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        done = subprocess.run([sys.executable, "-m", "bench", "list", "models", "--json"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, env=env,
                              timeout=120)
    finally:
        os.close(write_end)
    assert done.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored"
    assert done.returncode == 141
