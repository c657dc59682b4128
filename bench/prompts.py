"""Prompts: the prefix (or instruction) put before each text, per task family and per side.

Prompt models want one: e5 ``"query: "`` on every text, bge an instruction for retrieval
queries, instruction models a task description. MTEB's STS allows the two sides of a pair to
differ (side ``a`` = first sentences, ``b`` = second sentences). A prompt is part of the
encoder's spec, so of its fingerprint and cache key, and of the report.

Where prompts come from:
- a recipe's ``[encoder]``: ``prompt = "query: "`` (every family, both sides), or a table
  ``[encoder.prompts]`` with one entry per family (``sts``, ``transfer``, ``"*"`` for the
  rest), each a string (both sides) or ``{a = "...", b = "..."}``;
- the command line / ``bench.evaluate``: ``--prompt`` (both sides), ``--prompt-a``,
  ``--prompt-b``, for every family; they replace a recipe's prompts;
- a sentence-transformers model's own named prompts (``SentenceTransformer.prompts``):
  ``prompt_name = "query"`` in a recipe or ``--prompt-name``; the text is looked up in the
  model when it is loaded (``bench.encoders.sbert``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.errors import ModelError

ANY = "*"  # the entry used for families without their own
SIDES = ("a", "b")


@dataclass(frozen=True)
class Prompts:
    """``families``: family (or ``*``) -> (prompt of side a, prompt of side b)."""

    families: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    name: str | None = None  # a sentence-transformers named prompt, resolved by the encoder

    def pair(self, family: str) -> tuple[str, str]:
        """The prompts of sides a and b for a task family ("" = none)."""
        return self.families.get(family, self.families.get(ANY, ("", "")))

    def __bool__(self) -> bool:
        return self.name is not None or any(a or b for a, b in self.families.values())

    def to_dict(self) -> dict[str, Any]:
        """What the spec and the report record: only what is set."""
        out: dict[str, Any] = {}
        for family, (a, b) in sorted(self.families.items()):
            if a or b:
                out[family] = a if a == b else {"a": a, "b": b}
        if self.name is not None:
            out["name"] = self.name
        return out

    @classmethod
    def from_config(cls, config: Mapping[str, Any], owner: str) -> Prompts:
        """From a recipe's ``[encoder]`` table (keys ``prompt``, ``prompts``, ``prompt_name``)."""
        families: dict[str, tuple[str, str]] = {}
        if "prompt" in config:
            families[ANY] = _pair(config["prompt"], owner, "prompt")
        table = config.get("prompts", {})
        if not isinstance(table, Mapping):
            raise ModelError(f"model {owner!r}: 'prompts' must be a table of family = prompt")
        for family, value in table.items():
            families[family] = _pair(value, owner, f"prompts.{family}")
        name = config.get("prompt_name")
        if name is not None and not isinstance(name, str):
            raise ModelError(f"model {owner!r}: 'prompt_name' must be a string")
        return cls(families, name)

    @classmethod
    def from_options(cls, prompt: str | None = None, prompt_a: str | None = None,
                     prompt_b: str | None = None, name: str | None = None) -> Prompts | None:
        """From ``--prompt/--prompt-a/--prompt-b/--prompt-name``; None when none is given."""
        if prompt is None and prompt_a is None and prompt_b is None and name is None:
            return None
        a = prompt_a if prompt_a is not None else (prompt or "")
        b = prompt_b if prompt_b is not None else (prompt or "")
        return cls({ANY: (a, b)} if a or b else {}, name)


def _pair(value: Any, owner: str, key: str) -> tuple[str, str]:
    if isinstance(value, str):
        return value, value
    if isinstance(value, Mapping) and set(value) <= set(SIDES) and all(
            isinstance(v, str) for v in value.values()):
        return value.get("a", ""), value.get("b", "")
    raise ModelError(f"model {owner!r}: '{key}' must be a string or a table {{a = ..., b = ...}}")


NO_PROMPTS = Prompts()
