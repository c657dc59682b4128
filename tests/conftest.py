"""Shared fixtures: the SentEval data beside the checkout (../shared), isolated caches."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# huggingface_hub reads this once, when first imported, which may happen in a session
# fixture (tiny_bert) before the per-test environment below is in place: without it, a
# missing model is looked up on the network until a timeout instead of failing at once.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _senteval_dir() -> Path:
    env = os.environ.get("BENCH_TEST_DATA_DIR")
    return Path(env) if env else SHARED_DATA / "senteval" / "downstream"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """SentEval's ``downstream`` folder (../shared/data/senteval/downstream)."""
    path = _senteval_dir()
    if not path.is_dir():
        pytest.fail(f"SentEval data not found at {path}; set BENCH_TEST_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def train_dir() -> Path:
    """Small SimCSE training corpora (../shared/data/train)."""
    path = SHARED_DATA / "train"
    if not path.is_dir():
        pytest.fail(f"training corpora not found at {path}")
    return path


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory, train_dir) -> Path:
    """The first 24 lines of the Wikipedia sample: a corpus for a few training steps."""
    lines = (train_dir / "wiki_sample.txt").read_text(encoding="utf-8").splitlines()[:24]
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    """Each test session gets its own embedding cache and digest memo, never the user's."""
    root = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("BENCH_CACHE_DIR", str(root / "embedding-cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "xdg-cache"))
    monkeypatch.delenv("BENCH_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    yield
    # A --task-file run registers its task for the process: drop it, so that a later test's
    # task list (and its error messages) do not depend on the order tests ran in.
    if "bench.tasks.registry" in sys.modules:
        from tests.sts_files import unregister_task_files
        unregister_task_files()


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """Folder of a random-weight 2-layer BERT (hidden 32) with MiniLM's tokenizer; see
    ``tests.helpers.make_tiny_bert``. Use it where pretrained weights add nothing."""
    from tests.helpers import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))
