"""Instructions keyed as MTEB keys model prompts: precedence, symmetric and asymmetric STS,
the template, the file option, what reaches the tokenizer, and what the report records."""

from __future__ import annotations

import pytest

from bench.errors import BenchError, ModelError
from bench.prompts import Prompts, caption, read_instructions
from tests.helpers import HashEncoder

TEMPLATE = "Instruct: {instruction}\nQuery:"


def _prompts(instructions, sts="symmetric", template="{instruction}", families=None):
    """``families``: family -> a bench family prompt (both sides)."""
    return Prompts({k: (v, v) for k, v in (families or {}).items()}, None, instructions,
                   template, sts)


def test_mteb_precedence():
    """task-type, task, type-type, type, type: each key wins over every key after it."""
    keys = {"STS12-query": "1 ", "STS12": "2 ", "STS-query": "3 ", "STS": "4 ", "query": "5 "}
    order = list(keys)
    for i, key in enumerate(order):
        p = _prompts({k: keys[k] for k in order[i:]})
        assert p.pair("sts", "STS12") == (keys[key], keys[key]), key
    # another task falls through its missing task keys to the task type
    assert _prompts(keys).pair("sts", "STS13") == ("3 ", "3 ")
    # transfer is MTEB's Classification type
    assert _prompts({"Classification": "c ", "STS": "s "}).pair("transfer", "MR") == ("c ", "c ")


def test_symmetric_and_asymmetric_sts():
    table = {"STS-query": "q ", "document": "d "}
    assert _prompts(table).pair("sts", "STS12") == ("q ", "q ")
    assert _prompts(table, sts="asymmetric").pair("sts", "STS12") == ("q ", "d ")
    # an empty instruction is "no prompt" (Qwen3-Embedding's documents), not "not found"
    none = _prompts({"STS-query": "q ", "document": ""}, sts="asymmetric",
                    families={"sts": "x "})
    assert none.pair("sts", "STS12") == ("q ", "")


def test_template_and_fallback_to_family_prompts():
    p = _prompts({"STS": "Retrieve semantically similar text."}, template=TEMPLATE,
                 families={"transfer": "query: "})
    assert p.pair("sts", "STS12")[0] == "Instruct: Retrieve semantically similar text.\nQuery:"
    assert p.pair("transfer", "MR") == ("query: ", "query: ")  # no key: the family prompt


def test_recorded_and_in_the_cache_key():
    base = HashEncoder()
    prints = set()
    for prompts in (None, _prompts({"STS": "a"}), _prompts({"STS": "b"}),
                    _prompts({"STS": "a"}, sts="asymmetric"),
                    _prompts({"STS": "a"}, template=TEMPLATE)):
        encoder = HashEncoder()
        if prompts is not None:
            encoder.set_prompts(prompts)
        prints.add(encoder.fingerprint)
    assert len(prints) == 5 and base.fingerprint in prints
    spec = _prompts({"STS": "a"}, template=TEMPLATE).to_dict()
    assert spec == {"instructions": {"STS": "a"}, "instruction_template": TEMPLATE,
                    "sts_prompts": "symmetric"}
    assert caption({"prompts": {"STS12": ["q: ", "d: "]}}) == "prompts: STS12: a 'q: ', b 'd: '"


@pytest.mark.parametrize("text, expected", [
    ('sts_prompts = "sideways"\n', "'sts_prompts' must be one of symmetric, asymmetric"),
    ('instruction = "x"\n', "unknown key 'instruction'"),
    ('instruction_template = "no slot"\n', "'instruction_template' must be a string holding"),
    ("[instructions]\nSTS = 3\n", "'instructions' must be a table of key = text")])
def test_instruction_file_errors_are_one_line_naming_the_file(tmp_path, text, expected):
    path = tmp_path / "i.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelError) as info:
        read_instructions(path)
    assert str(info.value).startswith(f"--instructions {path}: ")
    assert expected in str(info.value)


def test_a_missing_instruction_file_is_one_line(tmp_path):
    with pytest.raises(BenchError, match="cannot read"):
        read_instructions(tmp_path / "missing.toml")


@pytest.mark.slow  # a tiny BERT through a run (about a second)
def test_instructions_reach_the_tokenizer(tmp_path, data_dir, monkeypatch):
    """The texts the tokenizer is given are the template's, per side, per task."""
    import bench
    import bench.encoders.transformer as transformer
    from bench.render import report_text
    from tests.helpers import make_tiny_bert
    from tests.sts_files import stsb_rows, unregister_task_files, write_task

    seen: list[str] = []
    real_load = transformer.load_hf

    class Spy:
        def __init__(self, tokenizer):
            self.tokenizer = tokenizer

        def __call__(self, texts, **kwargs):  # every text tokenized, whatever the call
            seen.extend([texts] if isinstance(texts, str) else texts)
            return self.tokenizer(texts, **kwargs)

        def __getattr__(self, name):
            return getattr(self.tokenizer, name)

    monkeypatch.setattr(transformer, "load_hf",
                        lambda *a, **k: (Spy(real_load(*a, **k)[0]), real_load(*a, **k)[1]))
    rows = stsb_rows(data_dir, "test", 0, 5)
    toml = write_task(tmp_path / "tasks", "TinyPairs", rows)
    spec = tmp_path / "instructions.toml"
    spec.write_text('instruction_template = "Instruct: {instruction}\\nQuery:"\n'
                    'sts_prompts = "asymmetric"\n[instructions]\n'
                    'STS-query = "Retrieve semantically similar text."\ndocument = ""\n',
                    encoding="utf-8")
    try:
        report = bench.evaluate(str(make_tiny_bert(tmp_path / "bert")), pooler="avg",
                                task_files=[str(toml)], tasks=["TinyPairs"],
                                instructions=str(spec), use_cache=False)
    finally:
        unregister_task_files()
    query = "Instruct: Retrieve semantically similar text.\nQuery:"
    assert set(seen) == {query + a for a, _, _ in rows} | {b for _, b, _ in rows}
    assert report.run["prompts"] == {"TinyPairs": [query, ""]}
    assert report.model.spec["prompts"]["sts_prompts"] == "asymmetric"
    text = report_text(report, "md")
    assert "prompts: TinyPairs: a 'Instruct: Retrieve semantically similar text.\\nQuery:'" \
        in text
