"""Flags shared by several sub-commands. The run options' flags are generated from their one
definition, ``bench.options.RunOptions``; this module adds what is not a run option."""

from __future__ import annotations

import argparse

from bench.options import DATA, RunOptions


def add_data_options(p: argparse.ArgumentParser) -> None:
    """``--data-dir`` (the run options' data group), for the commands that only read data."""
    RunOptions.add_arguments(p, (DATA,))


def add_model_option(p: argparse.ArgumentParser, multiple: bool = False) -> None:
    """``--model``: what to run, not how (so not a run option)."""
    if multiple:
        p.add_argument("--model", action="append", required=True,
                       help="recipe name (bench list models), local path, or hub id (org/name); repeatable")
    else:
        p.add_argument("--model", required=True,
                       help="recipe name (bench list models), local path, or hub id (org/name)")


def split_list(values: list[str]) -> list[str]:
    """Accept both ``--tasks a b`` and ``--tasks a,b``."""
    return [v for item in values for v in item.split(",") if v]
