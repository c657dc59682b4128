"""``bench list models | protocols``: what can be named on the command line."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from bench.protocols import every_combination, load_presets
from bench.recipes import load_recipes


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list model recipes or protocols")
    p.add_argument("what", choices=["models", "protocols"])
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    console = Console()
    if args.what == "models":
        table = Table(title="model recipes (baselines/)", title_justify="left")
        for col in ("name", "type", "offline", "description"):
            table.add_column(col)
        for name, r in sorted(load_recipes().items()):
            table.add_row(name, r.encoder.get("type", "?"), "yes" if r.offline else "needs hub",
                          r.description)
        console.print(table)
        console.print("Also accepted: a local model folder, a GloVe .txt file, or a hub id "
                      "(with --pooler).")
    else:
        table = Table(title="protocol presets (protocols/)", title_justify="left")
        for col in ("name", "protocols", "tasks", "source"):
            table.add_column(col)
        for name, preset in sorted(load_presets().items()):
            table.add_row(name, ", ".join(p.key for p in preset.protocols),
                          ", ".join(preset.tasks) if preset.tasks else "sts", preset.source)
        console.print(table)
        console.print("Spelled forms: " + ", ".join(p.key for p in every_combination())
                      + "; 'all' = every combination; comma-separated lists allowed.")
    return 0
