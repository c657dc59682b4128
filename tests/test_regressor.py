"""SentEval's relatedness regressor: label encoding, stopping rule, ordering, training loop."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr

from bench.protocols import load_presets, parse_protocols
from bench.tasks.classifier import EarlyStopping
from bench.tasks.regressor import Regressor, encode_labels, pair_features, rescale, sort_pairs


@pytest.mark.parametrize("y, expected", [
    (3.4, [0, 0, 0.6, 0.4, 0]),      # Tai et al. (2015): floor 3 gets 0.6, floor + 1 gets 0.4
    (5.0, [0, 0, 0, 0, 1]),
    (1.0, [1, 0, 0, 0, 0]),
    (2.0, [0, 1, 0, 0, 0]),
    (4.75, [0, 0, 0, 0.25, 0.75]),
    (0.3, [0.3, 0, 0, 0, 0]),        # the STS-B quirk: only class 1, does not sum to 1
    (0.0, [0, 0, 0, 0, 0]),          # y = 0: all zeros
])
def test_tai_label_encoding(y, expected):
    np.testing.assert_allclose(encode_labels([y])[0], expected, atol=1e-6)


def test_label_encoding_is_float32_and_expectation_recovers_score():
    ys = np.array([1.0, 1.5, 2.2, 3.4, 4.9, 5.0])
    Y = encode_labels(ys)
    assert Y.dtype == np.float32
    np.testing.assert_allclose(Y @ np.arange(1, 6), ys, atol=1e-6)  # valid for y in [1, 5]


def test_label_fix_maps_onto_one_to_five():
    np.testing.assert_allclose(rescale([0.0, 2.5, 5.0], 0.0, 5.0), [1.0, 3.0, 5.0])
    fixed = encode_labels(rescale([0.0, 0.5], 0.0, 5.0))
    np.testing.assert_allclose(fixed.sum(1), [1.0, 1.0], atol=1e-6)  # 0.5 -> 1.4: [0.6, 0.4]
    np.testing.assert_allclose(fixed[1], [0.6, 0.4, 0, 0, 0], atol=1e-6)


def test_early_stop_on_fourth_cumulative_non_improvement():
    stopper = EarlyStopping(3)
    # improve, improve, no (1), improve, no (2), no (3), no -> stop; the counter is not reset
    seq = [0.1, 0.2, 0.15, 0.3, 0.25, 0.2, 0.1, 0.9]
    stopped_at = None
    for i, s in enumerate(seq):
        stopper.update(s)
        if stopper.stopped:
            stopped_at = i
            break
    assert stopped_at == 6
    assert stopper.best == 0.3


def test_nan_never_improves():
    stopper = EarlyStopping(0)
    assert not stopper.update(float("nan"))
    assert not stopper.update(float("nan")) and stopper.stopped


def test_sort_pairs_by_token_counts_then_score_stable():
    s1 = ["a b c", "a", "a b", "x", "y"]
    s2 = ["z", "q w", "e", "r t", "u i"]
    gold = [1.0, 3.0, 2.0, 2.5, 2.5]
    # keys: (3,1,1.0) (1,2,3.0) (2,1,2.0) (1,2,2.5) (1,2,2.5) -> 3, 4 (tie kept), 1, 2, 0
    assert sort_pairs(s1, s2, gold) == [3, 4, 1, 2, 0]


def test_pair_features():
    u = np.array([[1.0, -2.0]])
    v = np.array([[3.0, 1.0]])
    np.testing.assert_allclose(pair_features(u, v), [[2.0, 3.0, 3.0, -2.0]])


def _reference_run(X, Y, Xd, dev_scores, Xt, max_epoch, chunk, seed=1111):
    """SentEval's RelatednessPytorch loop, written plainly with autograd and torch.optim."""
    np.random.seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 5), torch.nn.Softmax(dim=1))
    loss_fn = torch.nn.MSELoss()
    opt = torch.optim.Adam(model.parameters(), weight_decay=0.0)
    X, Y, Xd, Xt = (torch.from_numpy(a) for a in (X, Y, Xd, Xt))
    r = np.arange(1, 6)
    nepoch, best, count, stop = 0, -1, 0, False
    while not stop and nepoch <= max_epoch:
        for _ in range(chunk):
            perm = np.random.permutation(len(X))
            for i in range(0, len(X), 64):
                idx = torch.from_numpy(perm[i:i + 64]).long()
                loss = loss_fn(model(X[idx]), Y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        nepoch += chunk
        with torch.no_grad():
            pr = pearsonr(model(Xd).numpy() @ r, dev_scores)[0]
        if pr > best:
            best, best_model = pr, copy.deepcopy(model)
        else:
            if count >= 3:
                stop = True
            count += 1
    with torch.no_grad():
        return best, best_model(Xt).numpy() @ r, nepoch


def test_regressor_matches_plain_senteval_loop():
    torch.set_num_threads(1)
    rs = np.random.RandomState(0)
    d = 6
    def make(n):
        u, v = rs.randn(n, d), rs.randn(n, d)
        y = np.clip(3 + (u * v).sum(1) + 0.5 * rs.randn(n), 0, 5)
        return pair_features(u, v), y
    (X, y), (Xd, yd), (Xt, _) = make(300), make(80), make(80)
    Y = encode_labels(y)
    best, yhat_ref, nepoch_ref = _reference_run(X, Y, Xd, yd, Xt, max_epoch=60, chunk=4)
    res = Regressor("pearson", max_epoch=60, chunk=4).run(X, Y, Xd, yd, Xt)
    assert res.epochs == nepoch_ref
    assert res.dev == pytest.approx(best, abs=1e-5)
    np.testing.assert_allclose(res.yhat, yhat_ref, atol=1e-4)


def test_regressor_spearman_selection_records_spearman():
    rs = np.random.RandomState(1)
    X = rs.randn(100, 4).astype(np.float32)
    y = rs.uniform(1, 5, 100)
    res = Regressor("spearman", max_epoch=10, chunk=2).run(X, encode_labels(y), X, y, X)
    assert res.selection == "spearman"
    assert len(res.chunks) >= 1 and -1 <= res.dev <= 1


def test_protocol_every_has_twelve_and_reg_parses():
    keys = [p.key for p in parse_protocols("every")]
    assert len(keys) == 12 and len(set(keys)) == 12
    assert "mean-pearson-reg" in keys and "all-spearman" in keys
    (proto,) = parse_protocols("mean-pearson-reg")
    assert (proto.metric, proto.aggregation, proto.regressor) == ("pearson", "mean", "senteval")
    presets = load_presets()
    for name in ("senteval2018", "infersent2017"):
        (p,) = presets[name].protocols
        assert p.key == "mean-pearson-reg" and "Table B.1" in p.source
