"""Compare's renderers live with every other format in ``bench.tablerender``; re-exported."""

from bench.tablerender import FORMATS, cell_text, latex_escape, print_terminal, render

__all__ = ["FORMATS", "cell_text", "latex_escape", "print_terminal", "render"]
