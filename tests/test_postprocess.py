"""BERT-whitening and BERT-flow post-processors, and the post-processed encoder around them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.embed import EmbeddingTable
from bench.encoders.base import Encoder
from bench.encoders.postprocess import Flow, Whitening, make_postprocessor
from bench.encoders.postprocessed import PostProcessedEncoder, read_nli_sentences
from bench.errors import BenchError, DataError, ModelError
from bench.recipes import load_recipes

torch.set_num_threads(1)


def correlated(n: int, d: int, seed: int = 0, low: float = 0.1) -> np.ndarray:
    """Anisotropic data with an offset, like raw sentence vectors."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) * np.geomspace(1.0, low, d)[:, None]
    return rng.normal(size=(n, d)) @ mix + rng.normal(size=d) * 5


# --- whitening ------------------------------------------------------------------------------
def test_whitened_fit_set_has_identity_covariance_and_zero_mean():
    X = correlated(600, 24)
    Y = Whitening().fit_transform(X)
    np.testing.assert_allclose(np.cov(Y.T), np.eye(24), atol=1e-4)
    np.testing.assert_allclose(Y.mean(0), 0.0, atol=1e-4)


def _reference_whitening(X: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Su et al.'s formula by hand: eigen-decomposition instead of SVD, biased=False by hand."""
    mu = X.mean(0)
    centered = X - mu
    cov = centered.T @ centered / (len(X) - 1)
    values, vectors = np.linalg.eigh(cov)  # ascending
    order = np.argsort(values)[::-1]
    kernel = vectors[:, order] / np.sqrt(values[order])
    return mu, kernel[:, :k] if k else kernel


@pytest.mark.parametrize("k", [None, 5])
def test_whitening_matches_the_formula_including_the_cut(k):
    X, X_new = correlated(400, 16, seed=1), correlated(50, 16, seed=2)
    w = Whitening(n_components=k).fit(X)
    mu, kernel = _reference_whitening(X, k)
    expected = (X_new - mu) @ kernel
    got = w.transform(X_new)
    assert got.shape == (50, k or 16)
    # An eigenvector is defined up to its sign: align each column before comparing.
    signs = np.sign((got * expected).sum(0))
    np.testing.assert_allclose(got * signs, expected, rtol=1e-6, atol=1e-8)


def test_n_components_keeps_the_top_directions():
    X = correlated(500, 12, seed=3)
    full, cut = Whitening().fit(X), Whitening(n_components=4).fit(X)
    np.testing.assert_allclose(cut.transform(X), full.transform(X)[:, :4])
    # The kept kernel columns span the 4 directions of largest variance.
    values, vectors = np.linalg.eigh(np.cov(X.T))
    top = vectors[:, np.argsort(values)[::-1][:4]]
    basis = cut.kernel_ / np.linalg.norm(cut.kernel_, axis=0)
    np.testing.assert_allclose(top @ top.T @ basis, basis, atol=1e-8)
    assert repr(cut) == "Whitening(n_components=4)"
    with pytest.raises(BenchError, match="exceeds"):
        Whitening(n_components=13).fit(X)


# --- flow -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted_flow():
    X = correlated(2000, 16, seed=4, low=0.3).astype(np.float32)
    train, valid = X[:1600], X[1600:]
    flow = Flow(epochs=3, show_progress=False, seed=7)
    flow.fit(train, X_valid=valid, eval_every=50)
    return flow, train, valid


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_flow_held_out_nll_falls(fitted_flow):
    flow, _, valid = fitted_flow
    steps, nll = zip(*flow.valid_nll_)
    assert steps[0] == 0 and len(nll) == 4  # before, after 50 and 100 steps, at the end (150)
    assert nll[-1] < nll[0] - 0.1  # bits per dimension
    assert nll[-1] < nll[1]
    assert flow.score(valid) == pytest.approx(nll[-1], rel=1e-6)


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_flow_latents_are_standardised(fitted_flow):
    flow, train, _ = fitted_flow
    Z = flow.transform(train)
    assert Z.shape == train.shape
    # Three short epochs on anisotropic data: near, not at, the optimum. A flow without
    # its data-dependent init or with a wrong log-det gives means of ~5 or variances far off.
    mean, var = Z.mean(0), Z.var(0)
    assert np.abs(mean).mean() < 0.2 and np.abs(mean).max() < 0.5
    assert abs(np.median(var) - 1) < 0.2 and var.min() > 0.5 and var.max() < 1.5


def test_flow_log_likelihood_is_change_of_variables():
    """log p(x) = log N(z; 0, I) + log|det dz/dx|, with the Jacobian from autograd."""
    X = torch.from_numpy(correlated(64, 8, seed=6).astype(np.float32))
    flow = Flow(show_progress=False, seed=1)
    model = flow._build(8)
    model.initialize(X[:32])
    with torch.no_grad():  # make the couplings non-trivial (their output layer starts at zero)
        for name, p in model.named_parameters():
            if ".out." in name:
                p.add_(0.05 * torch.randn_like(p))
    model.double()
    x = X[:3].double()
    with torch.no_grad():
        z, log_prob = model(x)
    assert float(log_prob.abs().max()) < 1e3 and float(z.abs().max()) > 0.1
    for i in range(3):
        jac = torch.autograd.functional.jacobian(lambda v: model(v[None])[0][0], x[i])
        logdet = torch.linalg.slogdet(jac)[1]
        normal = -0.5 * (z[i] ** 2).sum() - 4 * np.log(2 * np.pi)
        assert float(log_prob[i]) == pytest.approx(float(normal + logdet), abs=1e-9)


def test_flow_inverse_recovers_input(fitted_flow):
    flow, _, valid = fitted_flow
    back = flow.inverse_transform(flow.transform(valid))
    np.testing.assert_allclose(back, valid, atol=1e-4 * np.abs(valid).max())


def test_flow_is_seeded_and_state_roundtrips():
    X = correlated(300, 16, seed=5).astype(np.float32)
    a = Flow(show_progress=False, seed=3).fit(X)
    b = Flow(show_progress=False, seed=3).fit(X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    c = Flow(show_progress=False, seed=3)
    c.set_state(a.get_state())
    np.testing.assert_array_equal(c.transform(X), a.transform(X))
    assert "levels=3, depth=3, width=32" in repr(a)


def test_flow_optimizer_decays_only_dense_kernels():
    flow = Flow(show_progress=False)
    model = flow._build(16)
    groups = flow._optimizer(model).param_groups
    decayed = {id(p) for p in groups[0]["params"]}
    names = {n for n, p in model.named_parameters() if id(p) in decayed}
    assert groups[0]["weight_decay"] == 0.01 and groups[1]["weight_decay"] == 0.0
    assert names and all(n.endswith(".weight") for n in names)
    assert not any("norm" in n for n in names)
    assert groups[0]["eps"] == 1e-6 and groups[0]["lr"] == 1e-3


def test_make_postprocessor_rejects_unknowns():
    assert make_postprocessor({"kind": "whitening", "n_components": 3}).n_components == 3
    with pytest.raises(BenchError, match="unknown postprocessor"):
        make_postprocessor("pca")
    with pytest.raises(BenchError, match="flow"):
        make_postprocessor({"kind": "flow", "depthh": 2})


# --- post-processed encoder -----------------------------------------------------------------
class FakeEncoder(Encoder):
    """Deterministic anisotropic vectors from a hash of the sentence; counts calls."""

    name = "fake"

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self.calls = 0
        self.mix = np.random.default_rng(0).normal(size=(dim, dim)) * np.linspace(2, 0.2, dim)

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.calls += 1
        rows = [np.random.default_rng(int(hashlib.sha1(s.encode()).hexdigest()[:8], 16))
                .normal(size=self.dim) for s in sentences]
        return (np.array(rows) @ self.mix + 3).astype(np.float32)

    def spec(self) -> dict[str, Any]:
        return {"type": "fake", "dim": self.dim}


def _nli_csv(path, rows: int = 60):
    lines = ["sent0,sent1,hard_neg"] + [f"premise {i},hypothesis {i},\"contra, {i}\""
                                        for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _table(encoder: Encoder, sentences: list[str]) -> EmbeddingTable:
    unique = list(dict.fromkeys(sentences))
    return EmbeddingTable(encoder.encode(unique), {s: i for i, s in enumerate(unique)})


def test_nli_fit_is_cached_and_reused(tmp_path):
    nli = _nli_csv(tmp_path / "nli.csv")
    task = [f"sts sentence {i}" for i in range(40)] * 2
    base = FakeEncoder()
    first = PostProcessedEncoder(base, "whitening", "nli", nli_path=nli, cache_root=tmp_path)
    view1 = first.task_view("STS12", task, _table(base, task))
    assert first.fit_log[0]["reused"] is False and first.fit_log[0]["n"] == 180
    calls = base.calls
    second = PostProcessedEncoder(base, "whitening", "nli", nli_path=nli, cache_root=tmp_path)
    view2 = second.task_view("STS12", task, _table(base, task))
    assert second.fit_log[0]["reused"] is True
    assert base.calls == calls + 1  # only the task table above: no NLI re-encoding, no refit
    np.testing.assert_array_equal(view1.lookup(task), view2.lookup(task))
    # the view is the whitening fitted on the NLI vectors, applied to the task's vectors
    nli_vectors = base.encode(read_nli_sentences(nli))
    expected = Whitening().fit(nli_vectors).transform(base.encode(task))
    np.testing.assert_allclose(view1.lookup(task), expected, rtol=1e-6, atol=1e-6)


def test_target_fit_uses_each_tasks_sentences(tmp_path):
    base = FakeEncoder()
    enc = PostProcessedEncoder(base, {"kind": "whitening"}, "target", cache_root=tmp_path)
    a = [f"a {i}" for i in range(30)] + ["a 0", "a 1"]
    b = [f"b {i}" for i in range(30)]
    va = enc.task_view("STS12", a, _table(base, a))
    vb = enc.task_view("STS13", b, _table(base, b))
    # each task's own sentences (repeats kept) end up with zero mean, identity covariance
    np.testing.assert_allclose(va.lookup(a).mean(0), 0, atol=1e-8)
    np.testing.assert_allclose(np.cov(vb.lookup(b).T), np.eye(16), atol=1e-6)
    assert [e["fit"] for e in enc.fit_log] == ["target:STS12", "target:STS13"]
    again = PostProcessedEncoder(base, {"kind": "whitening"}, "target", cache_root=tmp_path)
    again.task_view("STS13", b, _table(base, b))
    assert again.fit_log[0]["reused"] is True
    with pytest.raises(ModelError, match="target"):
        enc.encode(["x"])


def test_fingerprint_covers_base_postprocessor_and_fit_set(tmp_path):
    nli = _nli_csv(tmp_path / "nli.csv")
    other = _nli_csv(tmp_path / "other.csv", rows=61)
    base = FakeEncoder()
    prints = {PostProcessedEncoder(base, pp, fit, nli_path=path).fingerprint
              for pp in ("whitening", "flow") for fit in ("nli", "target")
              for path in (nli, other)}
    assert len(prints) == 6  # target ignores the NLI file
    assert PostProcessedEncoder(base, "flow", nli_path=nli).source_encoder() is base
    assert (PostProcessedEncoder(FakeEncoder(8), "flow", nli_path=nli).fingerprint
            != PostProcessedEncoder(base, "flow", nli_path=nli).fingerprint)


def test_bad_nli_file_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sent0,sent1\na,b\nc,d,e\n")
    with pytest.raises(DataError, match=r"bad\.csv:3"):
        read_nli_sentences(bad)
    (tmp_path / "hdr.csv").write_text("premise,hypothesis\na,b\n")
    with pytest.raises(DataError, match=r"hdr\.csv:1"):
        read_nli_sentences(tmp_path / "hdr.csv")
    with pytest.raises(DataError, match="not found"):
        read_nli_sentences(tmp_path / "missing.csv")


def test_real_nli_sample_reads(train_dir):
    sentences = read_nli_sentences(train_dir / "nli_sample.csv")
    assert 17000 < len(sentences) < 18000 and len(sentences) % 3 == 0


def test_hub_base_offline_error_names_the_model(tmp_path):
    from bench.encoders.transformer import TransformerEncoder

    base = TransformerEncoder("no-such-org/no-such-model", "avg_first_last")
    enc = PostProcessedEncoder(base, "whitening", "target", cache_root=tmp_path, name="x-white")
    with pytest.raises(ModelError, match=r"'no-such-org/no-such-model'.*huggingface-cli download"):
        enc.source_encoder()


# --- recipes ----------------------------------------------------------------------------------
def test_postprocessed_recipes_resolve_and_share_the_base_cache():
    from bench.encoders.registry import EncoderOptions, resolve

    recipes = load_recipes()
    names = ["minilm-whitening-nli", "minilm-whitening-target", "minilm-flow-nli",
             "minilm-flow-target"]
    assert all(recipes[n].offline for n in names)
    base = resolve("minilm-first-last", EncoderOptions())
    encoders = [resolve(n, EncoderOptions()) for n in names]
    assert all(isinstance(e, PostProcessedEncoder) for e in encoders)
    assert {e.source_encoder().fingerprint for e in encoders} == {base.fingerprint}
    assert len({e.fingerprint for e in encoders} | {base.fingerprint}) == 5


# Gao, Yao and Chen (2021), SimCSE, arXiv:2104.08821: Table 5 (the NLI variants, "all",
# Spearman) and Table C.1 (the target variants), typed here from the paper, STS12 ... SICK-R,
# with the row each has in reports/literature/.
SIMCSE_TABLES = {
    "bert-base-flow-nli": ("table5", "BERT-base-flow",
                           [58.40, 67.10, 60.85, 75.16, 71.22, 68.66, 64.47]),
    "bert-base-whitening-nli": ("table5", "BERT-base-whitening",
                                [57.83, 66.90, 60.90, 75.08, 71.31, 68.24, 63.73]),
    "roberta-base-whitening-nli": ("table5", "RoBERTa-base-whitening",
                                   [46.99, 63.24, 57.23, 71.36, 68.99, 61.36, 62.91]),
    "sbert-base-flow-nli": ("table5", "SBERT-base-flow",
                            [69.78, 77.27, 74.35, 82.01, 77.46, 79.12, 76.21]),
    "sbert-base-whitening-nli": ("table5", "SBERT-base-whitening",
                                 [69.65, 77.57, 74.66, 82.27, 78.39, 79.52, 76.91]),
    "sroberta-base-whitening-nli": ("table5", "SRoBERTa-base-whitening",
                                    [70.46, 77.07, 74.46, 81.64, 76.43, 79.49, 76.65]),
    "bert-base-flow-target": ("tableC1", "BERT-flow (target)",
                              [53.15, 78.38, 66.02, 62.09, 70.84, 71.70, 61.97]),
    "bert-base-whitening-target": ("tableC1", "BERT-whitening (target)",
                                   [42.88, 77.77, 66.28, 63.60, 67.58, 71.34, 60.40]),
    "sbert-base-flow-target": ("tableC1", "SBERT-flow (target)",
                               [66.18, 82.69, 76.22, 73.72, 75.71, 79.99, 73.82]),
    "sbert-base-whitening-target": ("tableC1", "SBERT-whitening (target)",
                                    [52.91, 81.91, 75.44, 72.24, 72.93, 80.50, 72.54]),
}
STS_KEYS = ["STS12", "STS13", "STS14", "STS15", "STS16", "STSBenchmark", "SICKRelatedness"]


def test_published_tables_are_complete():
    """Every post-processed recipe (not the offline ones) has its row of the SimCSE paper in
    reports/literature/, cell for cell, and names that row in its file."""
    recipes = load_recipes()
    ours = {r.name: r for r in recipes.values() if r.encoder.get("type") == "postprocessed"
            and not r.offline}
    assert sorted(ours) == sorted(SIMCSE_TABLES)
    root = Path(__file__).resolve().parents[1] / "reports" / "literature"
    for name, (table, model, row) in SIMCSE_TABLES.items():
        path = root / f"simcse-{table}.json"
        literature = json.loads(path.read_text(encoding="utf-8"))
        found = [r for r in literature["rows"] if r["model"]["name"] == model]
        assert len(found) == 1, (name, model)
        scores = found[0]["scores"]["all-spearman"]
        assert {k: scores[k] for k in STS_KEYS} == dict(zip(STS_KEYS, row)), name
        comment = f'# Published: reports/literature/{path.name}, row "{model}"'
        assert comment in ours[name].path.read_text(encoding="utf-8"), name


def test_no_cache_writes_and_reads_nothing(tmp_path):
    nli = _nli_csv(tmp_path / "nli.csv")
    root = tmp_path / "cache"
    task = [f"sts sentence {i}" for i in range(40)]
    base = FakeEncoder()
    cached = PostProcessedEncoder(base, "whitening", "nli", nli_path=nli, cache_root=root)
    view = cached.task_view("STS12", task, _table(base, task))
    written = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert written  # the NLI vectors and the fitted state
    uncached = PostProcessedEncoder(base, "whitening", "nli", nli_path=nli, cache_root=root,
                                    use_cache=False)
    again = uncached.task_view("STS12", task, _table(base, task))
    assert uncached.fit_log[0]["reused"] is False and uncached.fit_log[0]["state"] is None
    assert sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file()) == written
    np.testing.assert_allclose(again.lookup(task), view.lookup(task), rtol=1e-6, atol=1e-6)
    fresh_root = tmp_path / "unused"
    PostProcessedEncoder(base, "whitening", "target", cache_root=fresh_root,
                         use_cache=False).task_view("STS12", task, _table(base, task))
    assert not fresh_root.exists()
