"""``bench neighbors`` (issue 26, item 8; SimCSE Table 8): the k nearest corpus sentences by
cosine against a reference computed here with scipy / numpy; the corpus file validated
before any model is loaded (one line naming the file and the line)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from bench import neighbors
from bench.cli import main
from bench.neighbors import read_corpus, top_k

CORPUS = ["A man is playing a guitar.", "A woman is slicing an onion.",
          "A dog runs in the park.", "A man plays the guitar on stage.",
          "A child is riding a horse.", "Someone is cutting vegetables."]
QUERIES = ["A man is playing music.", "A person chops food."]


def _reference(q: np.ndarray, c: np.ndarray, k: int) -> tuple[list[list[int]], np.ndarray]:
    """Cosine by scipy (a zero vector: 0, as SentEval), ranked by (-cosine, corpus index)."""
    sims = np.zeros((len(q), len(c)))
    ok_q, ok_c = np.linalg.norm(q, axis=1) > 0, np.linalg.norm(c, axis=1) > 0
    sims[np.ix_(ok_q, ok_c)] = 1 - cdist(q[ok_q], c[ok_c], metric="cosine")
    order = [sorted(range(len(c)), key=lambda j, i=i: (-sims[i, j], j))[:k]
             for i in range(len(q))]
    return order, np.array([[sims[i, j] for j in row] for i, row in enumerate(order)])


def test_top_k_equals_a_scipy_reference_with_ties_and_a_zero_vector():
    rng = np.random.default_rng(0)
    corpus = rng.normal(size=(40, 16))
    corpus[7] = 0.0  # no known word
    corpus[12] = corpus[3]  # an exact tie with row 3, which comes first
    queries = np.vstack([rng.normal(size=(4, 16)), corpus[3], np.zeros(16)])
    order, sims = top_k(queries, corpus, 5)
    ref_order, ref_sims = _reference(queries, corpus, 5)
    assert order[:5].tolist() == ref_order[:5]
    assert order[4][:2].tolist() == [3, 12]
    np.testing.assert_allclose(sims, ref_sims, rtol=0, atol=1e-12)
    assert np.all(sims[5] == 0.0)


def test_the_corpus_keeps_first_lines_and_skips_blank_and_repeated_ones(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes("\ufeffone\r\n\r\n two \nthree\none\n".encode())
    corpus = read_corpus(path)
    assert corpus.sentences == ["one", "two", "three"] and corpus.lines == [1, 3, 4]


@pytest.mark.parametrize("content, message", [
    (b"fine\nalso fine\n\xff\xfe broken\n", "c.txt line 3: not UTF-8"),
    (b"fine\nevil \x1b[2J clear\n", "c.txt line 2: a control character"),
    (b"fine\n" + b"x" * 2001 + b"\n", "c.txt line 2: 2001 characters"),
    (b"\n \n", "no sentence"),
])
def test_a_bad_corpus_is_one_line_naming_file_and_line_before_any_model(tmp_path, capsys,
                                                                        content, message):
    path = tmp_path / "c.txt"
    path.write_bytes(content)
    # an unknown model: had it been loaded first, the error would name the model instead
    assert main(["neighbors", "--model", "no-such-model", "--corpus", str(path), "--query",
                 "q", "-k", "1"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "\x1b" not in err


@pytest.mark.parametrize("extra, message", [
    (["-k", "7"], "-k 7: the corpus"), (["-k", "0"], "-k: 0"),
    (["--model", "a", "--model", "b", "--model", "c", "--model", "d"], "at most 4"),
    (["--model", "no-such-model"], "named twice"),
])
def test_a_bad_request_is_refused_before_any_model(tmp_path, capsys, extra, message):
    path = tmp_path / "c.txt"
    path.write_text("\n".join(CORPUS), encoding="utf-8")
    assert main(["neighbors", "--model", "no-such-model", "--corpus", str(path), "--query",
                 "q", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_and_oversized_corpus(tmp_path, capsys, monkeypatch):
    assert main(["neighbors", "--model", "m", "--corpus", str(tmp_path / "none.txt"),
                 "--query", "q"]) == 2
    assert "none.txt: cannot read" in capsys.readouterr().err
    path = tmp_path / "big.txt"
    path.write_text("a sentence\n" * 20, encoding="utf-8")
    monkeypatch.setattr(neighbors, "MAX_CORPUS_BYTES", 100)
    assert main(["neighbors", "--model", "m", "--corpus", str(path), "--query", "q"]) == 2
    assert "220 bytes, over" in capsys.readouterr().err


@pytest.mark.slow  # loads GloVe 50d
def test_glove_neighbours_equal_a_numpy_reference_in_every_format(tmp_path, capsys):
    from bench.encoders.registry import resolve

    path = tmp_path / "corpus.txt"
    path.write_text("\n".join([*CORPUS, "<script>alert(1)</script> a man"]), encoding="utf-8")
    corpus = [*CORPUS, "<script>alert(1)</script> a man"]
    encoder = resolve("glove-avg")
    c = np.asarray(encoder.encode(corpus, batch_size=8), dtype=np.float64)
    q = np.asarray(encoder.encode(QUERIES, batch_size=8), dtype=np.float64)
    order, sims = _reference(q, c, 3)
    page = tmp_path / "nb.html"
    args = ["neighbors", "--model", "glove-avg", "--corpus", str(path), "-k", "3", "--quiet",
            *[a for query in QUERIES for a in ("--query", query)]]
    assert main([*args, "--format", "json", "--html", str(page)]) == 0
    data = json.loads(capsys.readouterr().out)["neighbors"]
    for i, entry in enumerate(data["queries"]):
        hits = entry["neighbours"]["glove-avg"]
        assert [h["sentence"] for h in hits] == [corpus[j] for j in order[i]]
        assert [h["line"] for h in hits] == [j + 1 for j in order[i]]
        np.testing.assert_allclose([h["cosine"] for h in hits], sims[i], rtol=1e-6)
    html = page.read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html
    assert main([*args, "--format", "md"]) == 0
    md = capsys.readouterr().out
    for i in range(len(QUERIES)):
        for j, s in zip(order[i], sims[i]):
            assert f"| {corpus[j]} | {s:.4f} |" in re.sub(" +", " ", md.replace("&lt;", "<").replace("&gt;", ">"))
    assert main(args) == 0  # piped: plain, one line per rank
    text = capsys.readouterr().out
    assert "┃" not in text and f"1    {corpus[order[0][0]]}" in text
