"""The run options, defined once: ``bench run``, ``bench analyze``, training's evaluation flags
and ``bench.evaluate(model, tasks=..., protocols=..., **options)`` all come from ``RunOptions``.

Each field's metadata (help, flag, choices, check, groups) generates the argparse flags of the
commands whose group it belongs to (``add_arguments``) and the one validation both the CLI and
the Python API go through, so that ``--batch-size 0`` and ``batch_size=0`` fail with the same
line, naming the option as the caller spelled it. Adding an option is adding one field here,
plus the code that uses it.

Flag groups: ``encode`` (the encoder's spec and cache key: run, analyze), ``data`` (run,
analyze, training, ``bench data``), ``run`` (run only).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bench.encoders.base import PRECISIONS
from bench.encoders.onnx import BACKENDS
from bench.encoders.pooling import POOLERS
from bench.errors import BenchError, ProtocolError
from bench.prompts import read_instructions
from bench.protocols import (
    CLASSIFIERS,
    CONFIGS,
    DEFAULT_TRANSFER_SEED,
    REGRESSOR_SELECTIONS,
    TransferProtocol,
    parse_transfer,
)
from bench.registry import suggest
from bench.seeding import check_seed
from bench.variants import QUANTIZATIONS, parse_dims, parse_quantize

ENCODE, DATA, RUN = "encode", "data", "run"
GROUPS = (ENCODE, DATA, RUN)
Check = Callable[[Any, str], None]


def option(default: Any, help: str, *, group: str = RUN, kind: type = str,
           flag: str | None = None, negative: str | None = None,
           choices: Sequence[str] | None = None, check: Check | None = None,
           metavar: str | None = None, cli_default: Any = None) -> Any:
    """A RunOptions field. ``kind``: the type a value must have (``bool``, ``int``, ``str``;
    ``Path`` = a str or a path, kept as str; ``tuple`` = a list of paths); ``negative``: the
    flag of a bool option that sets it False (``--no-cache`` for ``use_cache``);
    ``cli_default``: where the command line's default differs from the API's (the progress
    bar)."""
    if group not in GROUPS:
        raise ValueError(f"option group {group!r} is not one of {GROUPS}")
    meta = {"help": help, "group": group, "kind": kind, "flag": flag, "negative": negative,
            "choices": tuple(choices) if choices is not None else None, "check": check,
            "metavar": metavar, "cli_default": cli_default}
    return field(default=default, metadata=meta)


def positive(what: str) -> Check:
    """A check that the value is an integer of at least 1; ``what`` ends the message."""
    def check(value: Any, name: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BenchError(f"{name} must be {what}, got {value!r}")
    return check


def a_seed(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BenchError(f"{name} must be an integer, got {value!r}")
    check_seed(value, name)


def _ignore(_: Any) -> None:
    """A parser used as a check: its value is parsed again where it is used."""


def a_transfer_protocol(value: Any, name: str) -> None:
    """A preset or spelled form (``bench.protocols.parse_transfer``'s own message)."""
    if isinstance(value, str):
        parse_transfer(value)
    elif not isinstance(value, TransferProtocol):
        raise BenchError(f"{name} must be a transfer protocol name, got {value!r}")


@dataclass(frozen=True)
class RunOptions:
    """Every option of a run besides the model, its tasks and its protocols."""

    # -- encode: part of the encoder's spec and cache key (run, analyze) -------------------
    pooler: str | None = option(
        None, "pooler for a path, hub id or checkpoint (overrides a recipe's)", group=ENCODE,
        choices=POOLERS)
    device: str | None = option(
        None, "cpu, cuda, cuda:N or mps (default: a model object's own device, else cpu)",
        group=ENCODE)
    precision: str = option("fp32", "autocast precision for transformer encoders",
                            group=ENCODE, choices=PRECISIONS)
    batch_size: int = option(64, "encoding batch size", group=ENCODE, kind=int,
                             check=positive("a positive integer"))
    cache_dir: str | None = option(None, "embedding cache (default $BENCH_CACHE_DIR or "
                                   "~/.cache/bench/embeddings)", group=ENCODE, kind=Path)
    use_cache: bool = option(True, "neither read nor write the cache", group=ENCODE,
                             kind=bool, negative="--no-cache")
    prompt: str | None = option(
        None, "text put before every sentence, both sides, every task family (e5: 'query: "
        "'); replaces a recipe's prompts", group=ENCODE, metavar="TEXT")
    prompt_a: str | None = option(None, "prompt of the first sentence of a pair (overrides "
                                  "--prompt for that side)", group=ENCODE, metavar="TEXT")
    prompt_b: str | None = option(None, "prompt of the second sentence of a pair",
                                  group=ENCODE, metavar="TEXT")
    prompt_name: str | None = option(
        None, "a sentence-transformers model's own named prompt (its prompts in "
        "config_sentence_transformers.json)", group=ENCODE, metavar="NAME")
    instructions: Any = option(
        None, "instructions keyed as MTEB keys model prompts (task-query, task, STS-query, "
        "STS, query, document), with instruction_template and sts_prompts (symmetric or "
        "asymmetric): a TOML file (a table from Python); replaces a recipe's", group=ENCODE,
        kind=object, metavar="FILE.toml", check=lambda value, name: _ignore(
            read_instructions(value)))
    max_length: int | None = option(
        None, "truncate inputs to this many tokens (transformer and sentence-transformers "
        "models; default: the recipe's, else the model's own limit, recorded in the report's "
        "model.extra.truncation)", group=ENCODE, kind=int, metavar="TOKENS",
        check=positive("a positive number of tokens"))
    dtype: str | None = option(
        None, "dtype the weights are loaded in (default: the recipe's, else fp32); "
        "--precision is the autocast precision, recorded apart", group=ENCODE,
        choices=PRECISIONS)
    show_progress: bool = option(False, "no progress bar", group=ENCODE, kind=bool,
                                 negative="--quiet", cli_default=True)
    # -- data (run, analyze, training's evaluation, bench data) --------------------------
    data_dir: str | None = option(
        None, "SentEval data: the 'downstream' folder or its parent (default: "
        "$BENCH_DATA_DIR, then ~/.cache/bench/senteval)", group=DATA, kind=Path)
    # -- run only --------------------------------------------------------------------------
    noise_floor: bool = option(False, "also encode the STS tasks at batch 8 and 128 and in the "
                               "device's reduced precisions, and record how far the numbers "
                               "move (bench compare marks smaller differences)", kind=bool,
                               flag="--noise-floor")
    backend: str = option(
        "torch", "inference backend of a transformer encoder: torch, onnx (ONNX Runtime, "
        "fp32, CPU) or onnx-int8 (int8-quantized: another model); recorded in the report "
        "and the cache key (needs the onnx extra)", choices=BACKENDS)
    verify_data: bool = option(True, "do not fail when a data file's sha256 differs from the "
                               "manifest", kind=bool, negative="--skip-verify")
    task_files: tuple[str, ...] = option(
        (), "an STS task file declaring your own data (format: docs/how-to/own-data.md); "
        "repeatable", kind=tuple, flag="--task-file", metavar="TOML")
    tasks_dir: str | None = option(None, "a folder of task files whose tasks --tasks can name "
                                   "(default $BENCH_TASKS_DIR)", kind=Path, metavar="DIR")
    transfer_config: str | None = option(
        None, "SentEval classifier setting for transfer tasks: test (kfold 10, adam, batch 64, "
        "tenacity 5, epoch_size 4; the literature's) or fasttest (kfold 5, rmsprop, batch "
        "128, tenacity 3, epoch_size 2) (default test)", choices=sorted(CONFIGS))
    classifier: str | None = option(
        None, "transfer classifier: torch logistic regression (SentEval's usepytorch) or "
        "scikit-learn LogisticRegression (default torch)", choices=CLASSIFIERS)
    transfer_protocol: str | TransferProtocol | None = option(
        None, "the two above (and the seed) at once: senteval (SentEval's default, as in "
        "SimCSE Table E.1), senteval-fasttest, senteval-sklearn, senteval-fasttest-sklearn "
        "(recorded in the report either way)", kind=object, check=a_transfer_protocol)
    jobs: int | None = option(None, "transfer tasks fitted at once, in threads (default: one "
                              "per CPU core on CPU, 1 on a GPU); results do not depend on it",
                              kind=int, check=positive("at least 1"))
    regressor_selection: str = option(
        "pearson", "dev metric that selects the STS-B/SICK-R regressor (-reg protocols): "
        "pearson = upstream SentEval, spearman = SimCSE's fork", choices=REGRESSOR_SELECTIONS)
    regressor_label_fix: bool = option(
        False, "map STS-B scores onto [1, 5] before the soft-label encoding instead of "
        "reproducing SentEval's encoding of scores below 1", kind=bool)
    seed: int | None = option(None, "default 1111 (SentEval's)", kind=int, check=a_seed)
    dims: str | tuple[int, ...] | None = option(
        None, "Matryoshka dimensions also scored from the same vectors, e.g. 768,512,256,128,64 "
        "(the first d coordinates, renormalised); one more report per dimension",
        kind=object, metavar="D,D,...", check=lambda value, name: _ignore(parse_dims(value, name)))
    quantize: str | tuple[str, ...] | None = option(
        None, f"quantized vectors also scored from the same vectors: {','.join(QUANTIZATIONS)} "
        "(sentence-transformers' quantize_embeddings; int8 calibrated on each task's "
        "sentences, binary compared by Hamming distance); one more report per variant",
        kind=object, metavar="Q,Q", check=lambda value, name: _ignore(parse_quantize(value, name)))

    def __post_init__(self) -> None:
        """Check and normalize every field, named as the Python API spells it."""
        for name, value in _checked(type(self), vars(self), spell=lambda f: f.name).items():
            object.__setattr__(self, name, value)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_kwargs(cls, options: Mapping[str, Any]) -> RunOptions:
        """``bench.evaluate(**options)``: an unknown name is one line with the valid ones."""
        for name in options:
            if name not in cls.names():
                raise BenchError(f"unknown option {name!r}{suggest(name, cls.names())}; "
                                 f"valid: {', '.join(cls.names())}")
        return cls(**options)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunOptions:
        """The options of a parsed command line (a field its command has no flag for keeps
        its default); an error names the flag, not the field."""
        given = {n: getattr(args, n) for n in cls.names() if hasattr(args, n)}
        return cls(**_checked(cls, given, spell=flag_of))

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def resolved(self) -> RunOptions:
        """The transfer setting made explicit: ``transfer_protocol`` sets ``transfer_config``,
        ``classifier`` and ``seed`` (they must agree with it when given too), else they take
        SentEval's defaults (test, torch, 1111)."""
        config, classifier, seed = _transfer_options(
            self.transfer_protocol, self.transfer_config, self.classifier, self.seed)
        return replace(self, transfer_config=config, classifier=classifier, seed=seed)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser | Any,
                      groups: Iterable[str]) -> None:
        """The flags of the fields in ``groups``; values are checked by ``from_args``, so
        argparse takes every value as given (the same line as the API for a bad one)."""
        wanted = set(groups)
        for f in fields(cls):
            if f.metadata["group"] in wanted:
                parser.add_argument(flag_of(f), **_argparse_kwargs(f))


def flag_of(f: Any) -> str:
    """The command-line spelling of a field: ``--batch-size``, ``--no-cache``, ``--task-file``."""
    meta = f.metadata
    return meta["negative"] or meta["flag"] or f"--{f.name.replace('_', '-')}"


def _int_or_text(text: str) -> int | str:
    """argparse's type for int options: a non-number is kept, so that the same check as the
    API's refuses it, in the same words."""
    try:
        return int(text)
    except ValueError:
        return text


def _argparse_kwargs(f: Any) -> dict[str, Any]:
    meta = f.metadata
    default = f.default if meta["cli_default"] is None else meta["cli_default"]
    help_text = meta["help"]
    kwargs: dict[str, Any] = {"dest": f.name, "default": default}
    if meta["negative"]:
        kwargs["action"] = "store_false"
    elif meta["kind"] is bool:
        kwargs["action"] = "store_true"
    elif meta["kind"] is tuple:
        kwargs.update(action="append", default=[])
    else:
        if meta["kind"] is int:
            kwargs["type"] = _int_or_text
        if meta["choices"] is not None:
            kwargs["metavar"] = "{" + ",".join(meta["choices"]) + "}"
        if default is not None and "default" not in help_text:
            help_text += f" (default {default})"
    if meta["metavar"]:
        kwargs["metavar"] = meta["metavar"]
    kwargs["help"] = help_text
    return kwargs


def _checked(cls: type, values: Mapping[str, Any], spell: Callable[[Any], str]
             ) -> dict[str, Any]:
    """``values`` checked field by field (type, choices, check) and normalized (paths as str,
    task files as a tuple); the first bad one raises one line naming it by ``spell``."""
    out = dict(values)
    for f in fields(cls):
        if f.name in out:
            out[f.name] = _check_one(f, out[f.name], spell(f))
    return out


def _check_one(f: Any, value: Any, name: str) -> Any:
    meta = f.metadata
    if value is None and f.default is None:
        return None
    kind = meta["kind"]
    if kind is bool and not isinstance(value, bool):
        raise BenchError(f"{name} must be True or False, got {value!r}")
    if kind is Path:
        if not isinstance(value, str | Path):
            raise BenchError(f"{name} must be a path, got {value!r}")
        return str(value)
    if kind is tuple:
        items = [value] if isinstance(value, str | Path) else value
        if not isinstance(items, Iterable) or not all(isinstance(v, str | Path) for v in items):
            raise BenchError(f"{name} must be a list of paths, got {value!r}")
        return tuple(str(v) for v in items)
    if meta["choices"] is not None:
        if not isinstance(value, str) or value not in meta["choices"]:
            raise BenchError(f"{name}: unknown value {value!r}; valid: "
                             f"{', '.join(meta['choices'])}")
    elif kind is str and not isinstance(value, str):
        raise BenchError(f"{name} must be a string, got {value!r}")
    if meta["check"] is not None:
        meta["check"](value, name)
    return value


def _transfer_options(protocol: str | TransferProtocol | None, config: str | None,
                      classifier: str | None, seed: int | None) -> tuple[str, str, int]:
    """(transfer_config, classifier, seed) from a transfer protocol and/or the single options;
    a one-line ProtocolError when both are given and disagree."""
    if protocol is None:
        return (config or "test", classifier or "torch",
                DEFAULT_TRANSFER_SEED if seed is None else seed)
    proto = parse_transfer(protocol) if isinstance(protocol, str) else protocol
    for option_name, given, implied in (("transfer_config", config, proto.config),
                                        ("classifier", classifier, proto.classifier),
                                        ("seed", seed, proto.seed)):
        if given is not None and given != implied:
            raise ProtocolError(f"transfer protocol {proto.key!r} means {option_name} "
                                f"{implied!r}, but {option_name} {given!r} was given; give "
                                f"one of the two")
    return proto.config, proto.classifier, proto.seed


__all__ = ["DATA", "ENCODE", "GROUPS", "RUN", "RunOptions", "flag_of", "option"]
