"""User-facing errors: one line that names what is wrong and where."""
import sys

from bench.textsafe import printable


class BenchError(Exception):
    """An error caused by input or environment, reported as one line without a traceback."""


class DataError(BenchError):
    """Malformed, missing or corrupt evaluation data (message names file and line)."""


class ModelError(BenchError):
    """A model that cannot be resolved or loaded (message names the model)."""


class ProtocolError(BenchError):
    """An unknown or inconsistent protocol specification."""


class MtebError(BenchError):
    """MTEB input bench cannot use (a result file, a task, a report), named in one line."""


def warn(message: str) -> None:
    """One warning line on stderr, in the same form as the CLI's error lines."""

    print(f"bench: warning: {printable(message)}", file=sys.stderr, flush=True)
