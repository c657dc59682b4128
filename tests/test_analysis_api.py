"""bench.analyze: the analyses' Python API, against an independent numpy computation of
Wang & Isola (2020), and the same numbers as ``bench analyze``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.distance import pdist

import bench
from bench.cli import main as cli
from bench.errors import BenchError
from tests.references import glove_average, stsb_split


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1)[:, None]


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_align_uniform_from_python_matches_numpy_and_the_cli(data_dir, tmp_path, capsys):
    result = bench.analyze("align-uniform", "glove-avg", splits="test", data_dir=data_dir,
                           cache_dir=tmp_path / "cache", threshold=4.5, alpha=1.0, t=3.0,
                           reports_dir=tmp_path / "none")
    (m,) = result.report.models
    # Wang & Isola (2020): l_align = E ||f(x) - f(y)||^alpha over positive pairs (here STS-B
    # test pairs with gold > 4.5), l_uniform = log E exp(-t ||f(x) - f(y)||^2) over distinct
    # pairs of every sentence of both sides; f = unit-length GloVe averages made here.
    s1, s2, gold = stsb_split(data_dir, "test")
    a, b = _unit(glove_average(s1)), _unit(glove_average(s2))
    positive = gold > 4.5
    align = np.mean(np.linalg.norm(a[positive] - b[positive], axis=1) ** 1.0)
    uniform = np.log(np.mean(np.exp(-3.0 * pdist(np.vstack([a, b]), "sqeuclidean"))))
    assert m["positive_pairs"] == positive.sum() and m["sentences"] == 2 * len(gold)
    assert m["align"] == pytest.approx(align, rel=1e-12)
    assert m["uniform"] == pytest.approx(uniform, rel=1e-9)
    assert result.report.options["alpha"] == 1.0 and result.report.options["t"] == 3.0
    assert not (tmp_path / "reports").exists()  # nothing written without out_dir

    capsys.readouterr()
    out = tmp_path / "out"
    assert cli(["analyze", "align-uniform", "--model", "glove-avg", "--splits", "test",
                "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "cache"),
                "--threshold", "4.5", "--alpha", "1", "--t", "3", "--quiet",
                "--reports-dir", str(tmp_path / "none"), "--out-dir", str(out),
                "--name", "au"]) == 0
    written = json.loads((out / "au.json").read_text())
    (w,) = written["models"]
    for key in ("align", "uniform", "positive_pairs", "sentences", "fingerprint"):
        assert w[key] == m[key], key
    assert written["options"] == result.report.options
    assert (out / "au.png").read_bytes().startswith(b"\x89PNG")


def test_analyze_refuses_unknown_names_and_bad_values_in_one_line(data_dir):
    with pytest.raises(BenchError) as info:
        bench.analyze("align-uniformity", "glove-avg")
    assert str(info.value).startswith("unknown analysis 'align-uniformity'; did you mean "
                                      "align-uniform?")
    with pytest.raises(BenchError) as info:
        bench.analyze("align-uniform", "glove-avg", treshold=4.0)
    assert str(info.value).startswith("unknown option 'treshold' of analysis 'align-uniform'; "
                                      "did you mean threshold?")
    with pytest.raises(BenchError, match="^batch_size must be a positive integer, got 0$"):
        bench.analyze("spectrum", "glove-avg", batch_size=0, data_dir=data_dir)
    with pytest.raises(BenchError, match="^normalize: unknown value 'l3'; valid: "):
        bench.analyze("spectrum", "glove-avg", normalize="l3", data_dir=data_dir)
