"""The seven SentEval transfer tasks: readers and evaluation protocols (SentEval's
``binary.py``, ``sst.py``, ``trec.py``, ``mrpc.py`` and ``tools/validation.py``).

Readers reproduce SentEval's loaders, including what affects results:
- MR, CR, SUBJ, MPQA, TREC are decoded as Latin-1; SST-2 and MRPC as UTF-8.
- MR/CR/SUBJ/MPQA split the file with ``str.splitlines()`` and keep empty lines as empty
  sentences (CR and MPQA have some), which is how SentEval gets CR 3775 and MPQA 10606.
- Samples are sorted as SentEval sorts them before encoding (token count, then label; for
  MRPC token counts of A and B, then label). The order matters: stratified folds and
  mini-batch permutations are assigned by position.
- Text is ``" ".join(tokens)``, what SentEval's batchers see.

Protocols: MR/CR/SUBJ/MPQA nested stratified k-fold (``InnerKFoldClassifier``); SST-2 the
given split (``SplitClassifier``); TREC and MRPC k-fold on train to choose the L2 value, then
a refit on all of train with a 5% validation split, scored on test (``KFoldClassifier``).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.reading import read_text
from bench.errors import DataError
from bench.tasks.classifier import grid_choice, make_classifier, points
from bench.tasks.features import pair_features
from bench.transfer_protocol import CONFIGS, ClassifierConfig

TREC_CLASSES = {"ABBR": 0, "DESC": 1, "ENTY": 2, "HUM": 3, "LOC": 4, "NUM": 5}


@dataclass(frozen=True)
class Samples:
    """One split: sentences (or sentence pairs when ``second`` is set) and integer labels."""

    first: tuple[str, ...]
    labels: np.ndarray
    second: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def sentences(self) -> list[str]:
        return list(self.first) + list(self.second or ())


@dataclass(frozen=True)
class TransferTask:
    name: str
    protocol: str              # "innerkfold" | "split" | "kfold"
    nclasses: int
    splits: dict[str, Samples]
    files: tuple[Path, ...] = field(default=())
    meta: Any = None  # the registry's TaskMetadata

    def sentences(self) -> list[str]:
        return [s for part in self.splits.values() for s in part.sentences()]

    def sides(self) -> tuple[list[str], list[str]]:
        """First texts (every sample) and second texts (MRPC's pairs), for prompts per side."""
        return ([s for p in self.splits.values() for s in p.first],
                [s for p in self.splits.values() for s in p.second or ()])


def _read(path: Path, encoding: str) -> str:
    return read_text(path, encoding)  # bytes read once, their sha256 recorded for the report


def _lines(path: Path, encoding: str) -> list[str]:
    """Lines as SentEval's ``for line in f`` yields them (universal newlines)."""
    return io.StringIO(_read(path, encoding), newline=None).readlines()


def _sorted(first: list[list[str]], labels: list[int],
            second: list[list[str]] | None = None) -> Samples:
    if second is None:
        order = sorted(range(len(first)), key=lambda i: (len(first[i]), labels[i]))
    else:
        order = sorted(range(len(first)),
                       key=lambda i: (len(first[i]), len(second[i]), labels[i]))
    text = tuple(" ".join(first[i]) for i in order)
    other = tuple(" ".join(second[i]) for i in order) if second is not None else None
    return Samples(text, np.asarray([labels[i] for i in order], dtype=np.int64), other)


@dataclass(frozen=True)
class BinaryReader:
    """MR, CR, SUBJ, MPQA: one file of label-1 sentences, one of label-0 (Latin-1)."""

    positive: str
    negative: str

    def files(self) -> tuple[str, ...]:
        return (self.positive, self.negative)

    def load(self, data_dir: Path, meta: Any) -> TransferTask:
        pos_file, neg_file = data_dir / self.positive, data_dir / self.negative
        pos = [line.split() for line in _read(pos_file, "latin-1").splitlines()]
        neg = [line.split() for line in _read(neg_file, "latin-1").splitlines()]
        samples = _sorted(pos + neg, [1] * len(pos) + [0] * len(neg))
        return TransferTask(meta.name, "innerkfold", 2, {"all": samples},
                            (pos_file, neg_file), meta)


def read_sst2_file(path: Path) -> Samples:
    tokens: list[list[str]] = []
    labels: list[int] = []
    for lineno, line in enumerate(_lines(path, "utf-8"), start=1):
        cols = line.strip().split("\t")
        if len(cols) < 2 or cols[1].strip() == "":
            raise DataError(f"{path}:{lineno}: missing label (expected 'sentence<TAB>0|1')")
        try:
            label = int(cols[1])
        except ValueError:
            raise DataError(f"{path}:{lineno}: label {cols[1]!r} is not an integer") from None
        if label not in (0, 1):
            raise DataError(f"{path}:{lineno}: label {label} is not 0 or 1")
        tokens.append(cols[0].split())
        labels.append(label)
    return _sorted(tokens, labels)


@dataclass(frozen=True)
class SplitFilesReader:
    """A task given as train/dev/test (or train/test) files read by one line reader.

    ``protocol``: ``split`` (SST-2: fit on train, select on dev, score test) or ``kfold``
    (TREC, MRPC: k-fold on train selects L2, then refit and score test).
    """

    split_files: tuple[tuple[str, str], ...]
    read_file: Callable[[Path], Samples]
    protocol: str
    nclasses: int

    def files(self) -> tuple[str, ...]:
        return tuple(path for _, path in self.split_files)

    def load(self, data_dir: Path, meta: Any) -> TransferTask:
        splits = {split: self.read_file(data_dir / path) for split, path in self.split_files}
        return TransferTask(meta.name, self.protocol, self.nclasses, splits,
                            tuple(data_dir / f for f in self.files()), meta)


def read_trec_file(path: Path) -> Samples:
    tokens: list[list[str]] = []
    labels: list[int] = []
    for lineno, line in enumerate(_lines(path, "latin-1"), start=1):
        target, colon, rest = line.strip().partition(":")
        if not colon:
            raise DataError(f"{path}:{lineno}: missing label (expected 'CLASS:fine question')")
        if target not in TREC_CLASSES:
            raise DataError(f"{path}:{lineno}: unknown TREC class {target!r}; "
                            f"valid: {', '.join(TREC_CLASSES)}")
        parts = rest.split(" ", 1)
        if len(parts) < 2:
            raise DataError(f"{path}:{lineno}: no question after the label {target}:{rest}")
        tokens.append(parts[1].split())
        labels.append(TREC_CLASSES[target])
    return _sorted(tokens, labels)




def read_mrpc_file(path: Path) -> Samples:
    first: list[list[str]] = []
    second: list[list[str]] = []
    labels: list[int] = []
    for lineno, line in enumerate(_lines(path, "utf-8"), start=1):
        if lineno == 1:
            continue  # header
        cols = line.strip().split("\t")
        if len(cols) < 5:
            raise DataError(f"{path}:{lineno}: expected 5 tab-separated columns "
                            f"(Quality, #1 ID, #2 ID, #1 String, #2 String), found {len(cols)}")
        if cols[0] not in ("0", "1"):
            raise DataError(f"{path}:{lineno}: label {cols[0]!r} is not 0 or 1")
        first.append(cols[3].split())
        second.append(cols[4].split())
        labels.append(int(cols[0]))
    return _sorted(first, labels, second)


# ---------------------------------------------------------------------------- features


def features(samples: Samples, table) -> np.ndarray:
    """Sentence vectors, or ``[|u - v|, u * v]`` for pairs (MRPC), as float32."""
    u = table.lookup(samples.first)
    if samples.second is None:
        return np.asarray(u, dtype=np.float32)
    return pair_features(u, table.lookup(samples.second, side=1))


def stratified_folds(y: np.ndarray, k: int, seed: int = 1111) -> list[tuple[np.ndarray, np.ndarray]]:
    """SentEval's ``StratifiedKFold(k, shuffle=True, random_state=seed)`` over positions."""
    from sklearn.model_selection import StratifiedKFold  # heavy: sklearn

    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(len(y)), y))


# ---------------------------------------------------------------------------- protocols


def _score(model, X: np.ndarray, y: np.ndarray) -> float:
    return float(model.score(X, y))


def _cv_grid(X: np.ndarray, y: np.ndarray, clf, regs, k: int,
             seed: int) -> tuple[list[float], int]:
    """Stratified k-fold over (X, y) for every L2 value: per-value mean accuracy in points
    (SentEval's 2-decimal rounding) and the index SentEval picks (ties -> smaller L2)."""
    per_reg: list[list[float]] = [[] for _ in regs]
    for tr, te in stratified_folds(y, k, seed):
        models = clf.fit(X[tr], y[tr], regs, valid=(X[te], y[te]))
        for j, m in enumerate(models):
            per_reg[j].append(_score(m, X[te], y[te]))
    scores = [points(s) for s in per_reg]
    return scores, grid_choice(scores)


def inner_kfold(X: np.ndarray, y: np.ndarray, clf, k: int, seed: int) -> dict[str, Any]:
    """MR/CR/SUBJ/MPQA: outer k-fold; in each, inner k-fold picks L2, refit, test on the fold."""
    regs = clf.grid("inner")
    dev_results, test_results, chosen = [], [], []
    for train_idx, test_idx in stratified_folds(y, k, seed):
        X_tr, y_tr = X[train_idx], y[train_idx]
        scores, best = _cv_grid(X_tr, y_tr, clf, regs, k, seed)
        dev_results.append(scores[best])
        chosen.append(regs[best])
        model = clf.fit(X_tr, y_tr, [regs[best]], valid_split=0.05)[0]
        test_results.append(round(100 * _score(model, X[test_idx], y[test_idx]), 2))
    return {"devacc": round(float(np.mean(dev_results)), 2),
            "acc": round(float(np.mean(test_results)), 2),
            "ndev": int(len(y)), "ntest": int(len(y)), "l2": chosen,
            "fold_acc": test_results}


def kfold_then_test(X: np.ndarray, y: np.ndarray, Xt: np.ndarray, yt: np.ndarray, clf, k: int,
                    seed: int) -> tuple[dict[str, Any], np.ndarray]:
    """TREC/MRPC: k-fold on train picks L2; refit on train (5% validation), score test."""
    regs = clf.grid("kfold")
    scores, best = _cv_grid(X, y, clf, regs, k, seed)
    model = clf.fit(X, y, [regs[best]], valid_split=0.05)[0]
    yhat = np.asarray(model.predict(Xt))
    acc = round(100 * float(np.mean(yhat == yt)), 2)
    return ({"devacc": scores[best], "acc": acc, "ndev": int(len(y)), "ntest": int(len(yt)),
             "l2": regs[best], "grid_scores": scores}, yhat)


def split_protocol(X: dict[str, np.ndarray], y: dict[str, np.ndarray], clf) -> dict[str, Any]:
    """SST-2: each L2 fit on train with dev for early stopping; the best scored on test.

    SentEval refits the chosen value with the same seed and data; that refit is the same
    computation as the grid member, so the member is reused.
    """
    regs = clf.grid("split")
    models = clf.fit(X["train"], y["train"], regs, valid=(X["dev"], y["dev"]))
    scores = [round(100 * _score(m, X["dev"], y["dev"]), 2) for m in models]
    best = grid_choice(scores)
    acc = round(100 * _score(models[best], X["test"], y["test"]), 2)
    return {"devacc": scores[best], "acc": acc, "ndev": int(len(y["dev"])),
            "ntest": int(len(y["test"])), "l2": regs[best], "grid_scores": scores}


def evaluate_transfer_task(task: TransferTask, table, *, config: ClassifierConfig | str = "test",
                           classifier: str | Callable = "torch", seed: int = 1111,
                           device: str = "cpu") -> dict[str, Any]:
    """Run SentEval's protocol for one task on embeddings already in ``table``.

    ``classifier`` is ``torch``, ``sklearn`` or a factory ``(config, nclasses, seed, device)``
    returning an object with ``grid(kind)`` and ``fit(X, y, regs, valid=, valid_split=)``.
    """
    from sklearn.metrics import f1_score  # heavy: sklearn

    cfg = CONFIGS[config] if isinstance(config, str) else config
    t0 = time.perf_counter()
    if callable(classifier):
        clf = classifier(cfg, task.nclasses, seed, device)
    else:
        clf = make_classifier(classifier, cfg, task.nclasses, seed, device)
    if task.protocol == "innerkfold":
        part = task.splits["all"]
        result = inner_kfold(features(part, table), part.labels, clf, cfg.kfold, seed)
    elif task.protocol == "split":
        X = {s: features(p, table) for s, p in task.splits.items()}
        y = {s: p.labels for s, p in task.splits.items()}
        result = split_protocol(X, y, clf)
    else:
        tr, te = task.splits["train"], task.splits["test"]
        result, yhat = kfold_then_test(features(tr, table), tr.labels, features(te, table),
                                       te.labels, clf, cfg.kfold, seed)
        if "f1" in getattr(task.meta, "metrics", ()):
            result["f1"] = round(100 * float(f1_score(te.labels, yhat)), 2)
    result.update({"classifier": clf.name, "config": cfg.to_dict(), "seed": seed,
                   "fits": clf.fits, "wall_s": round(time.perf_counter() - t0, 3)})
    return result
