"""Text from files, made safe to show: reports, result folders and task files may come from
anyone, and a string in them must neither drive the terminal nor forge a table.

``printable`` is for everything printed (terminal tables, error lines, CSV/LaTeX/HTML text):
C0/C1 control characters and DEL (``ESC[2J`` clears a screen, ``ESC]0;...BEL`` sets a window
title, a carriage return overprints a number) and the Unicode bidirectional overrides and
isolates (which reorder what follows them on screen, the "Trojan Source" trick, CVE-2021-42574)
become visible escapes such as ``\\x1b`` or ``\\u202e``. ``md_cell`` is the one escape of a
Markdown table cell.
"""

from __future__ import annotations

import re

# C0 (with tab and newline: a file's string is one field, never a layout), DEL, C1, and the
# bidirectional formatting characters (LRM/RLM, ALM, embeddings/overrides, isolates).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MD = {"|": "\\|", "<": "&lt;", ">": "&gt;", "&": "&amp;"}


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` as a string with every control and bidi character replaced by its escape
    (``\\x1b``, ``\\n``-as-``\\x0a``, ``\\u202e``); printable text is returned unchanged."""
    return _UNSAFE.sub(_escape, str(text))


def md_cell(text: object) -> str:
    """A Markdown table cell: line breaks become spaces (a newline would end the row), other
    controls are escaped, ``|`` is escaped (it would start a new cell), ``< > &`` become
    entities (raw HTML is rendered by GitHub's Markdown) and ``](`` loses its meaning (an
    inline link or image: a tracking pixel or a phishing link); ``[3 seeds]`` stays as is."""
    flat = re.sub(r"[\r\n\u2028\u2029]+", " ", str(text))
    return "".join(_MD.get(ch, ch) for ch in printable(flat)).replace("](", "]\\(")
