"""The run options are defined once (bench.options.RunOptions): the flags of bench run,
bench analyze and training come from it, bench.evaluate validates through it, and the CLI and
the API refuse a bad value with the same line, each naming the option as its caller spells it."""

from __future__ import annotations

import argparse
from dataclasses import fields, make_dataclass

import pytest

import bench
import bench.api
import bench.commands.analyze
import bench.commands.run
from bench.cli import build_parser
from bench.cli import main as cli
from bench.errors import BenchError
from bench.options import DATA, ENCODE, RUN, RunOptions, flag_of, option, positive
from bench.runner import RunConfig


def _subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def _never_called(batch):
    raise AssertionError("the model was called: the options were not checked first")


# Every flag the options must make, written out here (not derived from RunOptions): the
# drift of issue 24 was analyze lacking --prompt*, --max-length and --dtype.
ENCODE_FLAGS = {"--pooler", "--device", "--precision", "--batch-size", "--cache-dir",
                "--no-cache", "--prompt", "--prompt-a", "--prompt-b", "--prompt-name",
                "--max-length", "--dtype", "--quiet", "--instructions"}
DATA_FLAGS = {"--data-dir"}
RUN_FLAGS = {"--skip-verify", "--task-file", "--tasks-dir", "--transfer-config",
             "--classifier", "--transfer-protocol", "--jobs", "--regressor-selection",
             "--regressor-label-fix", "--seed", "--backend", "--dims", "--quantize",
             "--noise-floor"}


def test_every_option_has_a_flag_in_run_and_analyze_where_its_group_says():
    parser = build_parser()
    run = _flags(_subparser(parser, "run"))
    assert ENCODE_FLAGS | DATA_FLAGS | RUN_FLAGS <= run
    analyses = list(_subparser(parser, "analyze")._actions[-1].choices)
    assert analyses  # every analysis, whatever it is called
    for name in analyses:
        flags = _flags(_subparser(parser, "analyze", name))
        assert ENCODE_FLAGS | DATA_FLAGS <= flags, name
        assert not (RUN_FLAGS - {"--seed"}) & flags, name  # --seed: the pair-sampling seed
    train = _flags(_subparser(parser, "train", "simcse"))
    assert "--data-dir" in train
    # and every field of the definition is one of them, in its group's commands
    expected = {ENCODE: ENCODE_FLAGS, DATA: DATA_FLAGS, RUN: RUN_FLAGS}
    assert {flag_of(f) for f in fields(RunOptions)} == ENCODE_FLAGS | DATA_FLAGS | RUN_FLAGS
    for f in fields(RunOptions):
        assert flag_of(f) in expected[f.metadata["group"]], f.name


def test_the_command_line_defaults_are_the_api_defaults():
    """``bench run --model m`` and ``bench.evaluate(m)`` run with the same options, but for
    the progress bar (shown on a terminal, not from Python)."""
    args = build_parser().parse_args(["run", "--model", "m"])
    cli_options = RunOptions.from_args(args).as_dict()
    api_options = RunOptions().as_dict()
    assert cli_options.pop("show_progress") is True and api_options.pop("show_progress") is False
    assert cli_options == api_options
    assert api_options["batch_size"] == 64 and api_options["precision"] == "fp32"
    assert api_options["use_cache"] is True and api_options["verify_data"] is True
    assert api_options["task_files"] == () and api_options["seed"] is None


# (option, value as given, the API's line): the CLI's is the same with the flag's name
BAD_VALUES = [
    ("batch_size", 0, "batch_size must be a positive integer, got 0"),
    ("batch_size", "many", "batch_size must be a positive integer, got 'many'"),
    ("max_length", -3, "max_length must be a positive number of tokens, got -3"),
    ("jobs", 0, "jobs must be at least 1, got 0"),
    ("precision", "fp8", "precision: unknown value 'fp8'; valid: fp32, bf16, fp16"),
    ("dtype", "float32", "dtype: unknown value 'float32'; valid: fp32, bf16, fp16"),
    ("pooler", "mean", "pooler: unknown value 'mean'; valid: cls, cls_before_pooler, avg, "
     "avg_first_last, avg_top2, lasttoken"),
    ("transfer_config", "slow", "transfer_config: unknown value 'slow'; valid: fasttest, test"),
    ("classifier", "svm", "classifier: unknown value 'svm'; valid: torch, sklearn"),
    ("regressor_selection", "kendall",
     "regressor_selection: unknown value 'kendall'; valid: pearson, spearman"),
    ("seed", -1, "seed must be between 0 and 4294967295, got -1"),
    ("seed", "x", "seed must be an integer, got 'x'"),
]


@pytest.mark.parametrize("name,value,line", BAD_VALUES)
def test_api_and_cli_give_the_same_line_for_a_bad_value(name, value, line, tmp_path, capsys):
    with pytest.raises(BenchError) as info:
        bench.evaluate(_never_called, tasks=["STS12"], use_cache=False, **{name: value})
    assert str(info.value) == line
    flag = "--" + name.replace("_", "-")
    out = tmp_path / "r.json"
    capsys.readouterr()
    assert cli(["run", "--model", "glove-avg", "--out", str(out), flag, str(value)]) == 2
    assert capsys.readouterr().err.strip() == "bench: error: " + flag + line[len(name):]
    assert not out.exists()


@pytest.mark.parametrize("name,value,line", [b for b in BAD_VALUES if b[0] in
                                             ("batch_size", "max_length", "dtype", "pooler")])
def test_analyze_refuses_a_bad_encoding_value_as_run_does(name, value, line, tmp_path,
                                                           capsys):
    flag = "--" + name.replace("_", "-")
    assert cli(["analyze", "spectrum", "--model", "glove-avg", "--out-dir", str(tmp_path),
                flag, str(value)]) == 2
    assert capsys.readouterr().err.strip() == "bench: error: " + flag + line[len(name):]
    assert not any(tmp_path.iterdir())


def test_an_unknown_option_is_one_line_with_a_suggestion():
    with pytest.raises(BenchError) as info:
        bench.evaluate(_never_called, tasks=["STS12"], batsh_size=8)
    text = str(info.value)
    assert text.startswith("unknown option 'batsh_size'; did you mean batch_size?; valid: "
                           "pooler, device, precision, batch_size, ")
    assert "\n" not in text and "regressor_label_fix" in text


@pytest.mark.parametrize("name,value,line", [
    ("use_cache", "no", "use_cache must be True or False, got 'no'"),
    ("prompt", 3, "prompt must be a string, got 3"),
    ("data_dir", 1.5, "data_dir must be a path, got 1.5"),
    ("task_files", [1], "task_files must be a list of paths, got [1]")])
def test_a_value_of_the_wrong_type_is_refused_by_the_api(name, value, line):
    with pytest.raises(BenchError) as info:
        bench.evaluate(_never_called, tasks=["STS12"], **{name: value})
    assert str(info.value) == line


def test_run_config_takes_the_options_and_checks_them():
    with pytest.raises(BenchError, match="^batch_size must be a positive integer, got 0$"):
        RunConfig(model="m", protocols=[], batch_size=0)
    config = RunConfig(model="m", protocols=[], transfer_protocol="senteval-fasttest")
    assert (config.options.transfer_config, config.options.classifier) == ("fasttest", "torch")
    assert config.options.seed == 1111 and config.device == "cpu"


def test_a_new_option_is_one_field(monkeypatch, tmp_path, capsys):
    """One field added to the definition is a flag of bench run and bench analyze and a
    keyword of bench.evaluate, checked in the same words, with no other edit."""
    widened = make_dataclass(
        "RunOptions", [("widgets", int, option(3, "widgets per sentence", group=ENCODE,
                                               kind=int, check=positive("a positive integer")))],
        bases=(RunOptions,), frozen=True)
    for module in (bench.api, bench.commands.run, bench.commands.analyze):
        monkeypatch.setattr(module, "RunOptions", widened)
    parser = build_parser()
    assert "--widgets" in _flags(_subparser(parser, "run"))
    assert "--widgets" in _flags(_subparser(parser, "analyze", "spectrum"))
    with pytest.raises(BenchError) as info:
        bench.evaluate(_never_called, tasks=["STS12"], widgets=0)
    assert str(info.value) == "widgets must be a positive integer, got 0"
    capsys.readouterr()
    assert cli(["run", "--model", "glove-avg", "--no-report", "--widgets", "0"]) == 2
    assert capsys.readouterr().err.strip() == \
        "bench: error: --widgets must be a positive integer, got 0"
    assert cli(["analyze", "spectrum", "--model", "glove-avg", "--out-dir", str(tmp_path),
                "--widgets", "zero"]) == 2
    assert capsys.readouterr().err.strip() == \
        "bench: error: --widgets must be a positive integer, got 'zero'"


# ------------------------------------------------------- bench run --format (an output option)

def test_an_unknown_format_is_refused_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert cli(["run", "--model", "glove-avg", "--out", str(out), "--format", "xml"]) == 2
    assert capsys.readouterr().err.strip() == \
        "bench: error: --format: unknown value 'xml'; valid: terminal, md, latex, csv, json"
    assert not out.exists()


def test_run_format_json_prints_one_document_with_the_reports_numbers(tmp_path, capsys):
    import json
    from pathlib import Path

    from bench import render
    from bench.reports import load

    if not hasattr(render, "report_text"):
        pytest.skip("bench.render.report_text (Core v2 tables) is not merged in this tree")
    toy = Path(__file__).parent / "data" / "tasks" / "toy-sts.toml"
    out = tmp_path / "r.json"
    assert cli(["run", "--model", "glove-avg", "--task-file", str(toy), "--protocol",
                "all-spearman", "--no-cache", "--quiet", "--out", str(out),
                "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)  # stdout: the tables and nothing else
    report = load(out)
    value = report.scores[0].values["ToySTS"]
    assert f"{value:.2f}" in json.dumps(printed)
