"""Run options checked once, for ``bench run`` and ``bench.evaluate`` alike.

The CLI's argparse catches some mistakes (choices, integers) but not all (``--batch-size 0``),
and the Python API had none of it: a typo in ``precision`` was recorded in the report, a zero
batch size ended in a raw ValueError. Both now call ``check_run_options`` before anything is
loaded; the error names the option as the caller spelled it (``--batch-size`` or
``batch_size``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from bench.errors import BenchError


def option_name(name: str, cli: bool) -> str:
    """``batch_size`` as the API spells it, ``--batch-size`` as the CLI does."""
    return f"--{name.replace('_', '-')}" if cli else name


def _positive(value: Any, name: str, cli: bool, what: str, optional: bool = True) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BenchError(f"{option_name(name, cli)} must be {what}, got {value!r}")


def _choice(value: Any, name: str, cli: bool, valid: Collection[str],
            optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or value not in valid:
        raise BenchError(f"{option_name(name, cli)}: unknown value {value!r}; valid: "
                         f"{', '.join(valid)}")


def check_run_options(*, batch_size: Any = 64, max_length: Any = None, jobs: Any = None,
                      precision: Any = "fp32", dtype: Any = None, seed: Any = None,
                      regressor_selection: Any = "pearson", transfer_config: Any = None,
                      classifier: Any = None, cli: bool = False) -> None:
    """One-line BenchError naming the first bad option; nothing is loaded before this."""
    from bench.encoders.base import PRECISIONS
    from bench.protocols import CLASSIFIERS, CONFIGS, REGRESSOR_SELECTIONS
    from bench.seeding import check_seed

    _positive(batch_size, "batch_size", cli, "a positive integer", optional=False)
    _positive(max_length, "max_length", cli, "a positive number of tokens")
    _positive(jobs, "jobs", cli, "at least 1")
    _choice(precision, "precision", cli, PRECISIONS, optional=False)
    _choice(dtype, "dtype", cli, PRECISIONS)
    _choice(regressor_selection, "regressor_selection", cli, REGRESSOR_SELECTIONS,
            optional=False)
    _choice(transfer_config, "transfer_config", cli, sorted(CONFIGS))
    _choice(classifier, "classifier", cli, CLASSIFIERS)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise BenchError(f"{option_name('seed', cli)} must be an integer, got {seed!r}")
        check_seed(seed, option_name("seed", cli))
