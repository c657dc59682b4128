"""Transfer tasks: readers (counts, encoding, errors), folds, grid rule, classifier loop."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.embed import EmbeddingTable
from bench.errors import DataError
from bench.protocols import CONFIGS
from bench.tasks.classifier import (
    EarlyStopping,
    SklearnLogReg,
    TorchLogReg,
    grid_choice,
    points,
)
from bench.tasks.registry import get as get_task
from bench.tasks.registry import select
from bench.tasks.transfer import (
    Samples,
    TransferTask,
    evaluate_transfer_task,
    stratified_folds,
)

COUNTS = {  # the sizes SentEval's loaders give on this data
    "MR": {"all": 10662}, "CR": {"all": 3775}, "SUBJ": {"all": 10000},
    "MPQA": {"all": 10606}, "SST2": {"train": 67349, "dev": 872, "test": 1821},
    "TREC": {"train": 5452, "test": 500}, "MRPC": {"train": 4076, "test": 1725},
}


@pytest.mark.parametrize("name", list(COUNTS))
def test_reader_counts_on_real_data(data_dir, name):
    task = load_transfer_task(data_dir, name)
    assert {k: len(v) for k, v in task.splits.items()} == COUNTS[name]


def test_binary_labels_and_empty_lines_kept(data_dir):
    subj = load_transfer_task(data_dir, "SUBJ").splits["all"]
    assert np.bincount(subj.labels).tolist() == [5000, 5000]   # objective = 1
    cr = load_transfer_task(data_dir, "CR").splits["all"]
    assert sum(1 for s in cr.first if s == "") == 4             # CR has 4 blank lines
    assert cr.first[0] == ""                                    # sorted first (0 tokens)


def load_transfer_task(data_dir, name):
    return get_task(name).load(data_dir)


def _names(items):
    return [m.name for m in select(items)]


def test_task_sets_expand():
    assert _names(["transfer"]) == ["MR", "CR", "SUBJ", "MPQA", "SST2", "TREC", "MRPC"]
    assert len(_names(["every"])) == 14
    assert _names(["sst", "sts-b"]) == ["SST2", "STSBenchmark"]


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_registry_sizes_are_what_the_readers_keep(data_dir):
    for meta in select(["transfer"]):
        task = meta.load(data_dir)
        assert {k: len(v) for k, v in task.splits.items()} == meta.sizes == COUNTS[meta.name]


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_latin1_reading_and_sort_order(tmp_path):
    _write(tmp_path, "MR/rt-polarity.pos", b"caf\xe9 tr\xe8s bon\nok\n")
    _write(tmp_path, "MR/rt-polarity.neg", b"bad\nnot  good at all\n")
    samples = load_transfer_task(tmp_path, "MR").splits["all"]
    # (tokens, label): ("ok",1) ("bad",0) -> 1 token each, label 0 first; then 3 and 4 tokens
    assert samples.first == ("bad", "ok", "café très bon", "not good at all")
    assert samples.labels.tolist() == [0, 1, 1, 0]


@pytest.mark.parametrize("rel, content, needle", [
    ("SST/binary/sentiment-train", b"good film\t1\nno label here\n", "sentiment-train:2: missing label"),
    ("TREC/train_5500.label", b"DESC:manner How ?\nFOO:bar What ?\n", "train_5500.label:2: unknown TREC class 'FOO'"),
    ("TREC/train_5500.label", b"no colon here\n", "train_5500.label:1: missing label"),
    ("MRPC/msr_paraphrase_train.txt", b"Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tonly a\n",
     "msr_paraphrase_train.txt:2: expected 5 tab-separated columns"),
])
def test_bad_input_names_file_and_line(tmp_path, rel, content, needle):
    _write(tmp_path, rel, content)
    for other in ("SST/binary/sentiment-dev", "SST/binary/sentiment-test"):
        _write(tmp_path, other, b"fine\t0\n")
    _write(tmp_path, "TREC/TREC_10.label", b"NUM:count How many ?\n")
    _write(tmp_path, "MRPC/msr_paraphrase_test.txt", b"h\th\th\th\th\n0\t1\t2\ta\tb\n")
    name = rel.split("/")[0].replace("SST", "SST2")
    with pytest.raises(DataError) as err:
        load_transfer_task(tmp_path, name)
    message = str(err.value)
    assert needle in message and "\n" not in message


def test_stratified_folds_partition_and_balance():
    y = np.array([0] * 12 + [1] * 8)
    folds = stratified_folds(y, 4, seed=1111)
    test_idx = np.concatenate([te for _, te in folds])
    assert sorted(test_idx.tolist()) == list(range(20))          # each sample tested once
    for tr, te in folds:
        assert np.bincount(y[te]).tolist() == [3, 2]             # 12/4 and 8/4 per fold
        assert set(tr).isdisjoint(te)
    again = stratified_folds(y, 4, seed=1111)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again))   # seeded, reproducible


def test_grid_scores_round_to_two_decimals_and_ties_go_to_smaller_l2():
    assert points([0.801234, 0.8]) == 80.06
    scores = [points([0.801249]), points([0.801201]), points([0.79])]   # 80.12, 80.12, 79.0
    assert grid_choice(scores) == 0
    assert grid_choice([70.0, 70.01, 70.01]) == 1


def test_classifier_tenacity_rule():
    stopper = EarlyStopping(CONFIGS["fasttest"].tenacity)     # 3: stop on 4th non-improvement
    results = [stopper.update(s) or stopper.stopped for s in [0.5, 0.5, 0.4, 0.6, 0.6, 0.6]]
    assert stopper.stopped and stopper.checks == 6 and stopper.best == 0.6
    assert results[:5] == [True, False, False, True, False]


def _reference_fit(X, y, Xd, yd, l2, cfg, nclasses, seed=1111):
    """SentEval's MLP(nhid=0).fit written plainly: autograd, torch.optim, deepcopy."""
    np.random.seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Linear(X.shape[1], nclasses)
    opt = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}[cfg.optim](model.parameters())
    opt.param_groups[0]["weight_decay"] = l2
    X, y, Xd, yd = torch.tensor(X), torch.tensor(y), torch.tensor(Xd), torch.tensor(yd)
    nepoch, best, count, stop = 0, -1, 0, False
    while not stop and nepoch <= cfg.max_epoch:
        for _ in range(cfg.epoch_size):
            perm = np.random.permutation(len(X))
            for i in range(0, len(X), cfg.batch_size):
                idx = torch.from_numpy(perm[i:i + cfg.batch_size])
                loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        nepoch += cfg.epoch_size
        with torch.no_grad():
            acc = (model(Xd).argmax(1) == yd).float().mean().item()
        if acc > best:
            best, kept = acc, copy.deepcopy(model)
        else:
            if count >= cfg.tenacity:
                stop = True
            count += 1
    return best, kept.weight.detach().t().numpy()


@pytest.mark.parametrize("config", ["fasttest", "test"])
def test_stacked_grid_matches_one_fit_per_l2(config):
    torch.set_num_threads(1)
    rs = np.random.RandomState(0)
    w = rs.randn(8, 3)
    X = rs.randn(260, 8).astype(np.float32)
    y = (X @ w + 2 * rs.randn(260, 3)).argmax(1)
    Xd = rs.randn(80, 8).astype(np.float32)
    yd = (Xd @ w + 2 * rs.randn(80, 3)).argmax(1)
    cfg = CONFIGS[config]
    regs = (1e-5, 1e-2, 0.5)
    models = TorchLogReg(cfg, 3).fit(X, y, regs, valid=(Xd, yd))
    for model, l2 in zip(models, regs):
        best, W = _reference_fit(X, y, Xd, yd, l2, cfg, 3)
        assert model.devacc == pytest.approx(best)
        np.testing.assert_allclose(model.weight.numpy(), W, atol=1e-5)


def test_validation_split_holds_out_five_percent():
    rs = np.random.RandomState(2)
    X = rs.randn(200, 3).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = TorchLogReg(CONFIGS["fasttest"], 2).fit(X, y, [1e-5], valid_split=0.05)[0]
    # score on the same 10 held-out rows SentEval's permutation picks
    dev = np.random.RandomState(1111).permutation(200)[:10]
    assert model.devacc == pytest.approx(model.score(X[dev], y[dev]))


def _table(vectors: dict[str, np.ndarray]) -> EmbeddingTable:
    names = list(vectors)
    return EmbeddingTable(np.stack([vectors[n] for n in names]), {n: i for i, n in enumerate(names)})


@pytest.mark.slow  # trains the transfer classifier on MRPC-sized data (~10 s)
def test_mrpc_style_task_reports_acc_and_f1():
    rs = np.random.RandomState(3)
    first, second, labels, vecs = [], [], [], {}
    for i in range(120):
        a = rs.randn(4)
        b = a + (0.05 if i % 2 else 3.0) * rs.randn(4)    # paraphrases are close
        first.append(f"a{i}")
        second.append(f"b{i}")
        labels.append(i % 2)
        vecs[f"a{i}"], vecs[f"b{i}"] = a, b
    def part(lo, hi):
        return Samples(tuple(first[lo:hi]), np.array(labels[lo:hi]), tuple(second[lo:hi]))
    task = TransferTask("MRPC", "kfold", 2, {"train": part(0, 80), "test": part(80, 120)},
                        meta=get_task("MRPC"))
    res = evaluate_transfer_task(task, _table(vecs), config="fasttest", classifier="sklearn")
    assert res["acc"] >= 90 and "f1" in res and res["ndev"] == 80 and res["ntest"] == 40
    assert res["config"]["kfold"] == 5 and res["classifier"] == "sklearn"
    assert res["fits"] == 7 * 5 + 1   # C grid 2^-1..2^5 over 5 folds, then the refit


def test_sklearn_grids_follow_senteval():
    assert SklearnLogReg.grid("kfold") == tuple(2.0 ** t for t in range(-1, 6))
    assert SklearnLogReg.grid("inner") == tuple(2.0 ** t for t in range(-2, 4))
    assert TorchLogReg.grid("split") == tuple(10 ** t for t in range(-5, -1))


@pytest.mark.slow
def test_run_reports_transfer_section(data_dir):
    from bench.protocols import parse_protocols
    from bench.runner import RunConfig, run

    report = run(RunConfig(model="glove-avg", protocols=parse_protocols("simcse"),
                           tasks=["TREC"], data_dir=str(data_dir), transfer_config="fasttest",
                           show_progress=False))
    trec = report.tasks["TREC"].transfer
    assert trec.ndev == 5452 and trec.ntest == 500 and 0 < trec.acc <= 100
    assert trec.details["config"]["name"] == "fasttest" and trec.details["seed"] == 1111
    assert report.run["transfer_config"] == "fasttest"
    assert report.run["classifier"] == "torch"
    assert report.transfer_average.value == trec.acc
    assert report.transfer_average.tasks == ("TREC",)
    assert report.tasks["TREC"].main_score == trec.acc
    assert report.scores == [] and "transfer_s" in report.timings
    assert "TREC/train_5500.label" in report.tasks["TREC"].files


@pytest.mark.slow
def test_results_do_not_depend_on_the_number_of_jobs(data_dir):
    from bench.protocols import parse_protocols
    from bench.runner import RunConfig, run

    def transfer(jobs: int) -> dict:
        report = run(RunConfig(model="glove-avg", protocols=parse_protocols("simcse"),
                               tasks=["TREC", "MRPC", "CR"], data_dir=str(data_dir),
                               transfer_config="fasttest", show_progress=False, jobs=jobs))
        assert report.run["transfer_jobs"] == jobs
        return {task: {k: v for k, v in res.transfer.to_dict().items() if k != "wall_s"}
                for task, res in report.tasks.items()}

    one, three = transfer(1), transfer(3)
    assert list(three) == ["TREC", "MRPC", "CR"]  # as asked, though CR is started first
    assert one == three


def test_thread_limit_is_shared_safely_by_concurrent_fits():
    import threading

    from bench.threads import limit_threads

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    inside: list[int] = []
    first_in, second_done = threading.Event(), threading.Event()

    def long_user():
        with limit_threads("cpu"):
            first_in.set()
            second_done.wait(10)
            inside.append(torch.get_num_threads())

    def short_user():
        first_in.wait(10)
        with limit_threads("cpu"):
            inside.append(torch.get_num_threads())
        second_done.set()

    threads = [threading.Thread(target=long_user), threading.Thread(target=short_user)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        # The short user left first; the setting stayed 1 for the long one, then came back.
        assert inside == [1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
