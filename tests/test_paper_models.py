"""The paper's model names (``simcse-bert``, ...): the run trained here, else the released
checkpoint, else one line naming both ways to get the model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from bench.cli import main
from bench.encoders import paper
from bench.encoders.packaged import packaged_path
from bench.encoders.registry import resolve
from bench.errors import ModelError
from bench.recipes import load_recipes

# name -> (recipe that trains it here, the authors' hub id), as baselines/ should declare them
PAPER_MODELS = {
    "simcse-bert": ("simcse-unsup-bert", "princeton-nlp/unsup-simcse-bert-base-uncased"),
    "simcse-bert-sup": ("simcse-sup-bert", "princeton-nlp/sup-simcse-bert-base-uncased"),
    "simcse-roberta": ("simcse-unsup-roberta", "princeton-nlp/unsup-simcse-roberta-base"),
    "simcse-roberta-sup": ("simcse-sup-roberta", "princeton-nlp/sup-simcse-roberta-base"),
}


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    """An empty runs folder that recipes' runs/NAME point into."""
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv("BENCH_RUNS_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    """A random 2-layer BERT with the packaged MiniLM's tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(str(packaged_path("packaged:all-MiniLM-L6-v2")))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=37,
                         max_position_embeddings=128)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("name", sorted(PAPER_MODELS))
def test_untrained_and_offline_names_both_ways(name, runs):
    trained, hub = PAPER_MODELS[name]
    assert trained in load_recipes() and "train" in load_recipes()[trained].extra
    with pytest.raises(ModelError) as err:
        resolve(name)
    message = str(err.value)
    assert "\n" not in message
    assert f"bench train simcse --recipe {trained}" in message and repr(hub) in message
    assert str(runs / trained) in message


def test_the_designs_first_command_gives_one_line(runs, data_dir, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["run", "--model", "simcse-bert", "--protocol", "all-spearman",
                 "--data-dir", str(data_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bench: error: model 'simcse-bert'") and "\n" not in err
    assert "bench train simcse --recipe simcse-unsup-bert" in err
    assert "princeton-nlp/unsup-simcse-bert-base-uncased" in err and not out.exists()


def test_list_models_shows_the_papers_names_first(capsys):
    assert main(["list", "models", "--json"]) == 0
    names = [entry["name"] for entry in json.loads(capsys.readouterr().out)]
    assert set(names[:len(PAPER_MODELS)]) == set(PAPER_MODELS)
    assert len(names) > len(PAPER_MODELS)


def _with_recipe(monkeypatch, name: str, **encoder) -> None:
    """Recipes as baselines/ has them, ``name``'s [encoder] table changed."""
    recipes = load_recipes()
    recipes[name] = replace(recipes[name], encoder={**recipes[name].encoder, **encoder})
    monkeypatch.setattr(paper, "load_recipes", lambda: recipes)


def test_released_checkpoint_when_it_can_be_loaded(runs, tiny_bert, monkeypatch):
    # stands in for the hub checkpoint being in the local Hugging Face cache
    _with_recipe(monkeypatch, "simcse-unsup-bert-hub", model=str(tiny_bert))
    encoder = resolve("simcse-bert")
    assert encoder.describe()["weights_from"] == {
        "paper_model": "simcse-bert", "weights": "published checkpoint",
        "recipe": "simcse-unsup-bert-hub", "hub": str(tiny_bert)}
    assert encoder.spec()["pooler"] == "cls_before_pooler"  # the released recipe's pooler


def test_a_paper_model_naming_a_missing_recipe_is_one_line(monkeypatch):
    recipes = load_recipes()
    recipes["simcse-bert"] = replace(recipes["simcse-bert"],
                                     encoder={"type": "paper-model", "trained": "nope",
                                              "released": "simcse-unsup-bert-hub"})
    monkeypatch.setattr(paper, "load_recipes", lambda: recipes)
    with pytest.raises(ModelError, match="trained recipe 'nope' does not exist"):
        paper.paper_model(recipes["simcse-bert"].encoder, resolve.__defaults__[0],
                           "simcse-bert")


@pytest.mark.slow
def test_after_training_the_name_resolves_to_the_run(runs, tiny_bert, train_dir, data_dir,
                                                     tmp_path):
    assert main(["train", "simcse", "--recipe", "simcse-unsup-bert", "--name",
                 "simcse-unsup-bert", "--backbone", str(tiny_bert), "--data",
                 str(train_dir / "wiki_sample.txt"), "--max-steps", "2", "--eval-steps", "0",
                 "--batch-size", "8", "--device", "cpu", "--precision", "fp32", "--quiet",
                 "--data-dir", str(data_dir)]) == 0
    common = ["--tasks", "STS13", "--protocol", "all-spearman", "--data-dir", str(data_dir),
              "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    assert main(["run", "--model", "simcse-bert", *common, "--out",
                 str(tmp_path / "name.json")]) == 0
    assert main(["run", "--model", str(runs / "simcse-unsup-bert"), *common, "--out",
                 str(tmp_path / "path.json")]) == 0
    by_name, by_path = (json.loads((tmp_path / f).read_text()) for f in ("name.json",
                                                                         "path.json"))
    assert by_name["model"]["extra"]["weights_from"]["weights"] == "trained run"
    assert by_name["model"]["spec"] == by_path["model"]["spec"]
    assert Path(by_name["model"]["spec"]["model"]).parent.parent == runs / "simcse-unsup-bert"
    assert by_name["scores"] == by_path["scores"]
