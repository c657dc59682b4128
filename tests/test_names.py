"""Issue 26, item 6: names.

Report look-ups accept every alias of a task (``values["STS-B"]``) while what is stored and
written keeps the registered keys; model objects get a name of their own (card,
``name_or_path``, the function's name) and ``name=`` overrides it; counts agree in number;
the compare legend's ``-`` is what is printed."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import bench
from bench.commands.train import _summary_line
from bench.compare.tables import significance_table
from bench.compare.uncertainty import PairedResult
from bench.encoders.objects import object_name, wrap
from bench.progress import count
from bench.tablerender import to_markdown

REPO = Path(__file__).resolve().parents[1]
KEPT = REPO / "reports" / "glove-avg-sts-every.json"


@pytest.fixture(scope="module")
def kept():
    """A kept run report, and the same file read as plain JSON (the expected values)."""
    return bench.load(KEPT), json.loads(KEPT.read_text(encoding="utf-8"))


def test_values_read_by_every_alias(kept):
    report, raw = kept
    stored = raw["scores"][0]["values"]
    values = report.scores[0].values
    for alias in ("STS-B", "stsb", "STSB", "STSBenchmark"):
        assert alias in values and values[alias] == stored["STSBenchmark"]
    for alias in ("SICK-R", "sickr", "SICK"):
        assert values[alias] == stored["SICKRelatedness"]
        assert values.get(alias) == stored["SICKRelatedness"]
    assert values["STS2012"] == stored["STS12"]
    assert "STS-17" not in values and values.get("STS-17") is None
    with pytest.raises(KeyError):
        values["STS-17"]


def test_task_results_read_by_alias(kept):
    report, raw = kept
    assert report.tasks["SICK-R"] is report.tasks["SICKRelatedness"]
    assert report.tasks["sts-b"].name == "STSBenchmark"
    assert set(report.tasks) == set(raw["tasks"])  # iteration: the stored keys only


def test_stored_keys_and_json_unchanged(kept):
    report, raw = kept
    written = report.to_dict()
    assert list(written["scores"][0]["values"]) == list(raw["scores"][0]["values"])
    assert list(written["tasks"]) == list(raw["tasks"])
    text = json.dumps(written["scores"][0]["values"])
    assert "STS-B" not in text and "STSBenchmark" in text


def test_callable_names():
    def tfidf(sentences):
        return np.ones((len(sentences), 3))

    assert wrap(tfidf).name == "tfidf"
    assert wrap(tfidf, name="tf-idf (sklearn)").name == "tf-idf (sklearn)"
    anonymous = lambda s: np.ones((len(s), 3))  # noqa: E731
    line = anonymous.__code__.co_firstlineno
    assert wrap(anonymous).name == f"lambda@test_names:{line}"
    assert "<lambda>" not in wrap(anonymous).name


def test_object_name_from_card_and_name_or_path(tmp_path):
    card = SimpleNamespace(model_card_data=SimpleNamespace(base_model="org/model-x"))
    assert object_name(card) == "org/model-x"
    hub = SimpleNamespace(name_or_path="sentence-transformers/all-MiniLM-L6-v2")
    assert object_name(hub) == "sentence-transformers/all-MiniLM-L6-v2"
    # a hub-cache snapshot folder is named by its hub id, never by its absolute path
    snapshot = tmp_path / "hub" / "models--my-org--my-model" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    assert object_name(SimpleNamespace(config=SimpleNamespace(_name_or_path=str(snapshot)))) \
        == "my-org/my-model"
    # a plain folder: its card's title when that is one name, else the folder's name
    folder = tmp_path / "checkpoint-7"
    folder.mkdir()
    assert object_name(SimpleNamespace(name_or_path=str(folder))) == "checkpoint-7"
    (folder / "README.md").write_text("---\nx: 1\n---\n# my-simcse-model\n\ntext\n")
    assert object_name(SimpleNamespace(name_or_path=str(folder))) == "my-simcse-model"
    (folder / "README.md").write_text("# SentenceTransformer based on bert\n")
    assert object_name(SimpleNamespace(name_or_path=str(folder))) == "checkpoint-7"
    assert object_name(SimpleNamespace()) == "SimpleNamespace"


def test_hf_model_object_named_by_its_folder(tiny_bert):
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(tiny_bert))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert))
    encoder = wrap(model, tokenizer=tokenizer, pooler="avg")
    assert encoder.name == f"{tiny_bert.name}[avg]"
    assert str(tiny_bert.parent) not in encoder.name


@pytest.mark.slow  # loads the packaged MiniLM as a SentenceTransformer (about 1 s)
def test_sentence_transformer_object_named_by_its_model():
    from sentence_transformers import SentenceTransformer

    from bench.encoders.packaged import packaged_path

    model = SentenceTransformer(str(packaged_path("packaged:all-MiniLM-L6-v2")), device="cpu")
    assert wrap(model).name == "all-MiniLM-L6-v2"  # not "SentenceTransformer"
    assert wrap(model, name="mine").name == "mine"


@pytest.mark.parametrize("n,noun,expected", [(1, "task", "1 task"), (2, "task", "2 tasks"),
                                             (0, "step", "0 steps"), (1, "step", "1 step"),
                                             (1200, "step", "1,200 steps"),
                                             (1, "entry", "1 entry"),
                                             (3, "entry", "3 entries")])
def test_counts(n, noun, expected):
    assert count(n, noun, "entries" if noun == "entry" else None) == expected


def test_one_training_step_is_singular():
    summary = {"steps": 1, "wall_s": 2.0, "run_dir": "runs/x", "initial_stsb_dev_spearman": None,
               "best": {"stsb_dev_spearman": None, "step": None}}
    assert _summary_line(summary) == "trained 1 step in 2 s -> runs/x"


def test_significance_legend_dash_is_printed():
    """Williams' and Steiger's tests do not apply to an average of subset correlations: the
    legend says '-', and '-' is what the table prints (not 'nan')."""
    results = {"B": [PairedResult("STS12", 1.5, (0.5, 2.5), 0.01, float("nan"), float("nan"),
                                  3108, 0.02),
                     PairedResult("STSBenchmark", -0.5, (-1.0, 0.1), 0.2, 0.25, 0.3, 1379, 0.2)]}
    table = significance_table("A", results, "mean-spearman", 1000, 1111)
    text = to_markdown(table)
    assert "'-' for averages of subset correlations" in text
    assert "nan" not in text.lower()
    sts12 = next(line for line in text.splitlines() if "STS12" in line)
    cells = [c.strip() for c in sts12.strip("|").split("|")]
    assert cells[6] == "-" and cells[7] == "-"  # p (Williams), p (Steiger)
    stsb = next(line for line in text.splitlines() if "STS-B" in line)
    assert [c.strip() for c in stsb.strip("|").split("|")][6:8] == ["0.250", "0.300"]


@pytest.mark.slow  # a glove run (about a second)
def test_name_labels_a_recipe_given_by_name(data_dir):
    # name= renames what a recipe gives; it is not read as the model to load
    import bench

    report = bench.evaluate("glove-avg", tasks="STS13", protocols="all-spearman",
                            name="my GloVe", data_dir=data_dir)
    plain = bench.evaluate("glove-avg", tasks="STS13", protocols="all-spearman",
                           data_dir=data_dir)
    assert report.model.name == "my GloVe" and report.model.requested == "glove-avg"
    assert report.model.fingerprint == plain.model.fingerprint
    assert report.scores[0].values["STS13"] == plain.scores[0].values["STS13"]
