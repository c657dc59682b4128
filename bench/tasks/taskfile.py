"""STS task files: a user's own similarity data declared in a small TOML and registered in
the same registry as the built-in tasks, so every protocol, the bootstrap, the significance
tests and compare apply to it unchanged.

    name = "MyDomainSTS"
    format = "tsv"                 # tsv | csv | jsonl
    header = true                  # tsv/csv: the first line names the columns (default true)
    sentence1 = "sentence1"        # a column name, or a 0-based index when header = false
    sentence2 = "sentence2"
    score = "score"
    score_range = [0, 5]
    evaluate = ["test"]            # the parts scored; several = subsets (mean / wmean differ)
    train = "train"                # optional: with dev, the regressor protocols run
    dev = "dev"
    citation = "..."
    [files]                        # part -> file, relative to this file's folder (or absolute)
    train = "train.tsv"
    dev = "dev.tsv"
    test = "test.tsv"

Everything is checked when the file is loaded (keys, types, format, parts) and the data when
the run reads its tasks, before any encoding; each problem is one line naming the file.
What cannot be scored is refused rather than turned into a number: a name outside
``[A-Za-z0-9._-]`` (it becomes a report key and a file name) or equal to a task set's
(``sts``, ``every``, ...: --tasks would select the set), a score_range that is not two finite
numbers, and a part with fewer than three pairs or constant gold (``bench.data.records``).
Reports name data files relative to the task file's folder, never by machine path.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.data.manifest import UNKNOWN, Checksums
from bench.data.records import FORMATS, RecordsReader
from bench.errors import DataError
from bench.fingerprint import sha256_file
from bench.tasks.registry import TaskMetadata, check_name, register, tasks

if TYPE_CHECKING:
    from bench.data.manifest import Checksums

ENV_VAR = "BENCH_TASKS_DIR"
MAX_TASK_FILE_BYTES = 1 << 20
KEYS = {"name", "display_name", "aliases", "description", "citation", "format", "header",
        "sentence1", "sentence2", "score", "score_range", "evaluate", "train", "dev", "files",
        "version"}


def _need(data: dict[str, Any], key: str, kind: type | tuple[type, ...], path: Path) -> Any:
    if key not in data:
        raise DataError(f"{path}: task file needs '{key}'")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError(f"{path}: '{key}' has the wrong type ({type(value).__name__})")
    return value


def parse_task_file(path: str | os.PathLike) -> TaskMetadata:
    """The registry record a task file declares (not yet registered), or a one-line error."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise DataError(f"task file {path} not found")
    if path.stat().st_size > MAX_TASK_FILE_BYTES:
        raise DataError(f"{path}: {path.stat().st_size} bytes; a task file is a few lines of "
                        f"TOML (at most {MAX_TASK_FILE_BYTES >> 10} KiB)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a BOM is no error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: invalid TOML ({exc})") from None
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise DataError(f"{path}: unknown key {unknown[0]!r}; valid: {', '.join(sorted(KEYS))}")
    name = _need(data, "name", str, path).strip()
    try:
        check_name(name)
    except DataError as exc:
        raise DataError(f"{path}: 'name': {exc}") from None
    fmt = _need(data, "format", str, path)
    if fmt not in FORMATS:
        raise DataError(f"{path}: unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    header = data.get("header", True)
    if not isinstance(header, bool) or (fmt == "jsonl" and "header" in data):
        raise DataError(f"{path}: 'header' must be true or false (tsv and csv only)")
    column_kind = str if (header or fmt == "jsonl") else int
    columns = []
    for key in ("sentence1", "sentence2", "score"):
        value = _need(data, key, (str, int), path)
        if not isinstance(value, column_kind) or isinstance(value, bool) or (
                isinstance(value, int) and value < 0):
            want = "a column name" if column_kind is str else "a 0-based column index"
            raise DataError(f"{path}: '{key}' must be {want} (header = {str(header).lower()})")
        columns.append(value)
    if len(set(columns)) != 3:
        raise DataError(f"{path}: sentence1, sentence2 and score must be three different columns")
    score_range = _need(data, "score_range", list, path)
    if (len(score_range) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                         and math.isfinite(v) for v in score_range)
            or not score_range[0] < score_range[1]):
        raise DataError(f"{path}: 'score_range' must be [low, high], two finite numbers with "
                        f"low < high")
    files = _need(data, "files", dict, path)
    if not files or not all(isinstance(v, str) and v and "\0" not in v for v in files.values()):
        raise DataError(f"{path}: [files] must map each part (split or subset) to a file name")
    for part in files:
        try:
            check_name(part, "part name")
        except DataError as exc:
            raise DataError(f"{path}: [files]: {exc}") from None
    evaluate = data.get("evaluate", ["test"])
    evaluate = [evaluate] if isinstance(evaluate, str) else evaluate
    if not isinstance(evaluate, list) or not evaluate or not all(isinstance(e, str)
                                                                 for e in evaluate):
        raise DataError(f"{path}: 'evaluate' must name one or more parts of [files]")
    roles = {"train": data.get("train"), "dev": data.get("dev")}
    for role, part in [*(("evaluate", e) for e in evaluate), *roles.items()]:
        if part is not None and part not in files:
            raise DataError(f"{path}: {role} part {part!r} is not in [files] "
                            f"(parts: {', '.join(files)})")
    if (roles["train"] is None) != (roles["dev"] is None):
        raise DataError(f"{path}: 'train' and 'dev' go together (the regressor needs both)")
    if roles["train"] is not None and (roles["train"] == roles["dev"]
                                       or {roles["train"], roles["dev"]} & set(evaluate)):
        raise DataError(f"{path}: train, dev and the evaluated parts must be different parts")
    if roles["train"] is not None and len(evaluate) != 1:  # as SentEval's STS-B / SICK-R
        raise DataError(f"{path}: with train and dev, 'evaluate' names one test part (the "
                        f"regressor is scored on it); subsets go without train/dev")
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise DataError(f"{path}: 'aliases' must be a list of names")
    for alias in aliases:
        try:
            check_name(alias, "alias")
        except DataError as exc:
            raise DataError(f"{path}: 'aliases': {exc}") from None
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise DataError(f"{path}: 'version' must be an integer")
    reader = RecordsReader(path.parent, tuple(files.items()), fmt, columns[0], columns[1],
                           columns[2], (float(score_range[0]), float(score_range[1])),
                           header=bool(header))
    return TaskMetadata(
        name=name, family="sts", reader=reader, display_name=str(data.get("display_name", "")),
        aliases=tuple(aliases), parts=tuple(files), eval_parts=tuple(evaluate),
        train_split=roles["train"], dev_split=roles["dev"],
        score_range=reader.score_range, citation=str(data.get("citation", "")),
        description=str(data.get("description", "")), version=version, origin=path)


def register_task_file(path: str | os.PathLike) -> TaskMetadata:
    """Parse and register one task file. Loading the same file again is a no-op; another
    file (or a built-in task) with the same name is an error naming both."""
    meta = parse_task_file(path)
    existing = tasks().get(meta.name)
    if existing is not None and existing.origin == meta.origin:
        return register(meta, replace=True)
    try:
        return register(meta)
    except DataError as exc:
        raise DataError(f"{meta.origin}: {exc}") from None


def task_file_digests(meta: TaskMetadata) -> Checksums:
    """sha256 of a task file and of its data files, keyed ``<task>:<file relative to the task
    file's folder>`` (a file outside that folder by its name alone: no machine path goes into
    a report): no manifest knows them, so they are digested for the report and marked
    unverified (``data.status``), never verified."""

    assert meta.origin is not None and isinstance(meta.reader, RecordsReader)
    sums = {f"{meta.name}:{meta.origin.name}": sha256_file(meta.origin)}
    for name, label in meta.reader.labels().items():
        sums[f"{meta.name}:{label}"] = sha256_file(meta.reader.path(name))
    return Checksums(sums, dict.fromkeys(sums, UNKNOWN))


def folder_task_files(folder: str | os.PathLike) -> list[Path]:
    """The ``*.toml`` task files of a folder, sorted; a missing folder is an error."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"tasks folder {folder} not found")
    return sorted(folder.glob("*.toml"))


def load_task_files(files: Iterable[str | os.PathLike] = (),
                    dirs: Sequence[str | os.PathLike] | None = None) -> list[TaskMetadata]:
    """Register the given task files and those of ``dirs`` (default: ``$BENCH_TASKS_DIR``);
    return the records of ``files`` (the tasks a run evaluates when none are named)."""
    if dirs is None:
        dirs = [os.environ[ENV_VAR]] if os.environ.get(ENV_VAR) else []
    for folder in dirs:
        for path in folder_task_files(folder):
            register_task_file(path)
    return [register_task_file(f) for f in files]
