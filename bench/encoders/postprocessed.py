"""A base encoder followed by a post-processor (whitening, flow) fitted on NLI or target data.

The base encoder's vectors are what gets encoded and cached (``source_encoder``), so every
post-processed variant of one base shares one embedding cache. The post-processor is fitted
once per (base fingerprint, post-processor spec, fit-set digest) and its state saved on disk
(``<embedding cache root>/_postprocessors/<key>.npz``, written atomically).

Fit sets, as the originals (BERT-flow fits on NLI sentences; BERT-whitening's ``eng/utils.py``
stacks both sides of every pair of the target task):

- ``nli``: every sentence of an NLI CSV (``sent0,sent1[,hard_neg]``), all columns, repeats
  kept. Path: the recipe's ``nli`` key, else ``$BENCH_NLI_FILE``, else
  ``../shared/data/train/nli_sample.csv`` beside the source checkout (a 5.9k-triplet sample,
  not the MNLI+SNLI the papers used).
- ``target``: per task, every sentence of every split or subset of that task, both sides,
  repeats kept (BERT-whitening stacks both sides of every pair).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.atomic import atomic_open
from bench.cache import STATE_FOLDER, EmbeddingCache, default_cache_root
from bench.embed import EmbeddingTable, embed, text_item
from bench.encoders.base import Encoder
from bench.encoders.postprocess import PostProcessor, make_postprocessor
from bench.encoders.registry import build, resolve
from bench.errors import BenchError, DataError, ModelError
from bench.resources import repo_root

FIT_SETS = ("nli", "target")
NLI_ENV = "BENCH_NLI_FILE"


def default_nli_path() -> Path:
    """``$BENCH_NLI_FILE``, else ``../shared/data/train/nli_sample.csv`` next to the checkout."""
    env = os.environ.get(NLI_ENV)
    if env:
        return Path(env).expanduser()
    root = repo_root() or Path.cwd()
    return root.parent / "shared" / "data" / "train" / "nli_sample.csv"


def read_nli_sentences(path: Path) -> list[str]:
    """All sentences of an NLI CSV with header ``sent0,sent1[,hard_neg]``, row by row."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"NLI fit file {path} not found; set {NLI_ENV} or the recipe's 'nli' key "
                        f"to a CSV with columns sent0,sent1[,hard_neg]")
    text = path.read_text(encoding="utf-8")
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None or [h.strip() for h in header[:2]] != ["sent0", "sent1"] or len(header) > 3:
        raise DataError(f"{path}:1: expected header sent0,sent1[,hard_neg], got {header!r}")
    out: list[str] = []
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(f"{path}:{line}: expected {len(header)} columns, got {len(row)}")
        out.extend(" ".join(s.split()) for s in row)
    if len(out) < 2:
        raise DataError(f"{path}: no sentences to fit on")
    return out


def digest_sentences(sentences: Sequence[str]) -> str:
    h = hashlib.sha256()
    for s in sentences:
        h.update(s.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:24]


class PostProcessedEncoder(Encoder):
    """``base`` vectors, then ``postprocessor`` fitted on ``fit`` ("nli" or "target")."""

    def __init__(self, base: Encoder, postprocessor: str | dict[str, Any] | PostProcessor,
                 fit: str = "nli", *, nli_path: str | Path | None = None,
                 cache_root: Path | None = None, use_cache: bool = True,
                 device: str = "cpu", name: str | None = None) -> None:
        if fit not in FIT_SETS:
            raise ModelError(f"model {name or base.name!r}: unknown fit set {fit!r}; "
                             f"valid: {', '.join(FIT_SETS)}")
        self.base = base
        self._template = (postprocessor if isinstance(postprocessor, PostProcessor)
                          else make_postprocessor(postprocessor, device=device))
        self.fit = fit
        self.nli_path = Path(nli_path).expanduser() if nli_path else default_nli_path()
        self._cache_root = Path(cache_root) if cache_root else None
        self.use_cache = use_cache  # False: neither read nor write vectors or fitted state
        self.device = device
        self.name = name or f"{base.name}+{self._template.kind}-{fit}"
        self._fitted: dict[str, PostProcessor] = {}
        self._nli_sentences: list[str] | None = None
        self.fit_log: list[dict[str, Any]] = []

    # --- identity -------------------------------------------------------------------------
    @property
    def cache_root(self) -> Path:
        return self._cache_root or default_cache_root()

    def nli_sentences(self) -> list[str]:
        if self._nli_sentences is None:
            self._nli_sentences = read_nli_sentences(self.nli_path)
        return self._nli_sentences

    def spec(self) -> dict[str, Any]:
        fit_data = (digest_sentences(self.nli_sentences()) if self.fit == "nli"
                    else "each task's own sentences")
        return {"type": "postprocessed", "base": self.base.full_spec(),
                "base_fingerprint": self.base.fingerprint,
                "postprocessor": self._template.spec(), "fit": self.fit, "fit_data": fit_data}

    def model_meta(self) -> dict[str, Any]:
        meta = self.base.model_meta()
        meta.pop("embedding_dim", None)  # the post-processor may change it (top-k whitening)
        fit = (f"NLI sentences ({self.nli_path.name}), unlabelled" if self.fit == "nli"
               else "each evaluated task's own sentences, unlabelled (all splits)")
        meta["postprocessor_fit_data"] = fit
        return meta

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["postprocessor"] = repr(self._template)
        if self.fit == "nli":
            out["fit_file"] = self.nli_path.name
        out["fits"] = self.fit_log
        return out

    # --- hooks ----------------------------------------------------------------------------
    def source_encoder(self) -> Encoder:
        self._check_base_available()
        return self.base

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Direct use outside a run: needs the NLI fit (target needs a task, see task_view)."""
        if self.fit != "nli":
            raise ModelError(f"model {self.name!r} is fitted per task (target); use it through "
                             f"bench run, which passes each task's sentences")
        return self._fitted_on_nli(batch_size).transform(self.base.encode(sentences, batch_size))

    def task_view(self, task: str, sentences: Sequence[str], table: Any) -> EmbeddingTable:
        if table.prompts[0] != table.prompts[1]:
            raise ModelError(f"model {self.name!r}: a post-processor is fitted on one set of "
                             f"vectors; give both sides of {task} the same prompt")
        if self.fit == "nli":
            pp = self._fitted_on_nli()
        else:
            pp = self._fitted_on(f"target:{task}", digest_sentences(sentences),
                                 lambda: table.lookup(sentences))
        unique = list(dict.fromkeys(sentences))
        vectors = pp.transform(table.lookup(unique))
        return EmbeddingTable(vectors, {s: i for i, s in enumerate(unique)}, dict(table.stats))

    # --- fitting --------------------------------------------------------------------------
    def _fitted_on_nli(self, batch_size: int = 64) -> PostProcessor:
        def vectors() -> np.ndarray:
            sentences = self.nli_sentences()
            cache = (EmbeddingCache(self.cache_root, self.base.fingerprint, self.base.describe())
                     if self.use_cache else None)
            prompt = self.base.prompt_pair("sts")[0]  # the fit set is STS-like text
            table = embed(self.base, [text_item(prompt, s) for s in sentences], cache=cache,
                          batch_size=batch_size,
                          description=f"encoding NLI fit set ({self.base.name})")
            return table.with_prompts(prompt, prompt).lookup(sentences)

        return self._fitted_on("nli", digest_sentences(self.nli_sentences()), vectors)

    def state_key(self, fit_digest: str) -> str:
        payload = json.dumps({"base": self.base.fingerprint, "pp": self._template.spec(),
                              "fit": fit_digest}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:24]

    def state_path(self, fit_digest: str) -> Path:
        return self.cache_root / STATE_FOLDER / f"{self.state_key(fit_digest)}.npz"

    def _fitted_on(self, label: str, fit_digest: str, get_vectors) -> PostProcessor:
        key = self.state_key(fit_digest)
        if key in self._fitted:
            return self._fitted[key]
        pp = self._template.clone()  # keeps run-time settings (progress, threads, device)
        path = self.state_path(fit_digest)
        t0 = time.perf_counter()
        entry: dict[str, Any] = {"fit": label, "state": path.name if self.use_cache else None}
        state = _load_state(path) if self.use_cache else None
        if state is not None:
            pp.set_state(state)
            entry["reused"] = True
            _mark_used(path)
        else:
            X = get_vectors()
            t_fit = time.perf_counter()
            pp.fit(X)
            entry.update(reused=False, n=int(len(X)),
                         fit_s=round(time.perf_counter() - t_fit, 4))
            if self.use_cache:
                meta = {"base_fingerprint": self.base.fingerprint, "postprocessor": pp.spec(),
                        "fit": label, "fit_digest": fit_digest, "n": int(len(X))}
                with atomic_open(path, "wb") as fh:
                    np.savez(fh, __meta__=np.array(json.dumps(meta, sort_keys=True)),
                             **pp.get_state())
        entry["seconds"] = round(time.perf_counter() - t0, 4)  # vectors + fit, or load
        self.fit_log.append(entry)
        self._fitted[key] = pp
        return pp

    def _check_base_available(self) -> None:
        """Fail early, naming the hub id, when the base model is neither local nor loadable."""
        from bench.encoders.transformer import (
            local_snapshot,  # heavy: torch (through bench.encoders.transformer)
        )

        location = getattr(self.base, "location", None)
        loader = next((a for a in ("_loaded", "_model") if hasattr(type(self.base), a)), None)
        if location is None or loader is None or local_snapshot(location) is not None:
            return
        try:
            getattr(self.base, loader)
        except ModelError:
            model_id = getattr(self.base, "model_id", location)
            raise ModelError(
                f"model {self.name!r} needs {model_id!r}, which is not available here: on a "
                f"machine with the hub run `huggingface-cli download {model_id}` and copy the "
                f"Hugging Face cache (~/.cache/huggingface, or point HF_HOME at it), or copy the "
                f"recipe and set its base model to a local folder") from None


def _mark_used(path: Path) -> None:
    """Refresh a reused state's mtime: what ``bench cache prune --unused-days`` reads."""
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only cache


def _load_state(path: Path) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:  # a cache merged from elsewhere
            return {k: data[k] for k in data.files if k != "__meta__"}
    except (OSError, ValueError, KeyError):
        return None  # unreadable: refit and overwrite


def factory(cfg: dict[str, Any], options: Any, name: str) -> PostProcessedEncoder:
    """``[encoder] type = "postprocessed"``: ``base`` (a recipe name or an encoder table),
    ``postprocessor`` ("whitening", "flow" or a table with ``kind``), ``fit`` ("nli",
    "target"), optional ``nli`` (CSV path)."""
    base_cfg = cfg.get("base")
    if isinstance(base_cfg, str):
        base = resolve(base_cfg, options)
    elif isinstance(base_cfg, dict):
        base_cfg = dict(base_cfg)
        if options.pooler and "pooler" in base_cfg:
            base_cfg["pooler"] = options.pooler
        base = build(base_cfg, options, f"{name} (base)")
    else:
        raise ModelError(f"model {name!r}: a postprocessed encoder needs 'base' = a recipe name "
                         f"or an encoder table")
    if "postprocessor" not in cfg:
        raise ModelError(f"model {name!r}: a postprocessed encoder needs 'postprocessor' "
                         f"(whitening or flow)")
    try:
        pp = make_postprocessor(cfg["postprocessor"], device=options.device)
    except BenchError as exc:
        raise ModelError(f"model {name!r}: {exc}") from None
    return PostProcessedEncoder(base, pp, cfg.get("fit", "nli"), nli_path=cfg.get("nli"),
                                cache_root=getattr(options, "cache_dir", None),
                                use_cache=getattr(options, "use_cache", True),
                                device=options.device, name=name)

