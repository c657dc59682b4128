"""One evaluation run: resolve tasks and model, encode every needed sentence once, evaluate
each task family, score every protocol with the one scorer, and return the typed report.

Task families plug in through ``bench.tasks.families.FAMILIES``; tasks through the registry
(``bench.tasks.registry``). Nothing here names a task.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.cache import default_cache_root
from bench.data.locate import candidate, locate
from bench.data.manifest import Checksums, checksums
from bench.data.reading import recording
from bench.devices import check_device
from bench.distributed import Shards, announcing, setup
from bench.embed import encode_tasks
from bench.encoders.base import Encoder
from bench.encoders.make import encoder_options
from bench.encoders.onnx import as_backend
from bench.encoders.registry import check_name, resolve
from bench.environment import describe_environment
from bench.noise_floor import measure
from bench.options import RunOptions
from bench.outputs import check_folder
from bench.prompts import Prompts
from bench.protocols import Protocol, TransferProtocol, with_source
from bench.recipes import load_recipes
from bench.reports import now_iso
from bench.results import ModelRecord, ProtocolScores, RunReport, TaskResult, score_protocols
from bench.scoring import average
from bench.seeding import check_seed, seed_everything
from bench.tasks.families import FAMILIES, EvalContext
from bench.tasks.registry import TaskMetadata, select
from bench.tasks.sts import SIMILARITY_PRECISION
from bench.tasks.taskfile import task_file_digests
from bench.tasks.transfer_suite import default_jobs
from bench.variants import plan_variants, variant_report, variant_view
from bench.version import __version__


@dataclass(init=False)
class RunConfig:
    """What to run (model, protocols, tasks) and how: ``options``, the one definition of the
    run options (``bench.options.RunOptions``), resolved (the transfer setting explicit).

    ``RunConfig(model, protocols, tasks, batch_size=32, ...)`` takes the options by name too,
    checked as ``bench.evaluate`` checks them."""

    model: str
    protocols: list[Protocol]
    tasks: Sequence[str]
    options: RunOptions

    def __init__(self, model: str, protocols: Sequence[Protocol],
                 tasks: Sequence[str] = ("sts",), options: RunOptions | None = None,
                 **values: Any) -> None:
        self.model = model
        self.protocols = list(protocols)
        self.tasks = tasks
        base = options or RunOptions()
        if values:
            base = RunOptions.from_kwargs({**base.as_dict(), **values})
        self.options = base.resolved()

    @property
    def device(self) -> str:
        return self.options.device or "cpu"

    @property
    def prompts(self) -> Prompts | None:
        """The prompts the options give; they replace the recipe's when set."""
        o = self.options
        return Prompts.from_options(o.prompt, o.prompt_a, o.prompt_b, o.prompt_name,
                                    o.instructions)

    @property
    def transfer_protocol(self) -> TransferProtocol:
        """The transfer protocol these options make (recorded in the report)."""
        o = self.options
        return with_source(TransferProtocol(o.transfer_config, o.classifier, o.seed))


def eval_context(opts: RunOptions, device: str, needs_regressor: bool) -> EvalContext:
    """What the task families see of the (resolved) run options, on this process's device."""
    regressor = ({"selection": opts.regressor_selection, "label_fix": opts.regressor_label_fix,
                  "seed": opts.seed, "device": device} if needs_regressor else None)
    return EvalContext(seed=opts.seed, device=device, show_progress=opts.show_progress,
                       regressor=regressor, transfer_config=opts.transfer_config,
                       classifier=opts.classifier, jobs=opts.jobs)


def plan_tasks(tasks: Sequence[Any], ctx: EvalContext) -> list[Any]:
    """Each task as its family plans it for this run (``Family.plan``, when the family has
    one: the STS family drops the splits no requested protocol reads)."""
    out = []
    for task in tasks:
        plan = getattr(FAMILIES.get(task.meta.family), "plan", None)
        out.append(plan(task, ctx) if plan is not None else task)
    return out


def load_tasks(metas: Sequence[TaskMetadata], downstream: Path) -> list[Any]:
    return [meta.load(downstream) for meta in metas]


def file_digests(task: Any, downstream: Path, verify: bool,
                 read: Mapping[Path, str] | None = None) -> Checksums:
    """sha256 of a task's files: built-in tasks keyed relative to the data folder and checked
    against the manifest (with ``verify``); task-file tasks keyed ``<task>:<file>``, digested
    and marked unverified (no manifest knows them). ``read``: digests of the bytes that were
    parsed (``bench.data.reading.recording``), which win over a second look at the disk."""
    if task.meta.origin is None:
        return checksums(downstream, list(task.files), verify=verify, read=read)
    sums = task_file_digests(task.meta)
    for name, label in task.meta.reader.labels().items():
        parsed = (read or {}).get(Path(task.meta.reader.path(name)).resolve())
        if parsed is not None:
            sums.sha256[f"{task.name}:{label}"] = parsed
    return sums


def model_record(requested: str, encoder: Encoder, dim: int | None) -> ModelRecord:
    """The report's model record: the encoder's spec and fingerprint, what it knows of itself
    (``Encoder.model_meta``), and the recipe's ``training_data`` when it has one."""
    described = encoder.describe()
    meta = encoder.model_meta()
    recipes = load_recipes()
    # a paper model's name stands for another recipe (the run, or the released checkpoint)
    recipe = recipes.get((encoder.provenance or {}).get("recipe", requested))
    if recipe is not None and recipe.training_data is not None:
        meta["training_data"] = list(recipe.training_data)
    meta.setdefault("embedding_dim", dim)
    fields = set(ModelRecord.__dataclass_fields__)
    meta.update({k: v for k, v in described.items() if k in fields and k not in meta
                 and k not in ("name", "spec", "fingerprint")})  # e.g. the hub revision
    extra = {k: v for k, v in {**described, **meta}.items()
             if k not in fields and k not in ("name", "spec", "fingerprint")}
    return ModelRecord(name=described["name"], requested=requested, spec=described["spec"],
                       fingerprint=described["fingerprint"],
                       **{k: v for k, v in meta.items() if k in fields}, extra=extra)


def run(config: RunConfig, encoder: Encoder | None = None) -> RunReport | None:
    """Execute a run and return its report (not yet written).

    Under torchrun (``bench.distributed``) every rank encodes its shard and rank 0 alone
    scores and returns the report; the other ranks return None."""
    check_device(config.device)
    shards = setup(config.device)
    with announcing(shards):
        return _run(config, encoder, shards)


def _run(config: RunConfig, encoder: Encoder | None, shards: Shards | None) -> RunReport | None:
    t_start = time.perf_counter()
    device = shards.device if shards is not None else config.device
    lead = shards is None or shards.lead
    opts = config.options
    check_seed(opts.seed)
    seed_everything(opts.seed)
    transfer_protocol = config.transfer_protocol  # bad options fail before any work
    timings: dict[str, float] = {}

    if encoder is None:
        check_name(config.model)  # a typo or a missing folder fails before any data is read
    t = time.perf_counter()
    metas = select(config.tasks)
    # task files carry their own data: SentEval's folder is needed only for built-in tasks
    builtin = any(meta.origin is None for meta in metas)
    location = locate(opts.data_dir) if builtin else candidate(opts.data_dir)
    with recording() as read:  # the digests of the very bytes parsed, not a second read
        tasks = load_tasks(metas, location.downstream)
    task_sums = {task.name: file_digests(task, location.downstream, opts.verify_data, read)
                 for task in tasks}
    sums = Checksums({k: v for c in task_sums.values() for k, v in c.sha256.items()},
                     {k: v for c in task_sums.values() for k, v in c.status.items()})
    timings["load_data_s"] = time.perf_counter() - t
    # after the data is validated (bad data writes nothing), before encoding (not at the
    # first chunk)
    cache_root = Path(opts.cache_dir) if opts.cache_dir else default_cache_root()
    if opts.use_cache:
        check_folder(cache_root, "cache folder")

    t = time.perf_counter()
    by_name = encoder is None  # a model given by name can be loaded again in other precisions
    if encoder is None:
        encoder = resolve(config.model, encoder_options(opts, device))
        if lead and opts.show_progress and getattr(encoder, "pooler_note", ""):
            print(f"bench: {encoder.pooler_note}", file=sys.stderr)  # a run folder's pooler
    encoder = as_backend(encoder, opts.backend)  # torch: the encoder itself
    encoder.fingerprint  # hash the weights now, so the timing shows it
    timings["fingerprint_s"] = time.perf_counter() - t
    variants = plan_variants(encoder, opts.dims, opts.quantize)  # bad --dims: before encoding

    needs_regressor = any(p.regressor != "none" for p in config.protocols)
    ctx = eval_context(opts, device, needs_regressor)
    tasks = plan_tasks(tasks, ctx)  # only the parts the protocols read are encoded
    views, embed_stats = encode_tasks(
        encoder, {task.name: task.sentences() for task in tasks},
        cache_root=cache_root,
        use_cache=opts.use_cache, batch_size=opts.batch_size,
        show_progress=opts.show_progress and lead,
        families={task.name: task.meta.family for task in tasks},
        sides={task.name: task.sides() for task in tasks}, shards=shards)
    if not lead:  # rank 0 has this rank's vectors and does the rest
        return None
    dim = embed_stats.pop("dim", None)
    if opts.dims or opts.quantize:  # the dimension is now known, whatever the encoder
        variants = plan_variants(encoder, opts.dims, opts.quantize, dim)
    zero_vectors = embed_stats.pop("zero_vectors", 0)
    timings.update(embed_stats)

    results, scores = _score(tasks, views, ctx, config.protocols, task_sums, timings)
    transfer = {k: r.transfer.acc for k, r in results.items() if r.transfer is not None}
    timings["total_s"] = time.perf_counter() - t_start
    timings = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in timings.items()}

    source = encoder.source_encoder()
    run_info: dict[str, Any] = {"seed": opts.seed, "device": config.device,
                                "precision": opts.precision, "batch_size": opts.batch_size,
                                "zero_vectors": zero_vectors,
                                "similarity_precision": SIMILARITY_PRECISION}
    if opts.backend != "torch":  # torch runs keep the record they always had
        run_info["backend"] = opts.backend
    if shards is not None:  # a sharded run: how many processes encoded, on which devices
        run_info.update(world_size=shards.world, devices=list(shards.devices))
    for key in ("dtype", "max_length"):  # the load dtype, apart from the autocast precision
        if getattr(source, key, None) is not None:
            run_info[key] = getattr(source, key)
    if source.prompts.instructions:  # MTEB-keyed instructions: what each task got
        run_info["prompts"] = {t.name: list(source.prompt_pair(t.meta.family, t.name))
                               for t in tasks}
    elif source.prompts:  # the texts that went before each side, per family evaluated
        run_info["prompts"] = {f: list(source.prompt_pair(f))
                               for f in dict.fromkeys(t.meta.family for t in tasks)}
    if opts.noise_floor and scores and shards is None:  # bench.noise_floor
        main_values = {**scores[0].values, "avg": scores[0].average.value}
        redo = ((lambda p: resolve(config.model, encoder_options(replace(opts, precision=p),
                                                                 device)))
                if by_name else None)
        run_info["noise_floor"] = measure(encoder, tasks, scores[0].protocol, ctx, main_values,
                                          opts.batch_size, redo, device)
    if needs_regressor:
        run_info.update(regressor_selection=opts.regressor_selection,
                        regressor_label_fix=opts.regressor_label_fix)
    if transfer:
        run_info.update(transfer_config=opts.transfer_config, classifier=opts.classifier,
                        transfer_jobs=ctx.jobs or _transfer_jobs(config, len(transfer)))
    report = RunReport(
        model=model_record(config.model, encoder, dim), protocols=list(config.protocols),
        tasks=results, scores=scores,
        data={"found_via": location.source, "verified": sums.verified,
              "verify_requested": opts.verify_data, "status": sums.status,
              "sha256": sums.sha256},
        run=run_info, environment=describe_environment(config.device), timings=timings,
        created=now_iso(), bench_version=__version__, transfer_average=average(transfer),
        notes=[note for t in tasks for note in t.meta.notes],
        transfer_protocol=transfer_protocol if transfer else None)
    if variants:  # --dims / --quantize: the same vectors, scored once per variant
        report.variants = [variant_report(report, v, _score(
            tasks, {task.name: variant_view(views[task.name], v, task.sides()) for task in tasks},
            ctx,
            config.protocols, task_sums, {})) for v in variants]
    return report


def _score(tasks: Sequence[Any], views: Mapping[str, Any], ctx: EvalContext,
           protocols: list[Protocol], task_sums: Mapping[str, Checksums],
           timings: dict[str, Any]) -> tuple[dict[str, TaskResult], list[ProtocolScores]]:
    """Every task evaluated by its family from ``views``, and the protocols' scores."""
    results: dict[str, TaskResult] = {}
    for family_name, family in FAMILIES.items():
        mine = [task for task in tasks if task.meta.family == family_name]
        if mine:
            t = time.perf_counter()
            results.update(family.evaluate(mine, views, ctx))
            timings[f"{family_name}_s"] = time.perf_counter() - t
    results = {task.name: results[task.name] for task in tasks}
    for task in tasks:
        results[task.name].files = task_sums[task.name].sha256
    scores = score_protocols(results, protocols)
    if scores:
        for name, value in scores[0].values.items():
            results[name].main_score = value
    return results, scores


def _transfer_jobs(config: RunConfig, n: int) -> int:

    return default_jobs(config.device, n)
