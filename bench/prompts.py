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
  model when it is loaded (``bench.encoders.sbert``);
- instructions keyed as MTEB keys a model's prompts (``model_prompts``: mteb's
  ``get_prompt_name`` looks up, in this order, ``<task>-<prompt type>``, ``<task>``,
  ``<task type>-<prompt type>``, ``<task type>``, ``<prompt type>``): a recipe's
  ``[encoder.instructions]`` table or ``--instructions FILE.toml``, with
  ``instruction_template`` (``"Instruct: {instruction}\nQuery: "`` for Qwen3-Embedding and
  e5-mistral; default the instruction itself, for e5's ``"query: "``) and ``sts_prompts``:
  ``symmetric`` (both sentences of an STS pair are queries) or ``asymmetric`` (the first a
  query, the second a document). Task types are MTEB's: ``STS`` for the STS family,
  ``Classification`` for transfer. An instruction found for a side replaces the family
  prompt of that side; an empty instruction means no prompt.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import ModelError

ANY = "*"  # the entry used for families without their own
SIDES = ("a", "b")
QUERY, DOCUMENT = "query", "document"  # MTEB's prompt types
STS_MODES = ("symmetric", "asymmetric")
TASK_TYPES = {"sts": "STS", "transfer": "Classification"}  # bench family -> MTEB task type
DEFAULT_TEMPLATE = "{instruction}"


@dataclass(frozen=True)
class Prompts:
    """``families``: family (or ``*``) -> (prompt of side a, prompt of side b)."""

    families: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    name: str | None = None  # a sentence-transformers named prompt, resolved by the encoder
    instructions: Mapping[str, str] = field(default_factory=dict)  # MTEB-keyed
    template: str = DEFAULT_TEMPLATE
    sts: str = "symmetric"

    def pair(self, family: str, task: str | None = None) -> tuple[str, str]:
        """The prompts of sides a and b for a task of a family ("" = none)."""
        a, b = self.families.get(family, self.families.get(ANY, ("", "")))
        if not self.instructions:
            return a, b
        types = (QUERY, DOCUMENT) if family == "sts" and self.sts == "asymmetric" \
            else (QUERY, QUERY)
        found = [self.instruction(family, task, kind) for kind in types]
        return (found[0] if found[0] is not None else a,
                found[1] if found[1] is not None else b)

    def instruction(self, family: str, task: str | None, prompt_type: str) -> str | None:
        """The templated instruction for one side, by MTEB's precedence; None: no key."""
        task_type = TASK_TYPES.get(family, family)
        keys = [f"{task}-{prompt_type}", task] if task else []
        keys += [f"{task_type}-{prompt_type}", task_type, prompt_type]
        for key in keys:
            if key in self.instructions:
                text = self.instructions[key]
                return self.template.replace("{instruction}", text) if text else ""
        return None

    def __bool__(self) -> bool:
        return (self.name is not None or any(a or b for a, b in self.families.values())
                or bool(self.instructions))

    def to_dict(self) -> dict[str, Any]:
        """What the spec and the report record: only what is set."""
        out: dict[str, Any] = {}
        for family, (a, b) in sorted(self.families.items()):
            if a or b:
                out[family] = a if a == b else {"a": a, "b": b}
        if self.name is not None:
            out["name"] = self.name
        if self.instructions:
            out["instructions"] = dict(sorted(self.instructions.items()))
            out["instruction_template"] = self.template
            out["sts_prompts"] = self.sts
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
        return cls(families, name, *instruction_settings(config, f"model {owner!r}"))

    @classmethod
    def from_options(cls, prompt: str | None = None, prompt_a: str | None = None,
                     prompt_b: str | None = None, name: str | None = None,
                     instructions: Any = None) -> Prompts | None:
        """From ``--prompt/--prompt-a/--prompt-b/--prompt-name/--instructions``; None when
        none is given."""
        if (prompt is None and prompt_a is None and prompt_b is None and name is None
                and instructions is None):
            return None
        a = prompt_a if prompt_a is not None else (prompt or "")
        b = prompt_b if prompt_b is not None else (prompt or "")
        settings = (instruction_settings(read_instructions(instructions), "--instructions")
                    if instructions is not None else ({}, DEFAULT_TEMPLATE, "symmetric"))
        return cls({ANY: (a, b)} if a or b else {}, name, *settings)


def _pair(value: Any, owner: str, key: str) -> tuple[str, str]:
    if isinstance(value, str):
        return value, value
    if isinstance(value, Mapping) and set(value) <= set(SIDES) and all(
            isinstance(v, str) for v in value.values()):
        return value.get("a", ""), value.get("b", "")
    raise ModelError(f"model {owner!r}: '{key}' must be a string or a table {{a = ..., b = ...}}")


def instruction_settings(config: Mapping[str, Any], owner: str
                         ) -> tuple[dict[str, str], str, str]:
    """(instructions, template, sts mode) from a table with keys ``instructions``,
    ``instruction_template``, ``sts_prompts``; one line naming ``owner`` (``model 'NAME'``
    for a recipe, ``--instructions FILE`` for a file) and the bad key."""
    table = config.get("instructions", {})
    if not isinstance(table, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
        raise ModelError(f"{owner}: 'instructions' must be a table of key = text "
                         f"(keys as MTEB's: task-query, task, STS-query, STS, query, document)")
    template = config.get("instruction_template", DEFAULT_TEMPLATE)
    if not isinstance(template, str) or "{instruction}" not in template:
        raise ModelError(f"{owner}: 'instruction_template' must be a string holding "
                         f"{{instruction}}, got {template!r}")
    sts = config.get("sts_prompts", "symmetric")
    if sts not in STS_MODES:
        raise ModelError(f"{owner}: 'sts_prompts' must be one of "
                         f"{', '.join(STS_MODES)}, got {sts!r}")
    return dict(table), template, sts


INSTRUCTION_KEYS = ("instructions", "instruction_template", "sts_prompts")


def read_instructions(value: Any) -> Mapping[str, Any]:
    """``--instructions``: a TOML file (or, from Python, a mapping) with the keys of
    ``INSTRUCTION_KEYS``; anything else is one line naming the file and the key."""
    if isinstance(value, Mapping):
        data: Mapping[str, Any] = value
        where = "instructions"
    elif isinstance(value, str | Path):
        path = Path(value)
        where = f"--instructions {path}"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ModelError(f"--instructions {path}: cannot read ({exc.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ModelError(f"--instructions {path}: not TOML ({exc})") from None
    else:
        raise ModelError(f"instructions must be a TOML file or a table, got {value!r}")
    unknown = sorted(set(data) - set(INSTRUCTION_KEYS))
    if unknown:
        raise ModelError(f"{where}: unknown key {unknown[0]!r}; valid: "
                         f"{', '.join(INSTRUCTION_KEYS)}")
    instruction_settings(data, where)  # checked here, naming the file
    return data


def caption(run: Mapping[str, Any]) -> str | None:
    """The table caption line stating the prompts a run applied (None: no prompt)."""
    applied = run.get("prompts")
    if not applied:
        return None
    parts = []
    for key, (a, b) in applied.items():
        shown = repr(a) if a == b else f"a {a!r}, b {b!r}"
        parts.append(f"{key}: {shown}")
    return "prompts: " + "; ".join(parts)


NO_PROMPTS = Prompts()
