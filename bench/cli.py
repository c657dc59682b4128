"""The ``bench`` command. Each sub-command lives in ``bench/commands/<name>.py`` and exposes
``register(subparsers)``; this module only registers them and turns errors into one line.

The commands are one :class:`bench.registry.Registry` (``COMMANDS``): the modules of
``bench.commands``, registered lazily, plus those of installed packages::

    [project.entry-points."bench.commands"]
    my-command = "my_package.cli"   # a module with register(subparsers)
"""

from __future__ import annotations

import argparse
import os
import pkgutil
import sys
from types import ModuleType

import bench.commands
from bench.errors import BenchError
from bench.registry import Registry
from bench.textsafe import printable
from bench.version import __version__

COMMANDS: Registry[ModuleType] = Registry("command")

for _info in pkgutil.iter_modules(bench.commands.__path__):  # common.py: helpers, no register
    COMMANDS.register(_info.name, f"bench.commands.{_info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench",
        description="Protocol-explicit evaluation of sentence embeddings (STS, SentEval, analysis).")
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in sorted(COMMANDS.names()):
        module = COMMANDS.get(name)
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        parser = build_parser()  # a plugin that cannot be loaded: one line
    except BenchError as exc:
        print(f"bench: error: {printable(exc)}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        return _closed_pipe()
    except BenchError as exc:
        print(f"bench: error: {printable(exc)}", file=sys.stderr)  # may quote a file
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


def _closed_pipe() -> int:
    """``bench ... | head -1``: the reader left, so stop quietly with the shell's code for
    SIGPIPE (128 + 13), and send what is still buffered to /dev/null so that Python's exit
    does not report the same broken pipe again (the Python docs' recipe, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


if __name__ == "__main__":
    sys.exit(main())
