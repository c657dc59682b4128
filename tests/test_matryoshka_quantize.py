"""Matryoshka dimensions and quantized embeddings from one encoding pass (``bench.variants``),
and similarities computed in float64 whatever the vectors' dtype.

References: sentence-transformers' own ``quantize_embeddings`` for int8 and binary, numpy bit
counts for Hamming distances, scipy for correlations; never bench's code.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from bench.errors import BenchError
from bench.tasks.sts import cosine
from bench.variants import Variant, parse_dims, parse_quantize, plan
from tests.sts_files import stsb_rows, unregister_task_files, write_task


def _hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Differing bits of packed binary codes, counted with numpy."""
    bits = np.unpackbits(np.bitwise_xor(a.view(np.uint8), b.view(np.uint8)), axis=1)
    return bits.sum(1).astype(np.int64)


@pytest.mark.slow  # imports sentence-transformers (seconds)
def test_int8_is_sentence_transformers_quantization():
    from sentence_transformers.util import quantize_embeddings

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 12)).astype(np.float32)
    calibration = rng.normal(size=(80, 12)).astype(np.float32)
    expected = quantize_embeddings(vectors, "int8", calibration_embeddings=calibration)
    np.testing.assert_array_equal(Variant(quantize="int8").apply(vectors, calibration), expected)
    # without a calibration set: the vectors' own ranges, as quantize_embeddings does
    np.testing.assert_array_equal(Variant(quantize="int8").apply(vectors),
                                  quantize_embeddings(vectors, "int8"))


@pytest.mark.slow  # imports sentence-transformers (seconds)
def test_binary_cosine_is_affine_in_hamming():
    from sentence_transformers.util import quantize_embeddings

    rng = np.random.default_rng(1)
    u, v = rng.normal(size=(40, 16)), rng.normal(size=(40, 16))
    signs = Variant(quantize="binary")
    sim = cosine(signs.apply(u), signs.apply(v))
    hamming = _hamming(quantize_embeddings(u, "binary"), quantize_embeddings(v, "binary"))
    np.testing.assert_allclose(sim, 1 - 2 * hamming / 16, atol=1e-12)


@pytest.mark.slow  # imports sentence-transformers (seconds)
def test_truncation_renormalises_before_quantizing():
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(30, 10)).astype(np.float32)
    cut = vectors[:, :4] / np.linalg.norm(vectors[:, :4], axis=1, keepdims=True)
    np.testing.assert_allclose(Variant(dim=4).apply(vectors), cut, atol=1e-6)
    from sentence_transformers.util import quantize_embeddings

    np.testing.assert_array_equal(Variant(4, "int8").apply(vectors),
                                  quantize_embeddings(cut.astype(np.float32), "int8"))


def test_fp16_vectors_are_compared_in_float64():
    """Two candidates whose cosines with the query tie when computed in fp16 (both 1.0),
    while their exact cosines from the same fp16 values differ (sentence-transformers #3894)."""
    h = np.float16
    q = np.array([[1, 0.01, 0]], dtype=h)
    a, b = np.array([[1, 0, 0]], dtype=h), np.array([[1, 0.02, 0]], dtype=h)

    def in_fp16(u, v):
        dot = (u * v).sum(dtype=h)
        return dot / (np.sqrt((u * u).sum(dtype=h)) * np.sqrt((v * v).sum(dtype=h)))

    def exact(u, v):  # float64 from the fp16 values, by hand
        u, v = u[0].astype(np.float64), v[0].astype(np.float64)
        return u @ v / (np.sqrt(u @ u) * np.sqrt(v @ v))

    assert in_fp16(q, a) == in_fp16(q, b) == 1.0  # the spurious tie
    got_a, got_b = cosine(q, a), cosine(q, b)
    assert got_a.dtype == np.float64
    assert float(got_a[0]) == pytest.approx(exact(q, a), abs=1e-15)
    assert float(got_b[0]) == pytest.approx(exact(q, b), abs=1e-15)
    assert got_b[0] > got_a[0]


def test_options_are_one_line():
    assert parse_dims("768,512, 256") == (768, 512, 256)
    assert parse_dims([64]) == (64,)
    assert parse_quantize("int8,binary") == ("int8", "binary")
    for bad, message in (("0", "not a positive"), ("12,x", "'x' is not"), ("8,8", "twice"),
                         ([True], "not a positive")):
        with pytest.raises(BenchError, match=message):
            parse_dims(bad)
    with pytest.raises(BenchError, match="unknown value 'int4'; valid: int8, binary"):
        parse_quantize("int4")
    with pytest.raises(BenchError, match="512 is more than the 384 dimensions"):
        plan((512,), (), 384, "minilm")
    # the model's own dimension is the run's own report, not a variant
    assert plan((384, 64), ("binary",), 384) == [
        Variant(None, "binary"), Variant(64), Variant(64, "binary")]


@pytest.mark.slow  # loads the GloVe vectors (seconds)
def test_bad_dims_fail_before_encoding(data_dir, capsys, monkeypatch):
    from bench.cli import main
    from bench.encoders.glove import GloveAverageEncoder

    def never(*args, **kwargs):
        raise AssertionError("encoded before the --dims check")

    monkeypatch.setattr(GloveAverageEncoder, "encode", never)
    code = main(["run", "--model", "glove-avg", "--tasks", "STS12", "--dims", "64,25",
                 "--data-dir", str(data_dir), "--no-report", "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert err.strip().splitlines()[-1].endswith(
        "--dims: 64 is more than the 50 dimensions of model 'glove-avg'")


@pytest.fixture
def stsb_task(tmp_path, data_dir):
    toml = write_task(tmp_path / "tasks", "StsbHead", stsb_rows(data_dir, "test", 0, 300))
    yield toml
    unregister_task_files()


@pytest.mark.slow  # MiniLM encodes 600 sentences (a few seconds on a CPU)
def test_minilm_variants_equal_numpy(stsb_task, data_dir):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import quantize_embeddings

    import bench
    from bench.encoders.packaged import packaged_path

    kwargs = {"task_files": [str(stsb_task)], "tasks": ["StsbHead"], "protocols": "all-spearman"}
    plain = bench.evaluate("minilm-st", **kwargs)  # encodes, into the test session's cache
    report = bench.evaluate("minilm-st", dims="256,64", quantize="int8,binary", **kwargs)
    # the full-dimension report is today's, to the last digit
    assert report.scores[0].values == plain.scores[0].values
    assert [v.model.name for v in report.variants] == [
        "minilm-st int8", "minilm-st binary", "minilm-st @256d", "minilm-st @256d int8",
        "minilm-st @256d binary", "minilm-st @64d", "minilm-st @64d int8",
        "minilm-st @64d binary"]

    rows = stsb_rows(data_dir, "test", 0, 300)
    s1, s2 = [r[0] for r in rows], [r[1] for r in rows]
    gold = np.array([float(r[2]) for r in rows])
    unique = sorted(set(s1 + s2))
    model = SentenceTransformer(str(packaged_path("all-MiniLM-L6-v2")), device="cpu")
    table = dict(zip(unique, model.encode(unique, convert_to_numpy=True), strict=True))

    def reference(dim: int | None, quantize: str | None) -> tuple[float, float]:
        def cut(x):
            x = x[:, :dim] if dim else x
            return x / np.linalg.norm(x, axis=1, keepdims=True)
        calib = cut(np.stack([table[s] for s in unique]))
        u, v = cut(np.stack([table[s] for s in s1])), cut(np.stack([table[s] for s in s2]))
        if quantize == "int8":  # calibrated on the task's sentences, as recorded
            u = quantize_embeddings(u, "int8", calibration_embeddings=calib).astype(float)
            v = quantize_embeddings(v, "int8", calibration_embeddings=calib).astype(float)
        if quantize == "binary":
            sim = -_hamming(quantize_embeddings(u, "binary"), quantize_embeddings(v, "binary"))
        else:
            sim = (u * v).sum(1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
        return 100 * spearmanr(sim, gold)[0], 100 * pearsonr(sim, gold)[0]

    assert report.scores[0].values["StsbHead"] == pytest.approx(reference(None, None)[0],
                                                                abs=0.01)
    for variant in report.variants:
        settings = variant.model.extra["variant"]
        spearman, pearson = reference(settings.get("dim"), settings.get("quantize"))
        assert variant.scores[0].values["StsbHead"] == pytest.approx(spearman, abs=0.01)
        part = variant.tasks["StsbHead"].parts["test"]
        assert part.metrics["pearson"] == pytest.approx(pearson, abs=0.01)  # points
        assert variant.model.embedding_dim == settings.get("dim", 384)
        assert variant.model.fingerprint != report.model.fingerprint
    binary = report.variants[1].model
    assert binary.similarity == "hamming" and binary.spec["variant"]["quantize"] == "binary"
    assert report.run["similarity_precision"] == "float64"
    assert report.variants[0].model.extra["variant"]["calibration"] == "each task's own sentences"


def test_compare_refuses_to_rank_truncated_rows_of_other_widths():
    from types import SimpleNamespace as NS

    from bench.compare.guard import dimension_clash

    def placed(label, dim, cut):
        model = NS(embedding_dim=dim, extra={"variant": {"dim": dim}} if cut else {})
        return NS(row=NS(label=label, report=NS(model=model)))

    full, cut, other = placed("m", 384, False), placed("m @256d", 256, True), \
        placed("bert", 768, False)
    assert dimension_clash([full, cut]) == "m 384d, m @256d 256d"
    assert dimension_clash([full, other]) is None  # models of their own widths rank
    assert dimension_clash([cut, placed("e5 @256d", 256, True)]) is None
