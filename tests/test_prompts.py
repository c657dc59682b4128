"""Prompts, truncation and precision: each is part of the encoder's spec, so of its fingerprint
and cache key; a prompt reaches the tokenizer exactly once per sentence and side."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy import stats

import bench
from bench.encoders.registry import EncoderOptions, resolve
from bench.errors import ModelError
from bench.prompts import Prompts
from tests.helpers import HashEncoder
from tests.sts_files import stsb_rows, unregister_task_files, write_task


@pytest.fixture
def small_task(data_dir, tmp_path):
    """40 STS-B test pairs as a task file named Small; its rows."""
    rows = stsb_rows(data_dir, "test", 0, 40)
    yield write_task(tmp_path / "tasks", "Small", rows), rows
    unregister_task_files()


class SpyTokenizer:
    """A tokenizer that records the texts of every call (bench tokenizes each text once: the
    tokens it counts to plan batches are the ones it pads and encodes)."""

    def __init__(self, inner):
        self.inner, self.encoded = inner, []

    def __call__(self, texts, *args, **kwargs):
        self.encoded.extend([texts] if isinstance(texts, str) else texts)
        return self.inner(texts, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _norm(s: str) -> str:
    return " ".join(s.split())


def _spearman(a: np.ndarray, b: np.ndarray, gold) -> float:
    """Cosine Spearman in points, with numpy/scipy only."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return 100 * stats.spearmanr(cos, [float(g) for g in gold])[0]


def _hf(tiny_bert):
    from transformers import AutoModel, AutoTokenizer

    return AutoModel.from_pretrained(tiny_bert), AutoTokenizer.from_pretrained(tiny_bert)


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_a_prompt_reaches_the_tokenizer_once_per_sentence_and_side(small_task, tiny_bert,
                                                                   tmp_path):
    toml, rows = small_task
    model, tokenizer = _hf(tiny_bert)
    common = {"task_files": [toml], "protocols": "all-spearman", "pooler": "avg",
              "cache_dir": tmp_path / "cache"}
    s1 = list(dict.fromkeys(_norm(r[0]) for r in rows))
    s2 = list(dict.fromkeys(_norm(r[1]) for r in rows))

    spy = SpyTokenizer(tokenizer)
    sym = bench.evaluate(model, tokenizer=spy, prompt="query: ", **common)
    assert Counter(spy.encoded) == Counter("query: " + s for s in dict.fromkeys(s1 + s2))

    spy = SpyTokenizer(tokenizer)
    asym = bench.evaluate(model, tokenizer=spy, prompt_a="query: ", prompt_b="passage: ",
                          **common)
    assert Counter(spy.encoded) == Counter(["query: " + s for s in s1]
                                           + ["passage: " + s for s in s2])
    assert asym.model.spec["prompts"] == {"*": {"a": "query: ", "b": "passage: "}}
    assert asym.run["prompts"] == {"sts": ["query: ", "passage: "]}

    plain = bench.evaluate(model, tokenizer=tokenizer, **common)
    fingerprints = {r.model.fingerprint for r in (sym, asym, plain)}
    assert len(fingerprints) == 3 and "prompts" not in plain.model.spec
    # the scores are those of the prompted texts, encoded here without bench's pass
    from bench.encoders.objects import LoadedTransformerEncoder

    raw = LoadedTransformerEncoder(model, tokenizer, "avg")
    gold = [r[2] for r in rows]
    for report, (pa, pb) in ((sym, ("query: ", "query: ")), (asym, ("query: ", "passage: ")),
                             (plain, ("", ""))):
        expected = _spearman(raw.encode([pa + _norm(r[0]) for r in rows]),
                             raw.encode([pb + _norm(r[1]) for r in rows]), gold)
        assert report.scores[0].values["Small"] == pytest.approx(expected, abs=1e-4)
    assert sym.scores[0].values != plain.scores[0].values  # the prompt moved the vectors

    spy = SpyTokenizer(tokenizer)  # the same prompted run again: every vector from the cache
    again = bench.evaluate(model, tokenizer=spy, prompt="query: ", **common)
    assert spy.encoded == [] and again.timings["sentences_encoded"] == 0
    assert again.scores[0].values == sym.scores[0].values


def test_sentence_transformers_named_prompts_are_honoured(small_task, tiny_bert):
    from sentence_transformers import SentenceTransformer, models

    toml, rows = small_task
    st = SentenceTransformer(modules=[models.Transformer(str(tiny_bert)),
                                      models.Pooling(32, "mean")], device="cpu",
                             prompts={"query": "query: "})
    calls = []  # what sentence-transformers' tokenising module receives: texts and prompt
    preprocess = st[0].preprocess
    st[0].preprocess = lambda inputs, prompt=None, **kw: (
        calls.extend((prompt, t) for t in inputs) or preprocess(inputs, prompt=prompt, **kw))
    report = bench.evaluate(st, task_files=[toml], protocols="all-spearman",
                            prompt_name="query", use_cache=False)
    sentences = list(dict.fromkeys(_norm(s) for r in rows for s in r[:2]))
    calls.remove((None, "query: "))  # sentence-transformers measures the bare prompt's length
    assert Counter(calls) == Counter(("query: ", s) for s in sentences)
    st[0].preprocess = preprocess
    # include_prompt pooling: the same vectors as the prompt written into the text
    expected = _spearman(st.encode(["query: " + _norm(r[0]) for r in rows]),
                         st.encode(["query: " + _norm(r[1]) for r in rows]), [r[2] for r in rows])
    assert report.scores[0].values["Small"] == pytest.approx(expected, abs=1e-4)
    assert report.model.spec["prompts"] == {"name": "query"}
    assert report.run["prompts"] == {"sts": ["query: ", "query: "]}
    with pytest.raises(ModelError, match="has no prompt named 'passage'; its prompts: query"):
        bench.evaluate(st, task_files=[toml], prompt_name="passage", use_cache=False)


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_the_cache_never_mixes_prompts_lengths_or_precisions(small_task, tiny_bert, tmp_path):
    toml, rows = small_task
    cache = tmp_path / "cache"
    variants = {"plain": {}, "prompt": {"prompt": "query: "}, "max_length": {"max_length": 8},
                "precision": {"precision": "bf16"}, "dtype": {"dtype": "bf16"}}
    first, prints = {}, {}
    for label, options in variants.items():
        report = bench.evaluate(str(tiny_bert), pooler="avg", task_files=[toml],
                                protocols="all-pearson", cache_dir=cache, **options)
        assert report.timings["sentences_cached"] == 0, label  # nothing from another variant
        first[label], prints[label] = report.scores[0].values["Small"], report.model.fingerprint
    assert len(set(prints.values())) == len(variants)
    assert len(set(first.values())) == len(variants)  # each variant changes the vectors
    assert sorted(p.name for p in cache.iterdir()) == sorted(prints.values())
    for label, options in variants.items():  # and each finds its own vectors again
        again = bench.evaluate(str(tiny_bert), pooler="avg", task_files=[toml],
                               protocols="all-pearson", cache_dir=cache, **options)
        assert again.timings["sentences_encoded"] == 0, label
        assert again.scores[0].values["Small"] == first[label]
    record = bench.evaluate(str(tiny_bert), pooler="avg", task_files=[toml], cache_dir=cache,
                            dtype="bf16", max_length=8)  # bf16 weights, no autocast
    assert record.run["dtype"] == "bf16" and record.run["precision"] == "fp32"
    assert record.model.spec["dtype"] == "bf16" and record.model.spec["precision"] == "fp32"
    assert record.run["max_length"] == 8 and record.model.spec["max_length"] == 8


def test_max_length_truncates_what_the_model_sees(tiny_bert):
    long = " ".join(["word"] * 600)  # past the tiny model's 512 positions
    short = resolve(str(tiny_bert), EncoderOptions(pooler="avg", max_length=16))
    tokens = short._loaded[0]([long], truncation=True, max_length=16)["input_ids"][0]
    expected = short.encode([short._loaded[0].decode(tokens[1:-1])])
    assert np.allclose(short.encode([long]), expected, atol=1e-6)
    # without max_length, the model's own limit (512 positions) truncates (it used to fail)
    own = resolve(str(tiny_bert), EncoderOptions(pooler="avg"))
    assert np.allclose(own.encode([long]), own.encode([" ".join(["word"] * 510)]), atol=1e-6)


def test_recipe_prompt_tables_per_family_and_side():
    p = Prompts.from_config({"prompt": "x: ", "prompts": {"sts": {"a": "q: ", "b": "d: "}}},
                            "m")
    assert p.pair("sts") == ("q: ", "d: ") and p.pair("transfer") == ("x: ", "x: ")
    with pytest.raises(ModelError, match="'prompts.sts' must be a string or a table"):
        Prompts.from_config({"prompts": {"sts": {"c": "?"}}}, "m")
    encoder = HashEncoder()
    before = encoder.fingerprint
    encoder.set_prompts(p)
    assert encoder.fingerprint != before and encoder.full_spec()["prompts"]["sts"]["b"] == "d: "


def test_e5_bge_gte_recipes_follow_their_model_cards():
    from bench.recipes import load_recipes

    recipes = load_recipes()
    expected = {"e5-small-v2": ("avg", "query: "), "e5-base-v2": ("avg", "query: "),
                "bge-small-en-v1.5": ("cls_before_pooler", None),
                "bge-base-en-v1.5": ("cls_before_pooler", None),
                "gte-small": ("avg", None), "gte-base": ("avg", None)}
    for name, (pooler, prompt) in expected.items():
        recipe = recipes[name]
        assert not recipe.offline and recipe.encoder["pooler"] == pooler
        assert recipe.encoder.get("prompt") == prompt and recipe.encoder["max_length"] == 512
