"""Small deterministic encoders for tests: vectors derived from a hash of the sentence."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.encoders.base import Encoder


class HashEncoder(Encoder):
    """Pseudo-random but deterministic vectors; counts how many sentences it encoded."""

    def __init__(self, dim: int = 8, delay: float = 0.0, tag: str = "v1") -> None:
        self.dim, self.delay, self.tag = dim, delay, tag
        self.name = f"hash-{dim}"
        self.calls = 0
        self.encoded = 0

    def spec(self) -> dict[str, Any]:
        return {"type": "hash", "dim": self.dim, "tag": self.tag}

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.calls += 1
        self.encoded += len(sentences)
        if self.delay:
            time.sleep(self.delay)
        out = np.empty((len(sentences), self.dim), dtype=np.float32)
        for i, s in enumerate(sentences):
            seed = int.from_bytes(hashlib.sha1(s.encode()).digest()[:4], "little")
            out[i] = np.random.default_rng(seed).standard_normal(self.dim)
        return out


TINY_BERT_CONFIG = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=512)


def make_tiny_bert(folder: Path, seed: int = 0) -> Path:
    """A random-weight BERT (hidden 32, 2 layers, 2 heads) with MiniLM's WordPiece tokenizer.

    For tests whose claim holds for any weights (gradients, resume, export, poolers): it loads
    in a fraction of MiniLM's time and runs a step in milliseconds. Tokenization is the real
    uncased WordPiece, so sentences are split as they are for the packaged model.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from bench.encoders.packaged import packaged_path

    tokenizer = AutoTokenizer.from_pretrained(str(packaged_path("packaged:all-MiniLM-L6-v2")))
    config = BertConfig(vocab_size=len(tokenizer), **TINY_BERT_CONFIG)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_tiny_sentence_transformer(bert: Path, folder: Path) -> Path:
    """``bert`` + mean pooling saved as a sentence-transformers folder (modules.json)."""
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:
        from sentence_transformers.models import Pooling, Transformer

    word = Transformer(str(bert))
    pooling = Pooling(TINY_BERT_CONFIG["hidden_size"], pooling_mode="mean")
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(folder))
    return folder


def write_tiny_stsb(root: Path, pairs: int = 6) -> Path:
    """A small STS-B in SentEval's layout (generated here, not copied from the shared data);
    returns ``root``, usable as a data folder. Gold of pair i is (0.9 i) mod 5."""
    folder = root / "STS" / "STSBenchmark"
    folder.mkdir(parents=True)
    words = ["cat", "dog", "man", "woman", "car", "road", "music", "film", "child", "ball"]
    rng = np.random.default_rng(4)
    for split in ("train", "dev", "test"):
        lines = []
        for i in range(pairs):
            a, b = rng.choice(words, 2, replace=False)
            gold = (i * 0.9) % 5.0
            lines.append(f"g\tf\t2012\t{i}\t{gold:.2f}\ta {a} sees a {b}\tthe {b} sees {a} {i}")
        (folder / f"sts-{split}.csv").write_text("\n".join(lines) + "\n")
    return root
