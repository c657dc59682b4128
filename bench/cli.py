"""The ``bench`` command. Each sub-command lives in ``bench/commands/<name>.py`` and exposes
``register(subparsers)``; this module only discovers them and turns errors into one line."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from bench.errors import BenchError
from bench.textsafe import printable
from bench.version import __version__


def build_parser() -> argparse.ArgumentParser:
    import bench.commands as commands

    parser = argparse.ArgumentParser(
        prog="bench",
        description="Protocol-explicit evaluation of sentence embeddings (STS, SentEval, analysis).")
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"bench.commands.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BenchError as exc:
        print(f"bench: error: {printable(exc)}", file=sys.stderr)  # may quote a file
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
