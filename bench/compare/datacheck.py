"""Were two reports measured on the same data? Per task, from the sha256 digests they store.

A run report records the digest of every data file it read (``data.sha256``) and, since
reports carry it, which files belong to which task (``data.files``). Two runs whose digests
differ for a file of a task were scored on different data for that task: their numbers
for it are not comparable. Literature reports store no digests: they are marked as
published numbers already and are not checked here.
"""

from __future__ import annotations

from bench.compare.rows import Row


def _task_files(row: Row, task: str) -> list[str] | None:
    """The data files of ``task`` in ``row``; None if the report does not say (then every
    file it read counts: older reports did not record which task read which file)."""
    if row.data_files is None:
        return None
    return row.data_files.get(task, [])


def _first_difference(a: Row, b: Row, task: str) -> str | None:
    files_a, files_b = _task_files(a, task), _task_files(b, task)
    if files_a is None and files_b is None:
        keys = sorted(set(a.data_sha256) & set(b.data_sha256))
    else:
        keys = sorted(set(files_a if files_a is not None else files_b)
                      | set(files_b if files_b is not None else files_a))
    for key in keys:
        da, db = a.data_sha256.get(key), b.data_sha256.get(key)
        if da is not None and db is not None and da != db:
            return (f"{key} has sha256 {db[:12]}... in {b.path.name} but {da[:12]}... in "
                    f"{a.path.name}")
    return None


def row_tasks(row: Row) -> list[str]:
    return list(dict.fromkeys([*row.sts_tasks, *row.transfer]))


def mark_data_mismatches(rows: list[Row]) -> list[str]:
    """Set ``row.data_mismatch`` (task -> why) against the first run row that has the task;
    return one line per (row, task) that differs."""
    found = []
    reference: dict[str, Row] = {}
    for row in rows:
        if row.kind != "run" or not row.data_sha256:
            continue
        for task in row_tasks(row):
            ref = reference.setdefault(task, row)
            if ref is row:
                continue
            why = _first_difference(ref, row, task)
            if why:
                row.data_mismatch[task] = why
                found.append(f"{task}: {why}")
    return found


def unverified_notes(rows: list[Row]) -> list[str]:
    return [f"{row.label} ({row.path.name}): its data was not verified against the manifest "
            "(see the report's data.status)" for row in rows
            if row.kind == "run" and row.verified is False]
