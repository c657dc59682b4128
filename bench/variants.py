"""Embedding variants scored from the one encoding pass: Matryoshka dimensions and quantized
vectors (``--dims 768,512,256``, ``--quantize int8,binary``).

A variant is a function of the vectors alone, so the run encodes once and each variant is
one more report (``model @256d``, ``model int8``, ``model @256d binary``) that reports, compare
and the page read like any other; its model record states the variant's settings.

- Matryoshka (Kusupati et al., 2022): the first ``d`` coordinates, renormalised to unit length
  (as sentence-transformers' ``truncate_dim`` followed by normalisation).
- ``int8``: sentence-transformers' ``quantize_embeddings(precision="int8")``: per coordinate,
  256 buckets between the minimum and maximum of a calibration set, ``floor`` into a bucket,
  shifted to ``[-128, 127]``. The calibration set is stated and recorded: each task's own
  sentences (quantize_embeddings without ``calibration_embeddings``, applied per task), so a
  task's numbers do not depend on which other tasks ran with it.
- ``binary``: ``quantize_embeddings(precision="binary")`` keeps the sign bit (``x > 0``) of
  each coordinate; pairs are compared by Hamming distance. The vectors are stored as ``+1``/
  ``-1``, whose cosine is exactly ``1 - 2 * hamming / d``: an increasing affine function of the
  Hamming similarity, so Pearson and Spearman are those of Hamming similarity.

A truncation is applied before a quantization (truncate, renormalise, then quantize).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.embed import EmbeddingTable, text_item
from bench.encoders.base import Encoder
from bench.errors import BenchError
from bench.results import ModelRecord, ProtocolScores, RunReport, TaskResult
from bench.scoring import average

QUANTIZATIONS = ("int8", "binary")
INT8_CALIBRATION = "each task's own sentences"


@dataclass(frozen=True)
class Variant:
    """``dim``: keep the first ``dim`` coordinates (None: all); ``quantize``: int8 or binary."""

    dim: int | None = None
    quantize: str | None = None

    @property
    def label(self) -> str:
        """What follows the model's name in a table: ``@256d``, ``int8``, ``@256d binary``."""
        return " ".join(x for x in (f"@{self.dim}d" if self.dim else "", self.quantize or "") if x)

    @property
    def suffix(self) -> str:
        """What a variant's report file name adds: ``256d``, ``int8``, ``256d-binary``."""
        return "-".join(x for x in (f"{self.dim}d" if self.dim else "", self.quantize or "") if x)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label}
        if self.dim is not None:
            out.update(dim=self.dim, renormalised=True)
        if self.quantize == "int8":
            out.update(quantize="int8", calibration=INT8_CALIBRATION,
                       semantics="sentence_transformers.quantize_embeddings(precision='int8')")
        elif self.quantize == "binary":
            out.update(quantize="binary", similarity="hamming",
                       semantics="sentence_transformers.quantize_embeddings(precision='binary')"
                       "; cosine of +1/-1 vectors = 1 - 2 * hamming / d")
        return out

    def apply(self, vectors: np.ndarray, calibration: np.ndarray | None = None) -> np.ndarray:
        """The variant of ``vectors`` (rows); int8 ranges come from ``calibration`` (rows of
        ``vectors``' space before the variant), else from ``vectors`` themselves."""
        out = truncate(vectors, self.dim) if self.dim is not None else vectors
        if self.quantize == "int8":
            ref = out if calibration is None else (
                truncate(calibration, self.dim) if self.dim is not None else calibration)
            return quantize_int8(out, ref)
        if self.quantize == "binary":
            return binary_signs(out)
        return out


def truncate(vectors: np.ndarray, dim: int) -> np.ndarray:
    """The first ``dim`` coordinates, scaled to unit length (a zero row stays zero)."""
    cut = np.asarray(vectors, dtype=np.float32)[:, :dim]
    norms = np.linalg.norm(cut.astype(np.float64), axis=1, keepdims=True)
    return (cut / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def quantize_int8(vectors: np.ndarray, calibration: np.ndarray) -> np.ndarray:
    """sentence-transformers' int8 quantization of ``vectors`` with the ranges of
    ``calibration`` (its ``_get_quantization_ranges`` and ``quantize_embeddings``)."""
    calibration = np.asarray(calibration, dtype=np.float32)
    starts = calibration.min(axis=0)
    steps = (calibration.max(axis=0) - starts) / 255
    steps = np.where(steps == 0, 1, steps)
    buckets = np.clip(np.floor((np.asarray(vectors, dtype=np.float32) - starts) / steps), 0, 255)
    return (buckets - 128).astype(np.int8)


def binary_signs(vectors: np.ndarray) -> np.ndarray:
    """The sign bit ``x > 0`` of each coordinate as +1 / -1 (so cosine is affine in Hamming)."""
    return np.where(np.asarray(vectors) > 0, 1.0, -1.0).astype(np.float32)


# -- options ---------------------------------------------------------------------------------

def _items(value: Any, name: str) -> list[Any]:
    if isinstance(value, str):
        return [x.strip() for x in value.split(",") if x.strip()]
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, bytes | Mapping):
        return list(value)
    raise BenchError(f"{name} must be a comma-separated list, got {value!r}")


def parse_dims(value: Any, name: str = "dims") -> tuple[int, ...]:
    """``"768,512,256"`` or ``[768, 512, 256]``: distinct positive dimensions, in that order."""
    if value is None:
        return ()
    out: list[int] = []
    for item in _items(value, name):
        if isinstance(item, str) and item.isdigit():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise BenchError(f"{name}: {item!r} is not a positive number of dimensions")
        if item in out:
            raise BenchError(f"{name}: {item} is given twice")
        out.append(item)
    if not out:
        raise BenchError(f"{name}: no dimension given")
    return tuple(out)


def parse_quantize(value: Any, name: str = "quantize") -> tuple[str, ...]:
    """``"int8,binary"``: quantizations from ``QUANTIZATIONS``."""
    if value is None:
        return ()
    out = [str(x) for x in _items(value, name)]
    for q in out:
        if q not in QUANTIZATIONS:
            raise BenchError(f"{name}: unknown value {q!r}; valid: {', '.join(QUANTIZATIONS)}")
    if len(set(out)) != len(out) or not out:
        raise BenchError(f"{name}: give each of {', '.join(QUANTIZATIONS)} at most once")
    return tuple(out)


def plan_variants(encoder: Encoder, dims: Any, quantize: Any,
                  full_dim: int | None = None) -> list[Variant]:
    """The variants ``--dims``/``--quantize`` ask for; without ``full_dim`` (before encoding)
    the model's own dimension where it states one, so a bad dimension fails before the work."""
    dims, quantize = parse_dims(dims), parse_quantize(quantize)
    if not dims and not quantize:
        return []
    if full_dim is None:
        full_dim = encoder.model_meta().get("embedding_dim")
        if not isinstance(full_dim, int):
            return []  # checked again once the vectors are there
    return plan(dims, quantize, full_dim, encoder.name)


def plan(dims: Sequence[int], quantize: Sequence[str], full_dim: int,
         model: str = "model") -> list[Variant]:
    """Every (dimension, quantization) but the full-dimension float vectors (the run's own
    report). A dimension above the model's is an error; the model's own means no truncation."""
    for dim in dims:
        if dim > full_dim:
            raise BenchError(f"--dims: {dim} is more than the {full_dim} dimensions of model "
                             f"{model!r}")
    sizes: list[int | None] = [None] + [d for d in dims if d != full_dim]
    out = [Variant(d, q) for d in sizes for q in (None, *quantize)]
    return [v for v in out if v != Variant()]


# -- tables ------------------------------------------------------------------------------------

def task_rows(table: EmbeddingTable, sides: tuple[Sequence[str], Sequence[str]]) -> np.ndarray:
    """The rows of ``table`` a task looks up (side a through its prompt, side b through its)."""
    rows = {table.index[text_item(table.prompts[side], s)]
            for side, texts in enumerate(sides) for s in texts}
    return np.fromiter(sorted(rows), dtype=np.int64, count=len(rows))


def variant_view(table: EmbeddingTable, variant: Variant,
                 sides: tuple[Sequence[str], Sequence[str]]) -> EmbeddingTable:
    """One task's table under ``variant`` (int8: calibrated on that task's rows)."""
    vectors = np.asarray(table.vectors)
    calibration = vectors[task_rows(table, sides)] if variant.quantize == "int8" else None
    return replace(table, vectors=variant.apply(vectors, calibration))


# -- reports -----------------------------------------------------------------------------------

def variant_record(model: ModelRecord, variant: Variant) -> ModelRecord:
    """The model record of a variant: its label after the name, its settings in the spec and
    ``extra.variant``, and a fingerprint of its own (the source's plus the settings)."""
    settings = variant.to_dict()
    digest = hashlib.sha256(json.dumps({"source": model.fingerprint, "variant": settings},
                                       sort_keys=True).encode()).hexdigest()
    return replace(model, name=f"{model.name} {variant.label}",
                   requested=f"{model.requested} {variant.label}",
                   spec={**model.spec, "variant": settings},
                   fingerprint=digest[:len(model.fingerprint) or 16],
                   embedding_dim=variant.dim or model.embedding_dim,
                   similarity="hamming" if variant.quantize == "binary" else model.similarity,
                   extra={**model.extra, "variant": settings})


def variant_report(report: RunReport, variant: Variant,
                   scored: tuple[dict[str, TaskResult], list[ProtocolScores]]) -> RunReport:
    """The run's report with a variant's numbers (``scored``: its task results and scores)."""
    results, scores = scored
    transfer = {k: r.transfer.acc for k, r in results.items() if r.transfer is not None}
    return replace(report, model=variant_record(report.model, variant), tasks=results,
                   scores=scores, transfer_average=average(transfer),
                   run={**report.run, "variant": variant.to_dict()}, pairs_file=None,
                   variants=[])


def variant_path(main: Path, variant: RunReport | Variant) -> Path:
    """Where a variant's report goes: beside the run's, its suffix added (``x-256d.json``)."""
    if isinstance(variant, Variant):
        suffix = variant.suffix
    else:
        label = str(variant.run.get("variant", {}).get("label", "variant"))
        suffix = label.replace("@", "").replace(" ", "-")
    return main.with_name(f"{main.stem}-{suffix}{main.suffix}")


def possible_variants(dims: Any, quantize: Any) -> list[Variant]:
    """Every variant the options could give, whatever the model's width (for checking the
    report paths before any work)."""
    return plan(parse_dims(dims), parse_quantize(quantize), max(parse_dims(dims), default=0) + 1)
