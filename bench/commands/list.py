"""``bench list models | protocols | tasks | encoder-types``: what can be named on the command
line (tasks and encoder types include those of installed plugins).

On a terminal: a table. Piped (``bench list models | grep``): one full line per entry,
tab-separated, never cut to the terminal width. ``--json``: the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from bench.encoders.paper import is_paper_model
from bench.encoders.registry import ENCODER_TYPES
from bench.protocols import every_combination, load_presets, load_transfer_presets
from bench.recipes import Recipe, load_recipes
from bench.tasks.registry import TASKS, set_names

WHAT = ("models", "protocols", "tasks", "encoder-types")
TITLES = {"models": "model recipes (baselines/)", "protocols": "protocol presets (protocols/)",
          "tasks": "tasks (--tasks)", "encoder-types": "encoder types (a recipe's [encoder] type)"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list model recipes, protocols, tasks or encoder types")
    p.add_argument("what", choices=WHAT)
    p.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    p.set_defaults(func=main)


def _entries(what: str) -> tuple[list[str], list[list[str]], str]:
    """Column names, rows, and the line printed under the table."""
    if what == "tasks":
        return _tasks()
    if what == "encoder-types":
        rows = [[name, _source(ENCODER_TYPES.plugin(name))] for name in ENCODER_TYPES.names()]
        return ["name", "from"], rows, ("Plugins add types with entry points in the group "
                                        f"{ENCODER_TYPES.group}.")
    if what == "models":
        # the paper's own names first (simcse-bert, ...): what a reader of the paper types
        ordered = sorted(load_recipes().items(), key=lambda x: (not is_paper_model(x[1]), x[0]))
        rows = [[name, r.encoder.get("type", "?"), _availability(r), r.description]
                for name, r in ordered]
        return (["name", "type", "offline", "description"], rows,
                "Also accepted: a local model folder (./my-model, runs/NAME), a GloVe .txt "
                "file, or a hub id as org/name (with --pooler).")
    rows = [[name, ", ".join(p.key for p in preset.protocols),
             ", ".join(preset.tasks) if preset.tasks else "sts", preset.source]
            for name, preset in sorted(load_presets().items())]
    # transfer protocols (--transfer-protocol): the classifier setting, one row each
    rows += [[name, proto.describe(), "transfer", proto.source]
             for name, proto in sorted(load_transfer_presets().items())]
    return (["name", "protocols", "tasks", "source"], rows,
            "Spelled forms: " + ", ".join(p.key for p in every_combination())
            + "; 'every' = every combination, 'every-cosine' = the six without a regressor; "
            "comma-separated lists allowed. Rows with tasks 'transfer' go to "
            "--transfer-protocol.")


def _source(plugin: str | None) -> str:
    return f"package {plugin}" if plugin else "bench"


def _tasks() -> tuple[list[str], list[list[str]], str]:
    sets = set_names()
    member = {n: s for s, names in sets.items() if s != "every" for n in names}
    rows = [[name, meta.family, member.get(name, "-"),
             str(meta.origin) if meta.origin else _source(TASKS.plugin(name)), meta.description,
             ", ".join(meta.aliases) or "-"]
            for name, meta in TASKS.items()]
    # aliases: what --tasks, tables (the first, e.g. STS-B) and result.values[...] also take
    return (["name", "family", "set", "from", "description", "aliases"], rows,
            "Sets: " + ", ".join(sets) + f". Plugins add tasks with entry points in the group "
            f"{TASKS.group}; task files with --task-file.")


def _availability(recipe: Recipe) -> str:
    if is_paper_model(recipe):
        return "trained run, else hub"
    return "yes" if recipe.offline else "needs hub"


def main(args: argparse.Namespace) -> int:
    columns, rows, note = _entries(args.what)
    if args.json:
        print(json.dumps([dict(zip(columns, row)) for row in rows], indent=1))
        return 0
    console = Console()
    if not console.is_terminal:
        for row in rows:
            sys.stdout.write("\t".join(row) + "\n")
        return 0
    table = Table(title=TITLES[args.what], title_justify="left")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(note)
    return 0
