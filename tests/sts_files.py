"""Small STS task files made in a test from SentEval's STS-B rows (never copied into the repo)."""

from __future__ import annotations

from pathlib import Path

from bench.tasks.registry import tasks, unregister


def stsb_rows(data_dir: Path, split: str, start: int, stop: int) -> list[tuple[str, str, str]]:
    """(sentence1, sentence2, score) of lines ``start:stop`` of STS-B's ``split`` file."""
    text = (data_dir / f"STS/STSBenchmark/sts-{split}.csv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines()[start:stop]]
    return [(r[5], r[6], r[4]) for r in rows]


def write_task(folder: Path, name: str, rows: list[tuple[str, str, str]]) -> Path:
    """A one-split (test) tsv task file in ``folder``; returns the TOML's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.tsv").write_text(
        "sentence1\tsentence2\tscore\n" + "".join("\t".join(r) + "\n" for r in rows),
        encoding="utf-8")
    toml = folder / f"{name}.toml"
    toml.write_text(f'name = "{name}"\nformat = "tsv"\nsentence1 = "sentence1"\n'
                    f'sentence2 = "sentence2"\nscore = "score"\nscore_range = [0, 5]\n'
                    f'[files]\ntest = "{name}.tsv"\n', encoding="utf-8")
    return toml


def unregister_task_files() -> None:
    """Drop every task-file task from the registry (tests share one process)."""
    for name in [n for n, m in tasks().items() if m.origin is not None]:
        unregister(name)
