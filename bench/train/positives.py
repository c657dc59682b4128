"""Positive pairs for unsupervised SimCSE: dropout (the paper's) and the alternatives it rejects.

``--positive`` spells one maker; each is a class behind :class:`PositiveMaker`:

- ``dropout``: x+ = x, the two views differ only by dropout (SimCSE, the default).
- ``crop:K``: a contiguous span of 100-K % of the words (Table 1 "crop k%").
- ``word-deletion:K``: K % of the words deleted at random (Table 1 "word deletion k%").
- ``delete-one-word``: one word deleted at random (Tables 1 and 2).
- ``synonym``: one word that WordNet knows replaced by one of its WordNet synonyms, both
  chosen at random (Table 1 "synonym replacement", which used nlpaug's WordNet augmenter).
- ``mlm:K``: K % of the word pieces masked and replaced by a masked LM's best other guess
  (Table 1 "MLM k%", with BERT-base's head in the paper).
- ``next-sentence`` / ``next-3-sentences``: x+ is the following line (one of the 3 following
  lines) of the same article (Table 2). Blank lines separate articles; a file without blank
  lines is one article, so a pair may span two articles where the file changes topic.

Words are whitespace-separated tokens and the view is re-joined with single spaces. Every
random choice draws from the generator the trainer passes for a step, itself a function of
(seed, step), so the positives are reproducible and a resumed run replays them exactly.
"""

from __future__ import annotations

import math
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError, DataError
from bench.train.data import _read

SPELLINGS = ("dropout", "crop:K", "word-deletion:K", "delete-one-word", "synonym",
             "mlm:K", "next-sentence", "next-3-sentences")
# Where Debian's wordnet-base package puts the WordNet 3.0 database (data.noun, ...).
WORDNET_DIRS = ("/usr/share/wordnet",)
WORDNET_ENV = "BENCH_WORDNET_DIR"


class PositiveError(BenchError):
    """A --positive spelling or a maker's precondition is wrong."""


@dataclass(frozen=True)
class Corpus:
    """Training lines in file order; ``article[i]`` numbers the blank-line-separated block."""

    path: Path
    sentences: tuple[str, ...]
    article: tuple[int, ...]


def read_corpus(path: str | Path) -> Corpus:
    """One sentence a line; a blank line ends an article (blank lines themselves are dropped)."""
    path = Path(path)

    sentences: list[str] = []
    article: list[int] = []
    block = 0
    for line in _read(path).splitlines():
        text = line.strip()
        if not text:
            block += 1
            continue
        sentences.append(text)
        article.append(block)
    if not sentences:
        raise DataError(f"{path}: empty training file (expected one sentence per line)")
    return Corpus(path, tuple(sentences), tuple(article))


def _words(sentence: str) -> list[str]:
    return sentence.split()


def _percent(k: float, n: int) -> int:
    """round(n * k / 100), halves up (Python's round() would send 2.5 to 2)."""
    return int(math.floor(n * k / 100 + 0.5))


class PositiveMaker(ABC):
    """Makes x+ for a batch of anchor lines. ``spec`` is the spelling, recorded in run.json."""

    spec: str
    #: x+ = x: the trainer's original path (two dropout views of the same text)
    same_text: bool = False

    def prepare(self, corpus: Corpus, device: str = "cpu") -> None:  # noqa: B027 (optional)
        """Check the corpus and load what the maker needs; fails before anything is written."""

    def anchors(self, corpus: Corpus) -> np.ndarray:
        """Lines that can be anchors (all of them, unless the maker needs a successor)."""
        return np.arange(len(corpus.sentences))

    @abstractmethod
    def make(self, corpus: Corpus, lines: np.ndarray, rng: np.random.Generator) -> list[str]:
        """x+ for each anchor line, in order."""

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec}


class Dropout(PositiveMaker):
    spec = "dropout"
    same_text = True

    def make(self, corpus: Corpus, lines: np.ndarray, rng: np.random.Generator) -> list[str]:
        return [corpus.sentences[i] for i in lines]


class WordMaker(PositiveMaker):
    """A maker that rewrites each anchor's words independently."""

    def make(self, corpus: Corpus, lines: np.ndarray, rng: np.random.Generator) -> list[str]:
        return [" ".join(self.rewrite(_words(corpus.sentences[i]), rng)) for i in lines]

    @abstractmethod
    def rewrite(self, words: list[str], rng: np.random.Generator) -> list[str]: ...


class Crop(WordMaker):
    """Keep a contiguous span of max(1, round(n (100-K) / 100)) of the n words."""

    def __init__(self, k: int) -> None:
        self.k, self.spec = k, f"crop:{k}"

    def rewrite(self, words: list[str], rng: np.random.Generator) -> list[str]:
        keep = max(1, _percent(100 - self.k, len(words)))
        start = int(rng.integers(0, len(words) - keep + 1))
        return words[start:start + keep]


class WordDeletion(WordMaker):
    """Delete round(n K / 100) of the n words (at most n - 1), chosen without replacement."""

    def __init__(self, k: int) -> None:
        self.k, self.spec = k, f"word-deletion:{k}"

    def rewrite(self, words: list[str], rng: np.random.Generator) -> list[str]:
        drop = min(len(words) - 1, _percent(self.k, len(words)))
        gone = set(rng.choice(len(words), size=drop, replace=False).tolist()) if drop else set()
        return [w for j, w in enumerate(words) if j not in gone]


class DeleteOneWord(WordMaker):
    """Delete one word chosen uniformly (a one-word sentence is kept as it is)."""

    spec = "delete-one-word"

    def rewrite(self, words: list[str], rng: np.random.Generator) -> list[str]:
        if len(words) < 2:
            return words
        j = int(rng.integers(0, len(words)))
        return words[:j] + words[j + 1:]


# -- synonyms ---------------------------------------------------------------------------------
def wordnet_dir() -> Path | None:
    """$BENCH_WORDNET_DIR, else Debian's wordnet-base location, when it holds data.noun."""
    candidates = [os.environ[WORDNET_ENV]] if os.environ.get(WORDNET_ENV) else list(WORDNET_DIRS)
    for folder in candidates:
        if (Path(folder) / "data.noun").is_file():
            return Path(folder)
    return None


def read_wordnet(folder: Path) -> dict[str, tuple[str, ...]]:
    """word -> its synonyms (other lemmas of any synset it is in), from WordNet's data.* files.

    A data line is ``offset lex_filenum ss_type w_cnt(hex) word lex_id ... | gloss``
    (wndb(5WN)); lines starting with two spaces are the licence header.
    """
    synonyms: dict[str, set[str]] = {}
    for pos in ("noun", "verb", "adj", "adv"):
        path = folder / f"data.{pos}"
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line or line.startswith("  "):
                continue
            fields = line.split(" ")
            count = int(fields[3], 16)
            lemmas = {re.sub(r"\(.*\)$", "", fields[4 + 2 * j]).lower()
                      for j in range(count)}
            # one-word lemmas of 3+ letters: WordNet's "a" (ampere), "s" (south) make no synonyms
            lemmas = {w for w in lemmas if w.isalpha() and len(w) >= 3}
            for w in lemmas:
                synonyms.setdefault(w, set()).update(lemmas - {w})
    return {w: tuple(sorted(s)) for w, s in synonyms.items() if s}


class Synonym(WordMaker):
    """Replace one random word that has WordNet synonyms by a random one of them.

    Words are matched lower-cased and without part-of-speech tagging (nlpaug tags first);
    only alphabetic words of 3+ letters are replaced or used as replacements.
    """

    spec = "synonym"

    def __init__(self) -> None:
        self.thesaurus: dict[str, tuple[str, ...]] | None = None
        self.source: str | None = None

    def prepare(self, corpus: Corpus, device: str = "cpu") -> None:
        if self.thesaurus is not None:
            return
        folder = wordnet_dir()
        if folder is None:
            raise PositiveError(
                f"--positive {self.spec}: no WordNet database found (looked for data.noun in "
                f"${WORDNET_ENV} or {', '.join(WORDNET_DIRS)}); install Debian's wordnet-base "
                f"package or point {WORDNET_ENV} at a WordNet dict folder")
        self.thesaurus, self.source = read_wordnet(folder), str(folder)

    def rewrite(self, words: list[str], rng: np.random.Generator) -> list[str]:
        assert self.thesaurus is not None, "prepare() first"
        known = [j for j, w in enumerate(words) if w.lower() in self.thesaurus]
        if not known:
            return words
        j = known[int(rng.integers(0, len(known)))]
        choices = self.thesaurus[words[j].lower()]
        return words[:j] + [choices[int(rng.integers(0, len(choices)))]] + words[j + 1:]

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "wordnet": self.source}


# -- masked-LM replacement -------------------------------------------------------------------
def load_masked_lm(name: str, role: str):
    """Tokenizer and a masked-LM model whose LM head is in the checkpoint (not fresh weights)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers import AutoModelForMaskedLM, AutoTokenizer  # heavy: transformers
    from transformers.utils import logging as hf_logging  # heavy: transformers

    from bench.encoders.transformer import (
        resolve_model_location,  # heavy: torch (through bench.encoders.transformer)
    )
    from bench.train.model import _load_error  # heavy: torch (through bench.train.model)

    hf_logging.set_verbosity_error()
    location = resolve_model_location(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=False)
        model, info = AutoModelForMaskedLM.from_pretrained(location, output_loading_info=True,
                                                           trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise _load_error(name, exc) from None
    prefix = model.base_model_prefix
    fresh = [k for k in info.get("missing_keys", []) if not k.startswith(prefix + ".")]
    if fresh or tokenizer.mask_token_id is None:
        raise PositiveError(f"{role} {name!r} has no masked-LM head in its checkpoint (e.g. "
                            f"{(fresh or ['mask token'])[0]} missing); name a masked LM with "
                            f"--positive-model")
    return tokenizer, model.eval()


class MlmReplace(PositiveMaker):
    """Mask max(1, round(n K / 100)) of the n word pieces; fill each with the LM's top guess
    other than the original piece, in one forward pass (Table 1 "MLM k%")."""

    def __init__(self, k: int, model: str | None = None, backbone: str | None = None) -> None:
        self.k, self.spec = k, f"mlm:{k}"
        self.model_name, self.backbone = model, backbone
        self.tokenizer: Any = None
        self.model: Any = None
        self.device = "cpu"

    def prepare(self, corpus: Corpus, device: str = "cpu") -> None:
        if self.model is not None:
            return
        name = self.model_name or self.backbone
        if name is None:
            raise PositiveError(f"--positive {self.spec}: no masked LM (name one with "
                                f"--positive-model)")
        role = "--positive-model" if self.model_name else "backbone (no --positive-model given)"
        self.tokenizer, self.model = load_masked_lm(name, role)
        self.device = device
        self.model.to(device)

    def make(self, corpus: Corpus, lines: np.ndarray, rng: np.random.Generator) -> list[str]:
        import torch  # heavy: torch

        assert self.model is not None, "prepare() first"
        texts = [corpus.sentences[i] for i in lines]
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=128,
                               return_tensors="pt", return_special_tokens_mask=True)
        special = batch.pop("special_tokens_mask").bool() | ~batch["attention_mask"].bool()
        ids = batch["input_ids"].clone()
        chosen = torch.zeros_like(ids, dtype=torch.bool)
        for row in range(ids.size(0)):
            slots = (~special[row]).nonzero().flatten().tolist()
            if slots:
                n = max(1, _percent(self.k, len(slots)))
                picks = rng.choice(slots, size=n, replace=False).tolist()
                chosen[row, picks] = True
        masked = ids.masked_fill(chosen, self.tokenizer.mask_token_id)
        with torch.no_grad():
            inputs = {k: v.to(self.device) for k, v in batch.items()}
            inputs["input_ids"] = masked.to(self.device)
            logits = self.model(**inputs).logits.float().cpu()
        logits.scatter_(-1, ids.unsqueeze(-1), -math.inf)  # a replacement, not the original
        for token_id in self.tokenizer.all_special_ids:
            logits[..., token_id] = -math.inf
        guesses = logits.argmax(-1)
        out = torch.where(chosen, guesses, ids)
        return [self.tokenizer.decode(row[~special[r]], skip_special_tokens=True).strip()
                for r, row in enumerate(out)]

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "masked_lm": self.model_name or self.backbone}


# -- document order --------------------------------------------------------------------------
class NextSentence(PositiveMaker):
    """x+ = one of the ``window`` lines after x in the same article, uniformly."""

    def __init__(self, window: int = 1) -> None:
        self.window = window
        self.spec = "next-sentence" if window == 1 else f"next-{window}-sentences"

    def _successors(self, corpus: Corpus, i: int) -> int:
        art, n = corpus.article, len(corpus.sentences)
        return sum(1 for j in range(i + 1, min(n, i + 1 + self.window)) if art[j] == art[i])

    def anchors(self, corpus: Corpus) -> np.ndarray:
        # a line's successors in its article are a prefix of the window, so one count suffices
        return np.array([i for i in range(len(corpus.sentences))
                         if self._successors(corpus, i) > 0], dtype=np.int64)

    def prepare(self, corpus: Corpus, device: str = "cpu") -> None:
        if len(self.anchors(corpus)) == 0:
            lines = len(corpus.sentences)
            raise PositiveError(
                f"{corpus.path}: --positive {self.spec} needs two consecutive lines of one "
                f"article; the file has {lines} line{'s' if lines != 1 else ''}"
                + (" and no two in the same article" if lines > 1 else ""))

    def make(self, corpus: Corpus, lines: np.ndarray, rng: np.random.Generator) -> list[str]:
        out = []
        for i in lines:
            i = int(i)
            ahead = self._successors(corpus, i)
            out.append(corpus.sentences[i + 1 + int(rng.integers(0, ahead))])
        return out


_PERCENT = {"crop": Crop, "word-deletion": WordDeletion, "mlm": MlmReplace}
_PLAIN = {"dropout": Dropout, "delete-one-word": DeleteOneWord, "synonym": Synonym,
          "next-sentence": lambda: NextSentence(1), "next-3-sentences": lambda: NextSentence(3)}


def check_spec(spec: str) -> tuple[str, int | None]:
    """(name, K) of a spelling; one line naming the problem otherwise. Loads nothing."""
    text = str(spec).strip()
    name, sep, arg = text.partition(":")
    valid = ", ".join(SPELLINGS)
    if name in _PLAIN:
        if sep:
            raise PositiveError(f"--positive {text!r}: {name} takes no ':K'; valid: {valid}")
        return name, None
    if name not in _PERCENT:
        raise PositiveError(f"unknown --positive {text!r}; valid: {valid}")
    if not sep:
        raise PositiveError(f"--positive {text!r}: give the percentage, e.g. {name}:20")
    if not re.fullmatch(r"\d+", arg):
        raise PositiveError(f"--positive {text!r}: K must be a whole percentage 1..99")
    k = int(arg)
    if not 1 <= k <= 99:
        raise PositiveError(f"--positive {text!r}: K must be in 1..99 (a percentage of the "
                            f"words; {k} would {'change nothing' if k == 0 else 'leave nothing'})")
    return name, k


def make_positive(spec: str, backbone: str | None = None,
                  model: str | None = None) -> PositiveMaker:
    """The maker a spelling names (``model``/``backbone``: the masked LM for ``mlm:K``)."""
    name, k = check_spec(spec)
    if name in _PLAIN:
        return _PLAIN[name]()
    if name == "mlm":
        return MlmReplace(k, model, backbone)
    return _PERCENT[name](k)
