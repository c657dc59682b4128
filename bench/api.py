"""The Python API: evaluate a model you hold, in three lines, and get the typed report.

    import bench
    result = bench.evaluate(model, tasks="sts", protocols="every")
    print(bench.table(result))

``model`` is a recipe name or path (what ``bench run --model`` takes), a ``SentenceTransformer``,
a Hugging Face model with ``tokenizer=`` and ``pooler=``, a ``(model, tokenizer)`` pair, an
``Encoder``, or any callable ``encode(list[str]) -> array``. Nothing is written unless ``out``
is given. ``bench run`` is this function plus printing and saving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.devices import check_device
from bench.encoders.base import Encoder
from bench.encoders.make import _object_device, encoder_options, make_encoder
from bench.encoders.registry import check_name, resolve
from bench.errors import ModelError
from bench.options import RunOptions
from bench.protocols import DEFAULT_TASKS, Protocol, parse_protocols, preset_tasks
from bench.reports import save
from bench.results import RunReport
from bench.runner import RunConfig, run
from bench.seeds import check_seed_folder, combine
from bench.tasks.taskfile import load_task_files
from bench.train.rundir import is_multi_seed_dir


def _protocols(protocols: str | Protocol | Sequence[str | Protocol]) -> list[Protocol]:
    if isinstance(protocols, Protocol):
        return [protocols]
    if isinstance(protocols, str):
        return parse_protocols(protocols)
    out: list[Protocol] = []
    for item in protocols:
        for p in ([item] if isinstance(item, Protocol) else parse_protocols(item)):
            if all(q.key != p.key for q in out):
                out.append(p)
    return out


def _names(tasks: str | Sequence[str]) -> list[str]:
    if isinstance(tasks, str):
        return [t for t in tasks.replace(",", " ").split() if t]
    return list(tasks)


def evaluate(model: Any, tasks: str | Sequence[str] | None = None,
             protocols: str | Protocol | Sequence[str | Protocol] = "simcse", *,
             tokenizer: Any = None, name: str | None = None, out: str | Path | None = None,
             **options: Any) -> RunReport | None:
    """Evaluate ``model`` on ``tasks`` under ``protocols``; return the typed run report.

    ``options``: the fields of ``bench.options.RunOptions``, the same options as ``bench run``
    (``batch_size`` for ``--batch-size``), checked before anything is loaded: an unknown name
    or a bad value is one line naming it. Among them: ``task_files``, STS task files (TOML,
    ``bench.tasks.taskfile``) to register, and ``tasks_dir``, a folder of them (default
    ``$BENCH_TASKS_DIR``), registered so that ``tasks`` can name them; ``prompt`` (both sides),
    ``prompt_a``/``prompt_b`` (first / second sentence of a pair), ``prompt_name`` (a
    sentence-transformers model's own named prompt) replace a recipe's prompts for every task
    family (``bench.prompts``); ``max_length`` truncates inputs (tokens); ``dtype`` is the
    load dtype of the weights, apart from the autocast ``precision``; ``device`` defaults to
    the model object's own device, and to the CPU for names and paths; ``transfer_protocol``
    (``senteval``, ``senteval-fasttest``, ...) sets ``transfer_config``, ``classifier`` and
    ``seed`` at once (given with one of them, they must agree); ``show_progress`` is off.

    ``name`` labels the model in the report and its tables; without it a recipe or path is
    named as given, and a model object by its model card or ``name_or_path`` (a
    ``SentenceTransformer`` loaded from the hub: its hub id), a function by its name.

    ``tasks``: task names, aliases or sets (``sts``, ``transfer``, ``every``), as a list or a
    comma/space-separated string; default: the tasks of ``task_files`` when given, else those
    of the protocol presets that list theirs (``mteb``), else ``sts``. ``protocols``: presets,
    spelled forms, ``every``, ``every-cosine``. With ``out``, the report (and its per-pair
    sidecar) is written there. A folder of ``--seeds`` training runs (runs/NAME/seed-N) is
    evaluated seed by seed into one report (``bench.seeds``).

    Under ``torchrun --nproc_per_node N`` the encoding is sharded over the N processes
    (``bench.distributed``): rank 0 returns the report (and writes ``out``), the other ranks
    return None. In a script that set up its own process group, every rank must call it.
    """
    opts = RunOptions.from_kwargs(options)
    if isinstance(model, str | Path) and _is_seed_folder(model):
        if tokenizer is not None:
            raise ModelError("tokenizer= applies to a model object, not a folder of seed runs")
        report = _evaluate_seeds(Path(model), str(model), name, opts, tasks, protocols)
    else:
        report = _evaluate_one(model, tasks, protocols, tokenizer, name, opts)
    if out is not None and report is not None:
        save(report, Path(out))
    return report


def _evaluate_one(model: Any, tasks: str | Sequence[str] | None,
                  protocols: str | Protocol | Sequence[str | Protocol], tokenizer: Any,
                  name: str | None, opts: RunOptions) -> RunReport | None:
    """One model: register the task files, resolve the options, run."""
    declared = load_task_files(opts.task_files, [opts.tasks_dir] if opts.tasks_dir else None)
    if tasks is None:
        tasks = [meta.name for meta in declared] or _preset_tasks(protocols)
    opts = opts.resolved()
    device = opts.device
    if device is None and not isinstance(model, str | Path):
        device = _object_device(model)
    opts = replace(opts, device=check_device(device or "cpu"))
    by_name = isinstance(model, str | Path)
    config = RunConfig(model=str(model) if by_name else (name or ""),
                       protocols=_protocols(protocols), tasks=_names(tasks), options=opts)
    encoder: Encoder | None = None
    if by_name and name:  # a recipe or path labelled otherwise: resolve it here to rename it
        check_name(str(model))
        encoder = resolve(str(model), encoder_options(opts, opts.device))
        encoder.name = name
    elif not by_name:
        if opts.dtype not in (None, "fp32"):
            raise ModelError("dtype applies when bench loads the model; a model object is "
                             "used in the dtype it has (convert it before passing it)")
        encoder = make_encoder(model, tokenizer=tokenizer, pooler=opts.pooler,
                               precision=opts.precision, device=opts.device, name=name,
                               max_length=opts.max_length)
        if config.prompts is not None:
            encoder.set_prompts(config.prompts)
        config.model = encoder.name
    return run(config, encoder=encoder)


def _evaluate_seeds(path: Path, requested: str, name: str | None, opts: RunOptions,
                    tasks: str | Sequence[str] | None,
                    protocols: str | Protocol | Sequence[str | Protocol]) -> RunReport | None:
    """Evaluate every seed of a ``--seeds`` folder with the same options and combine them
    (``bench.seeds.combine``; None on the ranks other than 0 of a sharded run: rank 0 combines)."""
    runs = check_seed_folder(path)
    reports = [_evaluate_one(str(run), tasks, protocols, None, None, opts) for _, run in runs]
    if any(r is None for r in reports):
        return None
    return combine(reports, [s for s, _ in runs], [str(p) for _, p in runs], name or requested,
                   requested)


def _is_seed_folder(model: str | Path) -> bool:

    return is_multi_seed_dir(Path(model).expanduser())


def _preset_tasks(protocols: str | Protocol | Sequence[str | Protocol]) -> list[str]:
    items = [protocols] if isinstance(protocols, str | Protocol) else list(protocols)
    text = ",".join(p for p in items if isinstance(p, str))
    return preset_tasks(text) if text else list(DEFAULT_TASKS)
