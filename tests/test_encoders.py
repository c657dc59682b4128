"""Encoders against independent computations (numpy / sentence-transformers / published numbers)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bench.embed import embed
from bench.encoders.glove import GloveAverageEncoder
from bench.encoders.packaged import packaged_path
from bench.encoders.registry import EncoderOptions, resolve
from bench.encoders.transformer import TransformerEncoder
from bench.errors import ModelError
from bench.tasks.registry import load_sts_task

SENTENCES = ["a man is playing a guitar .", "A Woman Slices An Onion", "zzqxv qqzv", "the"]


def _glove_reference(sentences):
    import pyarrow.parquet as pq

    root = packaged_path("packaged:glove-6B-50d")
    matrix = np.load(root / "glove_6B_50d_emb.npy").astype(np.float64)
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    vocab = {w: i for i, w in enumerate(words)}
    out = []
    for s in sentences:
        rows = [matrix[vocab[t.lower()]] for t in s.split() if t.lower() in vocab]
        out.append(np.mean(rows, axis=0) if rows else np.zeros(matrix.shape[1]))
    return np.array(out)


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_glove_average_matches_numpy_reference():
    got = GloveAverageEncoder().encode(SENTENCES)
    assert got.dtype == np.float64  # SentEval averages in float64
    np.testing.assert_allclose(got, _glove_reference(SENTENCES), rtol=0, atol=1e-12)
    assert not got[2].any()  # no known word -> zero vector


def test_glove_text_file_option(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("hello 1 2\nworld 3 4\nhello 5 6\n", encoding="utf-8")
    enc = resolve(str(path))
    np.testing.assert_allclose(enc.encode(["hello world", "nothing"]), [[4, 5], [0, 0]])
    bad = tmp_path / "bad.txt"
    bad.write_text("a 1 2\nb 3\n", encoding="utf-8")
    with pytest.raises(ModelError, match=r"bad\.txt:2: expected 2 values, found 1"):
        resolve(str(bad)).encode(["a"])


@pytest.fixture(scope="module")
def minilm_avg():
    return TransformerEncoder("packaged:all-MiniLM-L6-v2", "avg")


def test_avg_pooler_equals_sentence_transformers_mean_pooling(minilm_avg):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(packaged_path("packaged:all-MiniLM-L6-v2")), device="cpu")
    ref = st.encode(SENTENCES, normalize_embeddings=True)
    ours = minilm_avg.encode(SENTENCES, batch_size=2)
    ours = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    np.testing.assert_allclose(ours, ref, atol=2e-5)


def test_poolers_differ_and_first_layer_option_matters():
    mk = lambda pooler, **kw: TransformerEncoder("packaged:all-MiniLM-L6-v2", pooler, **kw)  # noqa: E731
    avg = mk("avg").encode(SENTENCES[:2])
    cls = mk("cls_before_pooler").encode(SENTENCES[:2])
    first = mk("avg_first_last").encode(SENTENCES[:2])
    emb = mk("avg_first_last", first_layer="embeddings").encode(SENTENCES[:2])
    top2 = mk("avg_top2").encode(SENTENCES[:2])
    for other in (cls, first, emb, top2):
        assert other.shape == avg.shape and not np.allclose(other, avg)
    assert not np.allclose(first, emb)


def test_unloadable_model_names_the_model():
    enc = resolve("nobody/no-such-model", EncoderOptions(pooler="avg"))
    with pytest.raises(ModelError, match="cannot load model 'nobody/no-such-model'"):
        enc.encode(["x"])


def test_bf16_autocast_runs_close_to_fp32(minilm_avg):
    bf16 = TransformerEncoder("packaged:all-MiniLM-L6-v2", "avg", precision="bf16")
    a, b = minilm_avg.encode(SENTENCES), bf16.encode(SENTENCES)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.99


@pytest.mark.slow
def test_minilm_stsb_matches_published_mteb_number(data_dir, minilm_avg):
    """all-MiniLM-L6-v2, STS-B test, cosine Spearman: 82.03 in MTEB's published results
    (embeddings-benchmark/mtebpaper, results/all-MiniLM-L6-v2/STSBenchmark.json, 0.8203246731),
    the number SimCSE's evaluation.py also gives on SentEval's copy of the data."""
    test = load_sts_task(data_dir, "STSBenchmark").parts["test"]
    table = embed(minilm_avg, [*test.sent1, *test.sent2], show_progress=False)
    a, b = table.lookup(test.sent1), table.lookup(test.sent2)
    sim = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert 100 * stats.spearmanr(sim, test.gold)[0] == pytest.approx(82.03, abs=0.006)


@pytest.mark.slow
def test_minilm_sts16_all_spearman_matches_published_mteb_number(data_dir, tmp_path):
    """STS16 pooled over its five subsets ("all"): 78.99 in MTEB's published results for
    all-MiniLM-L6-v2 (mtebpaper, STS16.json, 0.7898945344); MTEB pools each year the same way."""
    from bench.protocols import parse_protocols
    from bench.runner import RunConfig, run

    report = run(RunConfig(model="minilm-avg", protocols=parse_protocols("simcse"),
                           tasks=["STS16"], data_dir=str(data_dir), cache_dir=str(tmp_path),
                           show_progress=False))
    assert report.scores[0].values["STS16"] == pytest.approx(78.99, abs=0.006)


def test_batches_are_formed_by_token_count_longest_first():
    from transformers import AutoTokenizer

    from tests.helpers import HashEncoder

    # Characters and tokens disagree: the longest string is not the one with most tokens.
    sentences = ["antidisestablishmentarianism", "a b c d e f g h i j", "x y", "one two three"]
    encoder = TransformerEncoder("packaged:all-MiniLM-L6-v2", pooler="avg")
    tokenizer = AutoTokenizer.from_pretrained(str(packaged_path("packaged:all-MiniLM-L6-v2")))
    expected = [len(tokenizer(s)["input_ids"]) for s in sentences]
    assert encoder.length_keys(sentences) == expected

    class Recording(HashEncoder):
        batches: list[list[str]] = []

        def length_keys(self, sents):
            return [expected[sentences.index(s)] for s in sents]

        def encode(self, sents, batch_size=64):
            self.batches.append(list(sents))
            return super().encode(sents, batch_size)

    rec = Recording()
    table = embed(rec, sentences, batch_size=2, show_progress=False)
    by_tokens = sorted(sentences, key=lambda s: -expected[sentences.index(s)])
    assert rec.batches == [by_tokens[:2], by_tokens[2:]]
    assert set(table.index) == set(sentences)
