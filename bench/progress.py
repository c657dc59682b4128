"""Progress bars (rich) on a terminal; plain log lines every 10% when stderr is a file or pipe;
and ``count``, the number of things they report in words (``1 step``, ``2 steps``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


@contextmanager
def progress_bar(description: str, total: int, disable: bool = False
                 ) -> Iterator[Callable[..., None]]:
    """Yield ``advance(n, status="")``; draws a bar on stderr when it is a terminal, otherwise
    prints a line at every tenth of the work (CI logs and nox sessions still show that work
    goes on). ``status`` is shown after the rate (training: ``loss 0.0123``)."""
    if disable:
        yield lambda n=1, status="": None
        return
    if not sys.stderr.isatty():
        yield _line_logger(description, total)
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[status]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(description, total=total, rate="", status="")

        def advance(n: int = 1, status: str = "") -> None:
            progress.advance(task, n)
            if status:
                progress.update(task, status=status)
            t = progress.tasks[0]
            if t.elapsed:
                rate = t.completed / t.elapsed
                progress.update(task, rate=f"{rate:,.0f}/s" if rate >= 10 else f"{rate:.2f}/s")

        yield advance


def _line_logger(description: str, total: int) -> Callable[..., None]:
    state = {"done": 0, "next": max(1, total // 10), "start": time.perf_counter()}

    def advance(n: int = 1, status: str = "") -> None:
        state["done"] += n
        if state["done"] >= state["next"] or state["done"] >= total:
            elapsed = time.perf_counter() - state["start"]
            rate = state["done"] / elapsed if elapsed > 0 else 0.0
            shown = f"{rate:,.0f}" if rate >= 10 else f"{rate:.2f}"
            extra = f", {status}" if status else ""
            print(f"{description}: {state['done']:,}/{total:,} ({shown}/s, {elapsed:.0f} s"
                  f"{extra})", file=sys.stderr, flush=True)
            state["next"] = state["done"] + max(1, total // 10)

    return advance


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 task``, ``2 tasks``: a number with its noun in the right number (``plural`` for
    nouns that do not just take an ``s``)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
