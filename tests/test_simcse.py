"""SimCSE training: loss against hand-computed Eq. 4/5/8, dropout views, resume, run folders
as models, and one-line errors for bad input. Training runs are a handful of steps at
batch <= 8 and max length 16 on a tiny random-weight BERT (``tiny_bert``): none of these
claims depends on pretrained weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from bench.cli import main as cli_main
from bench.encoders.registry import EncoderOptions, resolve
from bench.errors import BenchError, DataError, ModelError
from bench.train import rundir
from bench.train.config import TrainConfig
from bench.train.data import batch_indices, read_training_data
from bench.train.loss import simcse_loss
from bench.train.model import SimCSEModel, load_backbone, mask_tokens
from bench.train.trainer import Trainer
from tests.helpers import write_tiny_stsb

MINILM = "packaged:all-MiniLM-L6-v2"


# -- loss: an independent numpy computation of the paper's equations ----------------------------
def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def _eq8(h, hp, hn, tau, alpha):
    """Paper Eq. 8 (Eq. 5 at alpha = 1; Eq. 4 without hn), averaged over i, written out."""
    n = len(h)
    pos, neg = _cos(h, hp), (_cos(h, hn) if hn is not None else None)
    total = 0.0
    for i in range(n):
        denom = sum(math.exp(pos[i, j] / tau) for j in range(n))
        if neg is not None:
            denom += sum((alpha if i == j else 1.0) * math.exp(neg[i, j] / tau) for j in range(n))
        total += -math.log(math.exp(pos[i, i] / tau) / denom)
    return total / n


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(7)
    return [rng.normal(size=(4, 5)) for _ in range(3)]


@pytest.mark.parametrize("tau", [0.05, 0.5])
def test_unsupervised_loss_is_eq4(vectors, tau):
    h, hp, _ = vectors
    got = simcse_loss(torch.tensor(h), torch.tensor(hp), temperature=tau)
    assert float(got) == pytest.approx(_eq8(h, hp, None, tau, 1.0), rel=1e-5)


@pytest.mark.parametrize("alpha", [1.0, 0.5, 2.0])
def test_hard_negative_loss_is_eq5_and_eq8(vectors, alpha):
    h, hp, hn = vectors
    got = simcse_loss(torch.tensor(h), torch.tensor(hp), torch.tensor(hn), 0.1, alpha)
    assert float(got) == pytest.approx(_eq8(h, hp, hn, 0.1, alpha), rel=1e-5)


def test_known_vectors_by_hand():
    # Orthogonal unit vectors, positives equal to anchors, tau = 1: every row has logit 1 on
    # the diagonal and 0 elsewhere, so the loss is -log(e / (e + 2)).
    eye = torch.eye(3)
    assert float(simcse_loss(eye, eye, temperature=1.0)) == pytest.approx(
        -math.log(math.e / (math.e + 2)), rel=1e-6)


# -- data ------------------------------------------------------------------------------------
def test_batch_order_is_a_function_of_seed_and_step():
    a = [batch_indices(10, 4, s, seed=3).tolist() for s in range(4)]
    b = [batch_indices(10, 4, s, seed=3).tolist() for s in range(4)]
    assert a == b
    assert len(set(a[0]) | set(a[1])) == 8  # within an epoch, no repeats
    assert a[:2] != a[2:]  # a new permutation each epoch


@pytest.mark.parametrize("content,mode,message", [
    ("", "unsup", "empty training file"),
    ("\n  \n", "unsup", "empty training file"),
    ("", "sup", "empty training file"),
    ("premise,hypothesis\na,b\n", "sup", "lacks column(s) sent0, sent1"),
    ("sent0,sent1\na,b\nc,\n", "sup", "line 3: empty sent1"),
])
def test_bad_training_files(tmp_path, content, mode, message):
    path = tmp_path / "train.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        read_training_data(path, mode)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_reads_the_shared_corpora(train_dir):
    unsup = read_training_data(train_dir / "wiki_sample.txt", "unsup")
    sup = read_training_data(train_dir / "nli_sample.csv", "sup")
    assert len(unsup.columns) == 1 and len(unsup) > 10_000
    assert sup.has_hard_negatives and len(sup) == 5864


# -- model: dropout views ----------------------------------------------------------------------
def _two_views(backbone_path, dropout):
    torch.manual_seed(0)
    tok, backbone, _ = load_backbone(str(backbone_path), dropout=dropout)
    model = SimCSEModel(backbone, "cls", mlp_only_train=True).train()
    batch = tok(["a cat sits on the mat", "stocks fell sharply"] * 2, padding=True,
                return_tensors="pt")
    with torch.no_grad():
        z1, z2 = model(dict(batch), n_views=2)[0]
    return z1, z2


def test_p0_gives_identical_views_and_default_dropout_does_not(tiny_bert):
    z1, z2 = _two_views(tiny_bert, 0.0)
    torch.testing.assert_close(z1, z2, rtol=0, atol=1e-6)
    d1, d2 = _two_views(tiny_bert, None)
    assert (d1 - d2).abs().max() > 1e-3


# -- training, resume and run folders as models ------------------------------------------------
@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A 16-pair STS-B, so each dev evaluation encodes a few dozen sentences."""
    return write_tiny_stsb(tmp_path_factory.mktemp("tiny-stsb"), pairs=16)


def _cfg(tmp: Path, data: Path, name: str, data_dir: Path | None, backbone: Path,
         **kw) -> TrainConfig:
    base = dict(mode="unsup", data=str(data), backbone=str(backbone), name=name,
                runs_dir=str(tmp), batch_size=4, max_length=16, max_steps=4, eval_steps=2,
                save_steps=2, log_steps=1, data_dir=data_dir and str(data_dir),
                show_progress=False)
    base.update(kw)
    return TrainConfig(**base)


class StopAt:
    """Stops the run once ``step`` steps are done, as a kill right after that step would."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.seen: list[int] = []

    def on_step_end(self, trainer: Trainer) -> bool:
        self.seen.append(trainer.step)
        return trainer.step >= self.step


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_resume_after_kill_equals_uninterrupted(tmp_path, tiny_corpus, tiny_data, tiny_bert):
    cfg = lambda name, **kw: _cfg(tmp_path, tiny_corpus, name, tiny_data, tiny_bert, **kw)
    Trainer(cfg("full")).train()
    # "Killed" after step 3: step 3 is lost, the run restarts from step-00002.
    stop = StopAt(3)
    part = Trainer(cfg("cut"), callbacks=[stop]).train()
    assert not part["finished"] and part["steps"] == 3 and stop.seen == [1, 2, 3]
    assert [s for s, _ in rundir.checkpoints(tmp_path / "cut")] == [2]
    resumed = Trainer(cfg("cut", resume=True)).train()
    assert resumed["finished"] and resumed["steps"] == 4
    a = load_file(tmp_path / "full/checkpoints/step-00004/model.safetensors")
    b = load_file(tmp_path / "cut/checkpoints/step-00004/model.safetensors")
    assert a.keys() == b.keys()
    initial = load_file(tiny_bert / "model.safetensors")
    assert any(not torch.equal(a[k], initial[k]) for k in initial if k in a)  # it trained
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    def read_log(run):  # read here, not through the code under test
        return [json.loads(x) for x in (run / rundir.LOG_FILE).read_text().splitlines() if x]

    log_a, log_b = read_log(tmp_path / "full"), read_log(tmp_path / "cut")
    def numbers(log):
        return [e[k] for e in log for k in ("loss", "stsb_dev_spearman") if k in e]

    assert [e["step"] for e in log_a] == [e["step"] for e in log_b]
    assert sum("stsb_dev_spearman" in e for e in log_a) == 3  # steps 0, 2 and 4
    assert numbers(log_b) == pytest.approx(numbers(log_a), rel=1e-5)
    # Only the latest checkpoint keeps optimiser state; nothing half-written remains.
    assert not (tmp_path / "cut/checkpoints/step-00002" / rundir.STATE_FILE).exists()
    assert not list((tmp_path / "cut").rglob(".tmp-*"))
    # A run folder resolves to its best checkpoint with the pooler it was trained for.
    enc = resolve(str(tmp_path / "full"), EncoderOptions())
    best = json.loads((tmp_path / "full/best" / rundir.META_FILE).read_text())
    assert enc.pooler == "cls_before_pooler" and best["eval_pooler"] == "cls_before_pooler"
    assert Path(enc.location) == tmp_path / "full/best"
    step = resolve(str(tmp_path / "full/checkpoints/step-00002"), EncoderOptions())
    assert Path(step.location).name == "step-00002"
    # Re-using a name without --resume is refused before anything is touched.
    with pytest.raises(BenchError, match="already exists"):
        Trainer(cfg("full"))


def test_max_steps_then_resume_with_more_steps_is_refused(tmp_path, tiny_corpus, tiny_bert):
    """max_steps is part of the run's identity: a resume cannot silently extend a run."""
    cfg = lambda **kw: _cfg(tmp_path, tiny_corpus, "short", None, tiny_bert, eval_steps=0, **kw)
    assert Trainer(cfg(max_steps=1)).train()["finished"]
    with pytest.raises(BenchError, match=r"different settings \(max_steps\)"):
        Trainer(cfg(max_steps=2, resume=True))


def test_exported_mlp_is_the_hf_pooler(tmp_path, tiny_bert):
    torch.manual_seed(1)
    tok, backbone, _ = load_backbone(str(tiny_bert))
    model = SimCSEModel(backbone, "cls", mlp_only_train=False)
    folder = rundir.write_model_folder(tmp_path / "ckpt", model, tok,
                                       {"step": 0, "eval_pooler": model.eval_pooler})
    enc = resolve(str(folder), EncoderOptions())
    assert enc.pooler == "cls"
    sentences = ["a man plays a guitar", "the market closed lower", "two dogs run"]
    expected = model.encode(sentences, tok)
    np.testing.assert_allclose(enc.encode(sentences), expected, rtol=1e-4, atol=1e-5)
    # The MLP is not the backbone's pre-trained pooler: [CLS] + MLP differs from BERT's own.
    tok2, original, _ = load_backbone(str(tiny_bert))
    with torch.no_grad():
        own = original(**tok2(sentences, padding=True, return_tensors="pt")).pooler_output
    assert np.abs(own.numpy() - expected).max() > 1e-2


# -- bad input through the CLI: one line, exit 2, nothing in runs/ -----------------------------
def _cli(capsys, *argv) -> tuple[int, str]:
    code = cli_main(["train", "simcse", "--quiet", *argv])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", ["empty", "columns", "batch", "backbone"])
def test_cli_bad_input(tmp_path, capsys, data_dir, case):
    txt, csv = tmp_path / "s.txt", tmp_path / "p.csv"
    txt.write_text("one sentence\nanother one\n", encoding="utf-8")
    csv.write_text("a,b\nx,y\n", encoding="utf-8")
    empty = tmp_path / "e.txt"
    empty.write_text("", encoding="utf-8")
    runs = tmp_path / "runs"
    common = ["--runs-dir", str(runs), "--name", "x", "--data-dir", str(data_dir)]
    args = {
        "empty": ["--mode", "unsup", "--data", str(empty), "--backbone", MINILM],
        "columns": ["--mode", "sup", "--data", str(csv), "--backbone", MINILM],
        "batch": ["--mode", "unsup", "--data", str(txt), "--backbone", MINILM,
                  "--batch-size", "8"],
        "backbone": ["--mode", "unsup", "--data", str(txt), "--backbone",
                     str(tmp_path / "no-such-model"), "--batch-size", "2"],
    }[case]
    code, err = _cli(capsys, *common, *args)
    expected = {"empty": "empty training file", "columns": "lacks column(s) sent0, sent1",
                "batch": "batch size 8 is larger than the 2 training examples",
                "backbone": "cannot load backbone"}[case]
    assert code == 2 and err.startswith("bench: error: ") and expected in err
    assert err.count("\n") == 1
    assert not runs.exists()


def test_unknown_backbone_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="no-such-model"):
        load_backbone(str(tmp_path / "no-such-model"))


# -- MLM auxiliary loss and the "fixed 0.1" variant --------------------------------------------
def test_mlm_head_is_tied_and_masks_only_real_tokens(tiny_bert):
    torch.manual_seed(0)
    tok, backbone, head = load_backbone(str(tiny_bert), mlm=True)
    model = SimCSEModel(backbone, "cls", mlp_only_train=True, mlm_head=head).train()
    words = " ".join(["word"] * 200)
    batch = tok([words, "short one"], padding=True, truncation=True, max_length=128,
                return_tensors="pt")
    masked = mask_tokens(batch["input_ids"], batch["attention_mask"], tok, 0.15)
    chosen = masked["labels"] != -100
    specials = torch.isin(batch["input_ids"], torch.tensor(tok.all_special_ids))
    assert not (chosen & specials).any() and not (chosen & ~batch["attention_mask"].bool()).any()
    assert 0.05 < chosen[0].float().mean() < 0.3  # ~15% of the 126 real tokens
    assert (masked["input_ids"][chosen] == tok.mask_token_id).float().mean() > 0.5
    decoder = [m for m in head.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert decoder.weight is backbone.get_input_embeddings().weight
    _, loss = model(dict(batch), n_views=1, mlm_inputs=masked)
    assert loss is not None and torch.isfinite(loss)


def test_fixed_dropout_uses_one_pass(tmp_path, tiny_corpus, tiny_bert):
    fixed = Trainer(_cfg(tmp_path, tiny_corpus, "fixed", None, tiny_bert, fixed_dropout=True,
                         eval_steps=0))
    texts, views = fixed._texts(0)
    assert views == 1 and len(texts) == 4
    with pytest.raises(BenchError, match="only applies to --mode unsup"):
        TrainConfig(mode="sup", data="x.csv", backbone=MINILM, name="x", fixed_dropout=True)
