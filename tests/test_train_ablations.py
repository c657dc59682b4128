"""The paper's training ablations: positive makers (Table 1, 2), two encoders, dot product.

Expected values come from the definitions in the paper's captions (crop k%: keep 100-k% of
the length; word deletion k%: delete k% of the words; next sentence: line i+1 of the same
article) and from Eq. 1 written out in numpy, never from the code under test.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.cli import main as cli_main
from bench.commands.train import recipe_set, settings
from bench.errors import BenchError
from bench.train.config import TrainConfig
from bench.train.loss import simcse_loss
from bench.train.positives import (
    DeleteOneWord,
    NextSentence,
    PositiveError,
    Synonym,
    check_spec,
    make_positive,
    read_corpus,
    read_wordnet,
)
from bench.train.trainer import Trainer

SENTENCE = "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9"
WORDS = SENTENCE.split()


def _corpus(tmp_path: Path, text: str):
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return read_corpus(path)


def _is_subsequence(short: list[str], long: list[str]) -> bool:
    it = iter(long)
    return all(w in it for w in short)


# -- makers on a known sentence ----------------------------------------------------------------
@pytest.mark.parametrize("k,kept", [(10, 9), (20, 8), (30, 7)])
def test_crop_keeps_a_contiguous_span_of_100_minus_k_percent(tmp_path, k, kept):
    corpus = _corpus(tmp_path, SENTENCE + "\n")
    starts = set()
    for seed in range(20):
        out = make_positive(f"crop:{k}").make(corpus, np.array([0]),
                                              np.random.default_rng(seed))[0].split()
        assert len(out) == kept
        start = WORDS.index(out[0])
        assert out == WORDS[start:start + kept]  # contiguous
        starts.add(start)
    assert len(starts) > 1  # the span's position is drawn, not always the prefix


@pytest.mark.parametrize("k,removed", [(10, 1), (20, 2), (30, 3)])
def test_word_deletion_removes_k_percent_of_the_words(tmp_path, k, removed):
    corpus = _corpus(tmp_path, SENTENCE + "\n")
    out = make_positive(f"word-deletion:{k}").make(corpus, np.array([0]),
                                                   np.random.default_rng(3))[0].split()
    assert len(out) == len(WORDS) - removed and _is_subsequence(out, WORDS)


def test_delete_one_word_and_a_fixed_seed_is_reproducible(tmp_path):
    corpus = _corpus(tmp_path, SENTENCE + "\n")
    maker = DeleteOneWord()
    a = maker.make(corpus, np.array([0, 0, 0]), np.random.default_rng(5))
    b = maker.make(corpus, np.array([0, 0, 0]), np.random.default_rng(5))
    assert a == b
    for out in a:
        words = out.split()
        assert len(words) == 9 and _is_subsequence(words, WORDS)
    assert DeleteOneWord().rewrite(["alone"], np.random.default_rng(0)) == ["alone"]


def test_next_sentence_pairs_line_i_with_i_plus_1_within_an_article(tmp_path):
    corpus = _corpus(tmp_path, "a1\na2\na3\n\nb1\nb2\n")
    maker = NextSentence(1)
    maker.prepare(corpus)
    lines = maker.anchors(corpus)
    assert lines.tolist() == [0, 1, 3]  # a3 ends its article, b2 the file
    out = maker.make(corpus, lines, np.random.default_rng(0))
    assert out == ["a2", "a3", "b2"]


def test_next_3_sentences_samples_one_of_the_next_three_of_the_article(tmp_path):
    corpus = _corpus(tmp_path, "a1\na2\na3\na4\na5\n\nb1\nb2\n")
    maker = make_positive("next-3-sentences")
    seen: dict[str, set[str]] = {}
    for seed in range(40):
        for anchor, pos in zip(["a1", "a4", "b1"],
                               maker.make(corpus, np.array([0, 3, 5]),
                                          np.random.default_rng(seed))):
            seen.setdefault(anchor, set()).add(pos)
    assert seen == {"a1": {"a2", "a3", "a4"}, "a4": {"a5"}, "b1": {"b2"}}


def _tiny_wordnet(folder: Path) -> Path:
    """Two synsets in WordNet's data-file layout (wndb(5WN)): {car, auto, automobile}, {go}."""
    folder.mkdir()
    (folder / "data.noun").write_text(
        "  1 This is the licence header\n"
        "02958343 06 n 03 car 0 auto 0 automobile 0 000 | a motor vehicle\n"
        "09999999 06 n 03 fast_food 0 junk_food 0 a 0 000 | multi-word and 1-letter lemmas\n",
        encoding="utf-8")
    (folder / "data.verb").write_text("01835496 38 v 01 go 0 000 | move\n", encoding="utf-8")
    return folder


def test_synonym_replaces_one_known_word_by_a_wordnet_synonym(tmp_path, monkeypatch):
    folder = _tiny_wordnet(tmp_path / "wn")
    assert read_wordnet(folder) == {"car": ("auto", "automobile"), "auto": ("automobile", "car"),
                                    "automobile": ("auto", "car")}
    monkeypatch.setenv("BENCH_WORDNET_DIR", str(folder))
    corpus = _corpus(tmp_path, "my Car is very fast\n")
    maker = Synonym()
    maker.prepare(corpus)
    outs = {maker.make(corpus, np.array([0]), np.random.default_rng(s))[0] for s in range(20)}
    assert outs == {"my auto is very fast", "my automobile is very fast"}


def test_synonym_without_wordnet_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WORDNET_DIR", str(tmp_path / "none"))
    with pytest.raises(PositiveError, match="no WordNet database found"):
        Synonym().prepare(_corpus(tmp_path, "x\n"))


def test_mlm_replacement_uses_a_masked_lm_and_changes_k_percent(tmp_path, tiny_bert):
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from tests.helpers import TINY_BERT_CONFIG

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert))
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), **TINY_BERT_CONFIG)).save_pretrained(
        tmp_path / "mlm")
    tokenizer.save_pretrained(tmp_path / "mlm")
    text = "the cat sat on the mat near the door of the house today"
    corpus = _corpus(tmp_path, text + "\n")
    maker = make_positive("mlm:20", backbone=str(tiny_bert), model=str(tmp_path / "mlm"))
    maker.prepare(corpus)
    out = maker.make(corpus, np.array([0]), np.random.default_rng(1))[0]
    assert out != text and len(out.split()) >= 1
    # no --positive-model: the backbone itself must have an MLM head, which tiny_bert lacks
    with pytest.raises(PositiveError, match="has no masked-LM head"):
        make_positive("mlm:20", backbone=str(tiny_bert)).prepare(corpus)


@pytest.mark.parametrize("spec,message", [
    ("dropuot", "unknown --positive"), ("crop:0", "K must be in 1..99"),
    ("crop:100", "K must be in 1..99"), ("crop", "give the percentage"),
    ("word-deletion:1.5", "whole percentage"), ("dropout:3", "takes no ':K'"),
])
def test_bad_spellings_fail_before_anything_loads(spec, message):
    with pytest.raises(PositiveError, match=message):
        check_spec(spec)


def test_the_default_is_dropout_with_cosine():
    cfg = TrainConfig(mode="unsup", data="x.txt", backbone="b", name="x")
    assert (cfg.positive, cfg.similarity, cfg.dual_encoder) == ("dropout", "cosine", False)


# -- the loss with sim = dot -------------------------------------------------------------------
def _eq1_dot(h: np.ndarray, hp: np.ndarray, hn: np.ndarray | None = None) -> float:
    """Eq. 1 (Eq. 5 with hard negatives) with sim(a, b) = a . b and no temperature."""
    total = 0.0
    for i in range(len(h)):
        terms = [math.exp(float(h[i] @ hp[j])) for j in range(len(h))]
        if hn is not None:
            terms += [math.exp(float(h[i] @ hn[j])) for j in range(len(h))]
        total += -math.log(math.exp(float(h[i] @ hp[i])) / sum(terms))
    return total / len(h)


@pytest.mark.parametrize("tau", [0.05, 1.0])
def test_dot_product_loss_is_eq1_with_sim_dot(tau):
    rng = np.random.default_rng(11)
    h, hp, hn = (rng.normal(scale=0.5, size=(5, 6)) for _ in range(3))
    t = [torch.tensor(x, dtype=torch.float32) for x in (h, hp, hn)]
    got = simcse_loss(t[0], t[1], temperature=tau, similarity="dot").item()
    assert got == pytest.approx(_eq1_dot(h, hp), rel=1e-5)
    got = simcse_loss(*t, temperature=tau, similarity="dot").item()
    assert got == pytest.approx(_eq1_dot(h, hp, hn), rel=1e-5)


# -- in the trainer (tiny BERT) ----------------------------------------------------------------
def _cfg(tmp: Path, data: Path, backbone: Path, **kw) -> TrainConfig:
    base = dict(mode="unsup", data=str(data), backbone=str(backbone), name="x",
                runs_dir=str(tmp / "runs"), batch_size=4, max_length=16, max_steps=2,
                eval_steps=0, save_steps=0, log_steps=1, show_progress=False)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture()
def corpus_file(tmp_path) -> Path:
    path = tmp_path / "c.txt"
    path.write_text("".join(f"sentence number {i} has a few more words\n" for i in range(12)),
                    encoding="utf-8")
    return path


def test_delete_one_word_without_dropout_views_differ_by_one_word(tmp_path, corpus_file,
                                                                  tiny_bert):
    tr = Trainer(_cfg(tmp_path, corpus_file, tiny_bert, positive="delete-one-word",
                      dropout=0.0))
    texts, views = tr._texts(0)
    assert views == 2
    anchors, positives = texts[:4], texts[4:]
    for a, p in zip(anchors, positives):
        wa, wp = a.split(), p.split()
        assert len(wa) == len(wp) + 1
        assert any(wa[:j] + wa[j + 1:] == wp for j in range(len(wa)))
    # p = 0: the only difference between the two views' vectors is the text
    tr.model.train()
    batch = dict(tr.tokenizer([anchors[0]] * 2, return_tensors="pt"))
    z = tr.model.embed(batch)
    assert torch.equal(z[0], z[1])
    assert tr.train()["finished"]


def test_dual_encoder_copies_receive_separate_gradients(tmp_path, corpus_file, tiny_bert):
    tr = Trainer(_cfg(tmp_path, corpus_file, tiny_bert, dual_encoder=True))
    first = {id(p) for p in tr.model.parameters()}
    assert not first & {id(p) for p in tr.model2.parameters()}
    texts, _ = tr._texts(0)
    z1 = tr.model(tr._tokenize(texts[:4]), 1)[0][0]
    z2 = tr.model2(tr._tokenize(texts[4:]), 1)[0][0]
    simcse_loss(z1, z2).backward()
    g1 = tr.model.backbone.embeddings.word_embeddings.weight.grad
    g2 = tr.model2.backbone.embeddings.word_embeddings.weight.grad
    assert g1 is not None and g2 is not None
    assert g1.abs().sum() > 0 and g2.abs().sum() > 0 and not torch.allclose(g1, g2)
    tr.optimizer.zero_grad(set_to_none=True)
    before = [p.detach().clone() for p in (tr.model.backbone.embeddings.word_embeddings.weight,
                                           tr.model2.backbone.embeddings.word_embeddings.weight)]
    tr.train_step(0)
    after = (tr.model.backbone.embeddings.word_embeddings.weight,
             tr.model2.backbone.embeddings.word_embeddings.weight)
    assert all(not torch.equal(b, a) for b, a in zip(before, after))  # both are trained
    assert not torch.equal(after[0], after[1])


def test_recipe_sets_are_valid_configs():
    names = recipe_set("figure2-minilm-cpu")
    assert sorted(n.split("/")[1] for n in names) == ["delete-one-word", "fixed-0.1",
                                                      "no-dropout", "unsup-simcse"]
    keys = {k: None for k in ("recipe", "recipe_set", "name", "quiet", "json", "func")}
    for name in names:
        cfg = TrainConfig(**settings(argparse.Namespace(**{**keys, "recipe": name})))
        assert cfg.save_initial and cfg.save_steps == 10


# -- bad input at the command line: one line, nothing in runs/ ---------------------------------
@pytest.mark.parametrize("case", ["unknown", "crop0", "crop100", "one-line", "mlm-no-head",
                                  "dual-sup"])
def test_cli_bad_input(tmp_path, capsys, tiny_bert, case):
    one = tmp_path / "one.txt"
    one.write_text("just one sentence here\n", encoding="utf-8")
    runs = tmp_path / "runs"
    positive = {"unknown": "crop-words:10", "crop0": "crop:0", "crop100": "crop:100",
                "one-line": "next-sentence", "mlm-no-head": "mlm:15",
                "dual-sup": "dropout"}[case]
    extra = ["--dual-encoder", "--mode", "sup"] if case == "dual-sup" else []
    code = cli_main(["train", "simcse", "--quiet", "--mode", "unsup", "--data", str(one),
                     "--backbone", str(tiny_bert), "--runs-dir", str(runs), "--name", "x",
                     "--batch-size", "1", "--positive", positive, *extra])
    err = capsys.readouterr().err
    expected = {"unknown": "unknown --positive 'crop-words:10'", "crop0": "K must be in 1..99",
                "crop100": "K must be in 1..99",
                "one-line": "needs two consecutive lines of one article; the file has 1 line",
                "mlm-no-head": "has no masked-LM head",
                "dual-sup": "--dual-encoder applies to --mode unsup"}[case]
    assert code == 2 and err.startswith("bench: error: ") and expected in err, err
    assert err.count("\n") == 1
    assert not runs.exists()


def test_unknown_recipe_set_is_one_line():
    with pytest.raises(BenchError, match="no folder baselines/nope/"):
        recipe_set("nope")


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_table_scores_final_checkpoints_and_groups_seeds(tmp_path, corpus_file, tiny_bert):
    from bench.train.table import markdown, score_runs
    from bench.train.trainer import train
    from tests.helpers import write_tiny_stsb

    stsb = write_tiny_stsb(tmp_path / "stsb", pairs=8)
    for name, seed in (("v-seed1", 1), ("v-seed2", 2), ("other", 1)):
        train(_cfg(tmp_path, corpus_file, tiny_bert, name=name, seed=seed,
                   positive="crop:20" if name == "other" else "dropout"))
    result = score_runs(tmp_path / "runs", str(stsb))
    values = {r["run"]: r["stsb_dev_spearman"] for r in result["runs"]}
    grouped = {v["variant"]: v for v in result["variants"]}
    assert set(grouped) == {"v", "other"} and grouped["v"]["n"] == 2
    pair = [values["v-seed1"], values["v-seed2"]]
    assert grouped["v"]["mean"] == pytest.approx(np.mean(pair))
    assert grouped["v"]["sd"] == pytest.approx(np.std(pair, ddof=1))
    assert [r["positive"] for r in result["runs"] if r["run"] == "other"] == ["crop:20"]
    assert "| v | 2 |" in markdown(result)


def test_resume_reads_a_run_json_written_before_the_ablation_settings(tmp_path, corpus_file,
                                                                        tiny_bert):
    import json

    from bench.train.trainer import train

    cfg = _cfg(tmp_path, corpus_file, tiny_bert, save_steps=1)
    train(cfg)
    run_json = Path(cfg.runs_dir) / "x" / "run.json"
    info = json.loads(run_json.read_text(encoding="utf-8"))
    for key in ("positive", "positive_model", "dual_encoder", "similarity", "save_initial"):
        del info["config"][key]  # as main wrote it before these settings existed
    run_json.write_text(json.dumps(info), encoding="utf-8")
    Trainer(_cfg(tmp_path, corpus_file, tiny_bert, save_steps=1, resume=True))
    with pytest.raises(BenchError, match=r"different settings \(positive\)"):
        Trainer(_cfg(tmp_path, corpus_file, tiny_bert, save_steps=1, resume=True,
                     positive="crop:10"))


def test_reports_index_lists_analyses_and_training_tables(tmp_path):
    import json

    from bench.analysis.report import AnalysisReport, save

    folder = tmp_path / "reports"
    models = [{"label": f"r@{s}", "checkpoint": {"run": "r", "step": s}} for s in (0, 10)]
    save(AnalysisReport("align-uniform", "0", "2026-12-01T00:00:00+00:00", {}, {}, models,
                        "fig.png"), folder / "figure2" / "fig.json")
    (folder / "abl").mkdir()
    (folder / "abl" / "table.json").write_text(json.dumps({"kind": "training-table"}))
    (folder / "abl" / "table.md").write_text("| t |\n")
    assert cli_main(["reports", "index", "--dir", str(folder)]) == 0
    text = (folder / "README.md").read_text()
    assert "| [figure2/fig.json](figure2/fig.json) | align-uniform | 2: r" in text
    assert "[fig.png](figure2/fig.png)" in text
    assert "[abl/table.md](abl/table.md)" in text and "Not readable" not in text


def test_table_reuses_values_of_unchanged_runs(tmp_path, corpus_file, tiny_bert, monkeypatch):
    from bench.train import table
    from bench.train.trainer import train
    from tests.helpers import write_tiny_stsb

    stsb = write_tiny_stsb(tmp_path / "stsb", pairs=8)
    train(_cfg(tmp_path, corpus_file, tiny_bert, name="a"))
    first = table.score_runs(tmp_path / "runs", str(stsb))
    first["runs"][0]["stsb_dev_spearman"] = 12.5  # a marker: reused, not recomputed
    first["start"][0]["stsb_dev_spearman"] = 7.0
    again = table.score_runs(tmp_path / "runs", str(stsb), first)
    assert again["runs"][0]["stsb_dev_spearman"] == 12.5
    assert again["start"][0]["stsb_dev_spearman"] == 7.0


def test_trajectory_plot_draws_each_run_and_marks_the_pretrained_start(tmp_path, monkeypatch):
    from bench.analysis.kinds import align_uniform

    captured = {}
    monkeypatch.setattr(align_uniform, "save_png",
                        lambda fig, path: captured.setdefault("fig", fig) and path)
    models = [{"label": f"{run}@{step}", "checkpoint": {"run": run, "step": step},
               "align": 0.2 + 0.01 * i * step, "uniform": -2.0 - 0.02 * step}
              for i, run in enumerate(["a", "b", "c", "d"]) for step in (0, 10, 20)]
    align_uniform.plot(models, None, {}, tmp_path / "x.png", "t")
    legend = [t.get_text() for t in captured["fig"].axes[0].get_legend().get_texts()]
    assert legend == ["a (3 checkpoints)", "b (3 checkpoints)", "c (3 checkpoints)",
                      "d (3 checkpoints)", "pre-trained start (step 0)"]


def test_a_recipe_sets_runs_dir_follows_bench_runs_dir(tmp_path, monkeypatch):
    keys = {k: None for k in ("recipe", "recipe_set", "name", "quiet", "json", "func")}
    args = argparse.Namespace(**{**keys, "recipe": "figure2-minilm-cpu/no-dropout"})
    assert settings(args)["runs_dir"] == str(Path("runs") / "figure2-minilm-cpu")
    monkeypatch.setenv("BENCH_RUNS_DIR", str(tmp_path))
    assert settings(args)["runs_dir"] == str(tmp_path / "figure2-minilm-cpu")
