"""Every command's help text as a user reads it: argparse formats help strings with ``%``
(so ``95%%`` prints ``95%``) but leaves a description untouched, where ``%%`` stays doubled."""

from __future__ import annotations

import argparse

from bench.cli import build_parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:  # argparse keeps sub-commands only here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[name] = sub
                out.update({f"{name} {k}": v for k, v in _subparsers(sub).items()})
    return out


def test_no_help_text_shows_a_doubled_percent_sign():
    subs = _subparsers(build_parser())
    assert {"run", "compare", "page", "reports"} <= set(subs)
    shown = {name: sub.format_help() for name, sub in subs.items()}
    assert [name for name, text in shown.items() if "%%" in text] == []
    assert "95% intervals" in shown["page"]
