"""``bench page`` (issue 26): the HTML page's command, renamed from ``bench report`` so that it
no longer sits beside ``bench reports`` with a disclaimer in both help texts; the old name still
works, with the same page and nothing printed besides."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "reports" / "minilm-avg-sts-every.json"


def _commands() -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in build_parser()._actions
                 if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_the_old_name_is_an_alias_of_the_new_one_and_no_help_needs_a_disclaimer():
    commands = _commands()
    assert commands["report"] is commands["page"]
    assert commands["page"].prog == "bench page"
    for name in ("page", "reports"):
        text = commands[name].format_help()
        assert "not 'reports'" not in text and "not 'report'" not in text


def test_page_and_the_old_name_write_the_same_page(tmp_path, capsys):
    pages = {}
    for name in ("page", "report"):
        out = tmp_path / f"{name}.html"
        assert main([name, str(REPORT), "--html", str(out), "--resamples", "0"]) == 0
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err == f"wrote {out}\n"
        pages[name] = out.read_text(encoding="utf-8")
    assert pages["page"] == pages["report"] and "<table" in pages["page"]
