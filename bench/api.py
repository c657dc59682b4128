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
from pathlib import Path
from typing import Any

from bench.devices import check_device
from bench.encoders.base import Encoder
from bench.encoders.make import _object_device, make_encoder
from bench.errors import ModelError, ProtocolError
from bench.prompts import Prompts
from bench.protocols import (
    DEFAULT_TASKS,
    DEFAULT_TRANSFER_SEED,
    Protocol,
    TransferProtocol,
    parse_protocols,
    parse_transfer,
    preset_tasks,
)
from bench.results import RunReport
from bench.runner import RunConfig, run
from bench.seeds import check_seed_folder, combine
from bench.validation import check_run_options


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
             tokenizer: Any = None, pooler: str | None = None, name: str | None = None,
             data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
             use_cache: bool = True, batch_size: int = 64, device: str | None = None,
             precision: str = "fp32", seed: int | None = None, verify_data: bool = True,
             show_progress: bool = False, transfer_config: str | None = None,
             classifier: str | None = None,
             transfer_protocol: str | TransferProtocol | None = None,
             regressor_selection: str = "pearson",
             regressor_label_fix: bool = False, jobs: int | None = None,
             task_files: Sequence[str | Path] = (), tasks_dir: str | Path | None = None,
             prompt: str | None = None, prompt_a: str | None = None,
             prompt_b: str | None = None, prompt_name: str | None = None,
             max_length: int | None = None, dtype: str | None = None,
             out: str | Path | None = None) -> RunReport | None:
    """Evaluate ``model`` on ``tasks`` under ``protocols``; return the typed run report.

    ``tasks``: task names, aliases or sets (``sts``, ``transfer``, ``every``), as a list or a
    comma/space-separated string; default: the tasks of ``task_files`` when given, else those
    of the protocol presets that list theirs (``mteb``), else ``sts``. ``task_files``: STS task
    files (TOML, ``bench.tasks.taskfile``) to register; ``tasks_dir``: a folder of them
    (default ``$BENCH_TASKS_DIR``), registered so that ``tasks`` can name them. ``prompt``
    (both sides), ``prompt_a``/``prompt_b`` (first / second sentence of a pair),
    ``prompt_name`` (a sentence-transformers model's own named prompt) replace a recipe's
    prompts for every task family (``bench.prompts``); ``max_length`` truncates inputs
    (tokens); ``dtype`` is the load dtype of the weights, apart from the autocast
    ``precision``. ``protocols``: presets, spelled forms, ``every``,
    ``every-cosine``. The remaining options are those of ``bench run``. With ``out``, the
    report (and its per-pair sidecar) is written there. ``device`` defaults to the model
    object's own device, and to the CPU for names and paths. ``transfer_protocol``
    (``senteval``, ``senteval-fasttest``, ...) sets ``transfer_config``, ``classifier`` and
    ``seed`` at once; given with one of them, they must agree. A folder of ``--seeds``
    training runs (runs/NAME/seed-N) is evaluated seed by seed into one report
    (``bench.seeds``).

    Under ``torchrun --nproc_per_node N`` the encoding is sharded over the N processes
    (``bench.distributed``): rank 0 returns the report (and writes ``out``), the other ranks
    return None. In a script that set up its own process group, every rank must call it.
    """
    check_run_options(batch_size=batch_size, max_length=max_length, jobs=jobs,
                      precision=precision, dtype=dtype, seed=seed,
                      regressor_selection=regressor_selection,
                      transfer_config=transfer_config, classifier=classifier)
    if isinstance(model, str | Path) and _is_seed_folder(model):
        options = {k: v for k, v in locals().items() if k not in ("model", "name", "out")}
        if options.pop("tokenizer") is not None:
            raise ModelError("tokenizer= applies to a model object, not a folder of seed runs")
        report = _evaluate_seeds(Path(model), str(model), name=name, **options)
        if out is not None and report is not None:
            from bench.reports import save

            save(report, Path(out))
        return report
    from bench.tasks.taskfile import load_task_files

    declared = load_task_files(task_files, [tasks_dir] if tasks_dir else None)
    if tasks is None:
        tasks = [meta.name for meta in declared] or _preset_tasks(protocols)
    transfer_config, classifier, seed = _transfer_options(transfer_protocol, transfer_config,
                                                          classifier, seed)
    if device is None and not isinstance(model, str | Path):
        device = _object_device(model)
    device = check_device(device or "cpu")
    prompts = Prompts.from_options(prompt, prompt_a, prompt_b, prompt_name)
    config = RunConfig(
        model=name or (str(model) if isinstance(model, str | Path) else ""),
        protocols=_protocols(protocols), tasks=_names(tasks),
        data_dir=str(data_dir) if data_dir else None,
        cache_dir=str(cache_dir) if cache_dir else None, use_cache=use_cache,
        batch_size=batch_size, device=device, precision=precision, pooler=pooler, seed=seed,
        verify_data=verify_data, show_progress=show_progress, transfer_config=transfer_config,
        classifier=classifier, regressor_selection=regressor_selection,
        regressor_label_fix=regressor_label_fix, jobs=jobs, prompts=prompts,
        max_length=max_length, dtype=dtype)
    encoder: Encoder | None = None
    if not isinstance(model, str | Path):
        if dtype not in (None, "fp32"):
            raise ModelError("dtype applies when bench loads the model; a model object is "
                             "used in the dtype it has (convert it before passing it)")
        encoder = make_encoder(model, tokenizer=tokenizer, pooler=pooler, precision=precision,
                               device=device, name=name, max_length=max_length)
        if prompts is not None:
            encoder.set_prompts(prompts)
        config.model = encoder.name
    report = run(config, encoder=encoder)
    if out is not None and report is not None:
        from bench.reports import save

        save(report, Path(out))
    return report


def _evaluate_seeds(path: Path, requested: str, name: str | None = None, **options: Any
                    ) -> RunReport | None:
    """Evaluate every seed of a ``--seeds`` folder with ``evaluate`` and combine them
    (``bench.seeds.combine``; None on the ranks other than 0 of a sharded run: rank 0 combines)."""
    runs = check_seed_folder(path)
    reports = [evaluate(str(run), **options) for _, run in runs]
    if any(r is None for r in reports):
        return None
    return combine(reports, [s for s, _ in runs], [str(p) for _, p in runs], name or requested,
                   requested)


def _is_seed_folder(model: str | Path) -> bool:
    from bench.train.rundir import is_multi_seed_dir

    return is_multi_seed_dir(Path(model).expanduser())


def _preset_tasks(protocols: str | Protocol | Sequence[str | Protocol]) -> list[str]:
    items = [protocols] if isinstance(protocols, str | Protocol) else list(protocols)
    text = ",".join(p for p in items if isinstance(p, str))
    return preset_tasks(text) if text else list(DEFAULT_TASKS)


def _transfer_options(protocol: str | TransferProtocol | None, config: str | None,
                      classifier: str | None, seed: int | None) -> tuple[str, str, int]:
    """(transfer_config, classifier, seed) from a transfer protocol and/or the single options;
    a one-line ProtocolError when both are given and disagree."""
    if protocol is None:
        return (config or "test", classifier or "torch",
                DEFAULT_TRANSFER_SEED if seed is None else seed)
    proto = parse_transfer(protocol) if isinstance(protocol, str) else protocol
    for option, given, implied in (("transfer_config", config, proto.config),
                                   ("classifier", classifier, proto.classifier),
                                   ("seed", seed, proto.seed)):
        if given is not None and given != implied:
            raise ProtocolError(f"transfer protocol {proto.key!r} means {option} {implied!r}, "
                                f"but {option} {given!r} was given; give one of the two")
    return proto.config, proto.classifier, proto.seed
