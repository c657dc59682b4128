"""MTEB result files and folders as literature reports, so ``bench compare`` can hold a bench
run against published MTEB numbers.

Three shapes of STS result are read (mteb's own loader, ``TaskResult.from_disk``, reads the
same ones):

- mteb >= 1.11: ``{"task_name", "mteb_version", "scores": {split: [{"main_score",
  "cosine_spearman", ..., "hf_subset", "languages"}]}}`` with numbers as scores;
- the same, with ``[r, p]`` lists in place of numbers (an mteb 1.12.x bug stored SciPy's
  result objects);
- before 1.11 (the MTEB paper's results): ``{"mteb_dataset_name", "mteb_version",
  split: {"cos_sim": {"pearson", "spearman"}, "euclidean": ..., "manhattan": ...}}``.

``mteb_version`` may be one version, a range (``2.12.16-2.15.4``) or missing. The number taken
is cosine Spearman (MTEB's STS ``main_score``), in points, under the ``mteb`` protocol, on the
bench task MTEB's task is (``bench.mteb.tasks``). A model's identity comes from
``model_meta.json`` beside the file, else from the folders (``{org}__{model}/{revision}/`` or
``{model}/``). Anything else is refused in one line naming the file and the key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench.data.reading import strict_json
from bench.errors import MtebError
from bench.literature import LiteratureReport, LiteratureRow
from bench.mteb.tasks import BY_BENCH, BY_MTEB, MtebTask, protocol
from bench.results import ProtocolScores
from bench.scoring import average
from bench.tasks.registry import ordered
from bench.version import __version__

SKIP_FILES = ("model_meta.json",)
# A model revision as MTEB's results layout names its folders: a commit hash, mteb's
# placeholder, or bench's own ``bench-<fingerprint>``. One folder name, never a path: the
# export joins it into the output path, so it is checked here, in one place, for both ways.
_REVISION = re.compile(r"[0-9a-f]{7,40}|no_revision_available|bench-[0-9A-Za-z][0-9A-Za-z_.-]*")


def is_revision(text: object) -> bool:
    """``text`` looks like a model revision (and is a single, harmless folder name)."""
    return isinstance(text, str) and len(text) <= 100 and _REVISION.fullmatch(text) is not None


def _read_json(path: Path) -> Any:
    try:
        return strict_json(path)
    except (OSError, ValueError) as exc:
        raise MtebError(f"{path}: not a readable JSON file ({exc})") from None


def looks_like_mteb(path: Path) -> bool:
    """A folder (MTEB's results layout), or a JSON file with MTEB's keys and no bench schema."""
    path = Path(path)
    if path.is_dir():
        return True
    if path.suffix != ".json" or not path.is_file():
        return False
    try:
        data = strict_json(path)
    except (OSError, ValueError):
        return False
    return (isinstance(data, dict) and "schema_version" not in data
            and ("task_name" in data or "mteb_dataset_name" in data))


def _task_name(data: Any, path: Path) -> str:
    if not isinstance(data, dict):
        raise MtebError(f"{path}: not an MTEB result file (top level is not an object)")
    for key in ("task_name", "mteb_dataset_name"):
        if key in data:
            if not isinstance(data[key], str):
                raise MtebError(f"{path}: key {key!r} must be a task name, got {data[key]!r:.40}")
            return data[key]
    raise MtebError(f"{path}: not an MTEB result file (neither 'task_name' nor "
                    f"'mteb_dataset_name' key)")


def _number(value: Any, path: Path, key: str) -> float:
    """A correlation as a fraction: a number, or the ``r`` of an ``[r, p]`` pair."""
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        value = value[0]
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise MtebError(f"{path}: key {key!r} is {value!r:.40}, not a number or an [r, p] list")
    if not -1.0 <= float(value) <= 1.0:
        raise MtebError(f"{path}: key {key!r} is {value!r}, not a correlation in [-1, 1]")
    return float(value)


def _split_entry(data: dict[str, Any], mt: MtebTask, path: Path) -> tuple[dict[str, Any], str]:
    """The scores of MTEB's split and subset, and the key path they were found under."""
    if "task_name" in data:
        scores = data.get("scores")
        if not isinstance(scores, dict):
            raise MtebError(f"{path}: key 'scores' must map splits to lists of subset scores")
        entries = scores.get(mt.split)
        if not isinstance(entries, list) or not entries:
            raise MtebError(f"{path}: key 'scores.{mt.split}' must be a non-empty list "
                            f"(MTEB scores {mt.name} on its {mt.split} split)")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise MtebError(f"{path}: key 'scores.{mt.split}[{i}]' is not an object")
        chosen = [e for e in entries if e.get("hf_subset", mt.subset) == mt.subset]
        if len(chosen) != 1:
            raise MtebError(f"{path}: key 'scores.{mt.split}' has no single "
                            f"hf_subset {mt.subset!r} entry")
        return chosen[0], f"scores.{mt.split}[{entries.index(chosen[0])}]"
    split = data.get(mt.split)
    if not isinstance(split, dict):
        raise MtebError(f"{path}: key {mt.split!r} must hold the {mt.split} split's scores")
    if "cos_sim" not in split and isinstance(split.get(mt.subset), dict):
        return split[mt.subset], f"{mt.split}.{mt.subset}"
    return split, mt.split


def _cosine_spearman(entry: dict[str, Any], where: str, path: Path) -> float:
    if "cosine_spearman" in entry:
        return _number(entry["cosine_spearman"], path, f"{where}.cosine_spearman")
    if "cos_sim" in entry:
        nested = entry["cos_sim"]
        if not isinstance(nested, dict) or "spearman" not in nested:
            raise MtebError(f"{path}: key '{where}.cos_sim' must be an object with 'spearman'")
        return _number(nested["spearman"], path, f"{where}.cos_sim.spearman")
    if "main_score" in entry:
        return _number(entry["main_score"], path, f"{where}.main_score")
    raise MtebError(f"{path}: key '{where}' has none of cosine_spearman, cos_sim.spearman, "
                    f"main_score")


def _version(data: dict[str, Any], path: Path) -> str | None:
    value = data.get("mteb_version")
    if value is not None and not isinstance(value, str):
        raise MtebError(f"{path}: key 'mteb_version' must be a version string or a range, "
                        f"got {value!r:.40}")
    return value


def _identity(path: Path) -> tuple[str, str | None]:
    """(model name, revision) from ``model_meta.json`` beside the file, else the folders."""
    meta = path.parent / "model_meta.json"
    if meta.is_file():
        data = _read_json(meta)
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise MtebError(f"{meta}: key 'name' must be the model's name")
        revision = data.get("revision")
        return data["name"], revision if isinstance(revision, str) else None
    parent = path.parent
    if is_revision(parent.name) and parent.parent.name:
        return parent.parent.name.replace("__", "/"), parent.name
    return parent.name.replace("__", "/"), None


def read_result(path: Path) -> tuple[str, float, str | None] | None:
    """(bench task, cosine Spearman in points, mteb_version) of one file; None when the file
    is of a task bench does not score (those are skipped in a folder, refused alone)."""
    data = _read_json(path)
    name = _task_name(data, path)
    mt = BY_MTEB.get(name)
    if mt is None:
        return None
    entry, where = _split_entry(data, mt, path)
    return mt.bench, 100 * _cosine_spearman(entry, where, path), _version(data, path)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(p for p in path.rglob("*.json") if p.name not in SKIP_FILES)
        if not found:
            raise MtebError(f"{path}: no MTEB result files (*.json) below this folder")
        return found
    if not path.is_file():
        raise MtebError(f"{path}: no such MTEB result file or folder")
    return [path]


def read_mteb(paths: list[Path]) -> list[tuple[Path, LiteratureReport]]:
    """A literature report per (model, revision) found in ``paths``, with the folder of its
    first file (what compare names the row by)."""
    proto = protocol()
    groups: dict[tuple[str, str | None], dict[str, Any]] = {}
    for given in map(Path, paths):
        skipped = 0
        touched: set[tuple[str, str | None]] = set()
        for path in _files(given):
            got = read_result(path)
            if got is None:
                if not given.is_dir():
                    raise MtebError(f"{path}: key 'task_name' names "
                                    f"{_task_name(_read_json(path), path)!r}, not one of the "
                                    f"MTEB tasks bench scores ({', '.join(BY_MTEB)})")
                skipped += 1
                continue
            task, value, version = got
            key = _identity(path)
            group = groups.setdefault(key, {"values": {}, "files": {}, "versions": set(),
                                            "skipped": 0, "first": path})
            if task in group["values"]:
                raise MtebError(f"{path}: a second result for {BY_BENCH[task].name} of "
                                f"{key[0]} (first: {group['files'][task]})")
            group["values"][task] = value
            group["files"][task] = path
            group["versions"].add(version or "unknown")
            touched.add(key)
        if not touched:
            raise MtebError(f"{given}: none of its result files is of an MTEB task bench scores "
                            f"({', '.join(BY_MTEB)})")
        for key in touched:
            groups[key]["skipped"] += skipped
    out = []
    for (model, revision), group in groups.items():
        values = {t: group["values"][t] for t in ordered(list(group["values"]))}
        versions = ", ".join(sorted(group["versions"]))
        note = f"mteb_version {versions}"
        if group["skipped"]:
            note += f"; {group['skipped']} result files of other tasks skipped"
        row = LiteratureRow(
            model={"name": model, "revision": revision}, protocols=[proto],
            scores=[ProtocolScores(proto, values, average(values))],
            source=f"MTEB results ({group['first'].parent.name})", note=note)
        files = sorted(str(f) for f in group["files"].values())
        out.append((group["first"].parent, LiteratureReport(
            source={"kind": "mteb", "files": files}, rows=[row],
            units="points (cosine Spearman x 100)", bench_version=__version__)))
    return out

