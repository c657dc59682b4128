"""``bench list models | protocols``: what can be named on the command line."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from bench.encoders.paper import is_paper_model
from bench.protocols import every_combination, load_presets
from bench.recipes import Recipe, load_recipes


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list model recipes or protocols")
    p.add_argument("what", choices=["models", "protocols"])
    p.set_defaults(func=main)


def _availability(recipe: Recipe) -> str:
    if is_paper_model(recipe):
        return "trained run, else hub"
    return "yes" if recipe.offline else "needs hub"


def main(args: argparse.Namespace) -> int:
    console = Console()
    if args.what == "models":
        recipes = load_recipes()
        table = Table(title="model recipes (baselines/)", title_justify="left")
        table.add_column("name", no_wrap=True, min_width=max(map(len, recipes)))
        for col in ("type", "offline", "description"):
            table.add_column(col)
        # the paper's own names first (simcse-bert, ...): what a reader of the paper types
        for name, r in sorted(recipes.items(), key=lambda x: (not is_paper_model(x[1]),
                                                                     x[0])):
            table.add_row(name, r.encoder.get("type", "?"), _availability(r), r.description)
        console.print(table)
        console.print("Also accepted: a local model folder, a GloVe .txt file, or a hub id "
                      "(with --pooler).")
    else:
        table = Table(title="protocol presets (protocols/)", title_justify="left")
        for col in ("name", "protocols", "source"):
            table.add_column(col)
        for name, preset in sorted(load_presets().items()):
            table.add_row(name, ", ".join(p.key for p in preset.protocols), preset.source)
        console.print(table)
        console.print("Spelled forms: " + ", ".join(p.key for p in every_combination())
                      + "; 'all' = every combination; comma-separated lists allowed.")
    return 0
