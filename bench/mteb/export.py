"""``bench export mteb``: run reports as MTEB result files.

Layout, as mteb's ``ResultCache`` reads it: ``OUT/{org}__{model}/{revision}/{Task}.json`` plus
``model_meta.json``. Each task file holds what mteb 2's ``AbsTaskSTS`` stores (fractions,
not points): ``main_score`` (cosine Spearman), ``pearson``/``spearman`` of the model's own
similarity (cosine for every bench encoder) and the cosine, Euclidean and Manhattan Pearson
and Spearman, with ``hf_subset``, ``languages``, ``evaluation_time`` and the versions.

Only cells measured under MTEB's protocol are exported, and only tasks MTEB defines the same
way; anything else is refused in one line before a file is written. The Euclidean and
Manhattan correlations come from the report (``TaskResult.similarities``, computed by the run
while the vectors were at hand), so exporting needs neither the model nor the cache.
``mteb_version`` is null: mteb did not compute these numbers, bench did (``bench`` block).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_text
from bench.errors import MtebError
from bench.mteb.results import is_revision
from bench.mteb.tasks import BY_BENCH, protocol
from bench.pathsafe import check_not_input, inside, is_name, show, with_sidecars
from bench.reports import load, slug
from bench.results import RunReport, TaskResult
from bench.tasks.registry import find, tasks
from bench.version import __version__


@dataclass
class ExportFile:
    path: Path  # relative to the output folder
    content: dict[str, Any]
    source: Path


def model_folder(name: str) -> str:
    """mteb's ``ModelMeta.model_name_as_path``: ``org/model`` -> ``org__model``."""
    return name.replace("/", "__").replace(" ", "_")


def _folder(report: RunReport, path: Path, name: str | None) -> tuple[str, str, Path]:
    """(model name, revision, ``{org}__{model}/{revision}``), each part checked to be one
    plain folder name: the report's content must not choose a path outside ``--out``."""
    where = "--name" if name else f"{path}: field model.requested"
    model = name or f"bench/{slug(str(report.model.requested or report.model.name))}"
    if not isinstance(model, str) or not is_name(model_folder(model)):
        raise MtebError(f"{where} gives the model folder {show(model)}, not a model name "
                        f"(org/model); nothing written")
    revision = report.model.revision
    field = "model.revision"
    if revision is None:
        fingerprint = report.model.fingerprint
        revision = f"bench-{fingerprint[:12]}" if isinstance(fingerprint, str) else fingerprint
        field = "model.fingerprint"
    if not is_revision(revision):
        raise MtebError(f"{path}: field {field} is {show(revision)}, not a model revision "
                        f"(a commit hash, no_revision_available or bench-<fingerprint>); "
                        f"nothing written")
    return model, revision, Path(model_folder(model)) / revision


def _not_mteb(path: Path, task: str) -> str:
    meta = find(task)
    label = meta.label if meta else show(task)
    twin = next((t for t in tasks().values() if meta and meta.corpus and t.corpus == meta.corpus
                 and t.name != meta.name and t.name in BY_BENCH), None)
    hint = (f"; MTEB's {BY_BENCH[twin.name].name} is bench's {twin.label} ({twin.description})"
            if twin else "")
    return (f"{path}: task {label} is not an MTEB task as bench measures it{hint}; run "
            f"`bench run --protocol mteb` for MTEB's tasks; nothing written")


def _model_meta(report: RunReport, name: str, revision: str) -> dict[str, Any]:
    """The fields of mteb's ``ModelMeta`` bench knows, the rest null; nothing else (mteb's
    ModelMeta forbids extra keys: bench's model record goes into each task file instead)."""
    m = report.model
    return {"name": name, "revision": revision, "release_date": None, "languages": None,
            "n_parameters": m.n_parameters, "memory_usage_mb": None,
            "max_tokens": m.max_tokens, "embed_dim": m.embedding_dim, "license": None,
            "open_weights": None, "public_training_code": None, "public_training_data": None,
            "framework": ["PyTorch"], "reference": None, "similarity_fn_name": m.similarity,
            "use_instructions": False, "training_datasets": None, "adapted_from": None,
            "superseded_by": None, "modalities": ["text"], "model_type": ["dense"],
            "loader": None}


def _data_revision(task: TaskResult) -> str:
    """Not MTEB's Hugging Face dataset revision (bench reads SentEval's files): a digest of the
    data files the task was measured on, so the file says what it was computed from."""
    h = hashlib.sha256()
    for key, digest in sorted(task.files.items()):
        h.update(f"{key}:{digest}\n".encode())
    return f"bench-senteval-{h.hexdigest()[:12]}" if task.files else "bench-senteval"


def _task_file(report: RunReport, path: Path, name: str, value: float) -> dict[str, Any]:
    mt = BY_BENCH[name]
    task = report.tasks[name]
    sims = task.similarities
    if not all(k in sims for k in ("cosine", "euclidean", "manhattan")):
        raise MtebError(f"{path}: task {name} has no cosine/euclidean/manhattan correlations "
                        f"(the report predates them); rerun it with `bench run --protocol mteb` "
                        f"(cached vectors make that quick); nothing written")
    scores: dict[str, Any] = {
        "pearson": sims["cosine"]["pearson"] / 100, "spearman": value / 100,
        **{f"{k}_{m}": sims[k][m] / 100 for k in ("cosine", "euclidean", "manhattan")
           for m in ("pearson", "spearman")},
    }
    scores["cosine_spearman"] = value / 100  # the protocol's cell, the number bench printed
    scores.update(main_score=value / 100, hf_subset=mt.subset, languages=list(mt.languages))
    return {
        "dataset_revision": _data_revision(task), "task_name": mt.name, "mteb_version": None,
        "scores": {mt.split: [scores]}, "evaluation_time": task.eval_s,
        "kg_co2_emissions": None,
        "bench": {"bench_version": __version__, "report_bench_version": report.bench_version,
                  "report": path.name, "created": report.created,
                  "protocol": protocol().key, "task": name, "task_version": task.version,
                  "model": {"requested": report.model.requested, "spec": report.model.spec,
                            "fingerprint": report.model.fingerprint,
                            "training_data": report.model.training_data},
                  "data_sha256": task.files,
                  "note": "computed by bench from SentEval's files, not by mteb; "
                          "evaluation_time is bench's scoring time (encoding is shared "
                          "between the tasks of a run)"},
    }


def plan(paths: list[Path], name: str | None = None) -> list[ExportFile]:
    """Every file to write, or a one-line MtebError; nothing is written here."""
    if not paths:
        raise MtebError("no reports given: name at least one run report")
    target = protocol()
    files: dict[Path, ExportFile] = {}
    for path in paths:
        report = load(path)
        if not isinstance(report, RunReport):
            raise MtebError(f"{path}: a {getattr(report, 'kind', '?')} report; only run "
                            f"reports (bench run) can be exported to MTEB's format")
        stored = next((s for s in report.scores if s.protocol.key == target.key), None)
        if stored is None:
            own = ", ".join(s.protocol.key for s in report.scores) or "none"
            raise MtebError(f"{path}: measured under {own}, not MTEB's protocol {target.key} "
                            f"(run `bench run --protocol mteb`); nothing written")
        for task in [*report.tasks, *stored.values]:
            if task not in BY_BENCH:
                raise MtebError(_not_mteb(path, task))
        model, revision, folder = _folder(report, path, name)
        meta_file = folder / "model_meta.json"
        files.setdefault(meta_file, ExportFile(meta_file, _model_meta(report, model, revision),
                                               path))
        for task, value in stored.values.items():
            rel = folder / f"{BY_BENCH[task].name}.json"
            if rel in files:
                raise MtebError(f"{path}: {rel} would also be written from "
                                f"{files[rel].source}; export one report per model and task "
                                f"(or give --name); nothing written")
            files[rel] = ExportFile(rel, _task_file(report, path, task, value), path)
    return list(files.values())


def export(paths: list[Path], out: Path, name: str | None = None) -> list[Path]:
    """Write the MTEB result files of ``paths`` below ``out``; all are checked first."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MtebError(f"--out {out}: exists and is not a folder")
    inputs = with_sidecars(paths)
    check_not_input(out, inputs, "--out")
    items = plan(paths, name)
    targets = [inside(out, item.path, str(item.source)) for item in items]
    for target in targets:
        check_not_input(target, inputs, "--out")
    written = []
    for item, target in zip(items, targets):
        atomic_write_text(target, json.dumps(item.content, indent=2) + "\n")
        written.append(target)
    return written
