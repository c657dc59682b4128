"""Optional ONNX Runtime backend for bench's transformer encoder (``--backend onnx``).

The model *and its pooler* are exported once with ``torch.onnx.export`` (the dynamo exporter;
the TorchScript one gave wrong vectors for transformers 5's BERT) and run by ONNX Runtime on
the CPU; tokenization, batching and caching are bench's as for PyTorch. ``onnx`` is fp32 and
must give PyTorch's STS numbers within 0.01 points (``bench perf sts``); ``onnx-int8`` is the
same graph dynamically quantized to int8 weights (``onnxruntime.quantization``): another
model, named as one (``<name> [onnx-int8]``) and keyed apart in the cache.

The backend is part of the encoder's spec, so it is in the report and in the cache key. The
export is kept under ``~/.cache/bench/onnx/<fingerprint>/`` with the sha256 of the file it
wrote, checked before a session loads it (an export is made here, never taken from others).

Needs the ``onnx`` extra (``pip install 'bench[onnx]'``: onnxruntime, onnx, onnxscript).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.encoders.base import Encoder
from bench.encoders.limits import precut
from bench.encoders.pooling import needs_hidden_states, pool
from bench.encoders.transformer import TransformerEncoder, content_key, describe_weights
from bench.errors import ModelError
from bench.fingerprint import file_digest, fingerprint
from bench.paths import user_cache_root
from bench.textsafe import printable

BACKENDS = ("torch", "onnx", "onnx-int8")
ONNX_BACKENDS = BACKENDS[1:]
OPSET = 18


def onnx_root() -> Path:
    return user_cache_root() / "onnx"


class _Pooled(torch.nn.Module):
    """The model and its pooler as one graph: token ids in, sentence vectors out."""

    def __init__(self, model: Any, pooler: str, first_layer: str) -> None:
        super().__init__()
        self.model, self.pooler, self.first_layer = model, pooler, first_layer

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs,
                         output_hidden_states=needs_hidden_states(self.pooler),
                         return_dict=True)
        return pool(out, attention_mask, self.pooler, self.first_layer).float()


@contextlib.contextmanager
def _quiet_logs():
    """The exporter's and the quantizer's notices (root logger, torch's) stay out of a run's
    output; errors still raise."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def _requirements() -> None:
    missing = [name for name in ("onnxruntime", "onnx", "onnxscript")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise ModelError(f"--backend onnx needs ONNX Runtime and torch's ONNX exporter "
                         f"({', '.join(missing)} not installed): pip install 'bench[onnx]'")


def as_backend(encoder: Encoder, backend: str) -> Encoder:
    """``encoder`` on ``backend`` (``torch``: itself), or one line saying why it cannot be."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if backend == "torch":
        return encoder
    if not isinstance(encoder, TransformerEncoder):
        raise ModelError(f"model {encoder.name!r}: --backend {backend} runs bench's transformer "
                         f"encoder (a recipe, a path or a hub id with a pooler); this is a "
                         f"{type(encoder).__name__}")
    if encoder.device != "cpu":
        raise ModelError(f"--backend {backend} runs on the CPU (ONNX Runtime's CPU provider); "
                         f"got --device {encoder.device}")
    if encoder.precision != "fp32" or encoder.dtype != "fp32":
        raise ModelError(f"--backend {backend} is fp32 (int8 weights for onnx-int8); got "
                         f"--precision {encoder.precision} --dtype {encoder.dtype}")
    _requirements()
    return OnnxEncoder(encoder, backend)


class OnnxEncoder(Encoder):
    """A ``TransformerEncoder`` whose forward pass and pooler run in ONNX Runtime."""

    def __init__(self, base: TransformerEncoder, backend: str) -> None:
        self.base, self.backend = base, backend
        self.name = f"{base.name} [{backend}]"
        self.prompts = base.prompts
        self.provenance = base.provenance
        self.dtype, self.max_length = base.dtype, base.max_length  # what the report records
        self.device, self.precision = base.device, base.precision

    def spec(self) -> dict[str, Any]:
        return {**self.base.spec(), "backend": self.backend}

    def weights_digest(self) -> str:
        return self.base.weights_digest()

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(content_key(self.full_spec(), self.base.model_id, self.base.location),
                           self.weights_digest())

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **describe_weights(self.base.weights_folder)}

    def model_meta(self) -> dict[str, Any]:
        return self.base.model_meta()

    def length_keys(self, sentences: Sequence[str]) -> list[int]:
        return self.base.length_keys(sentences)  # the tokens are kept for encode

    @cached_property
    def _names(self) -> tuple[str, ...]:
        """The tokenizer's outputs the model takes (no token type ids for RoBERTa, MPNet)."""
        sample = self.base._inputs(["names"])
        return tuple(k for k in ("input_ids", "attention_mask", "token_type_ids")
                     if k in sample)

    @cached_property
    def path(self) -> Path:
        """The exported graph, made now when it is not there yet (or not as it was made)."""
        folder = onnx_root() / self.fingerprint
        target = folder / ("model-int8.onnx" if self.backend == "onnx-int8" else "model.onnx")
        meta = folder / "export.json"
        if folder.is_symlink():  # never follow a planted link out of the folder
            folder.unlink()
        elif folder.is_dir():
            try:
                recorded = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                recorded = None
            if (isinstance(recorded, dict) and recorded.get("fingerprint") == self.fingerprint
                    and target.is_file() and not target.is_symlink()
                    and recorded.get("sha256") == file_digest(target)):
                return target
            shutil.rmtree(folder, ignore_errors=True)  # half made, or changed since
        self._export(folder, target.name)
        return target

    def _export(self, folder: Path, name: str) -> None:
        model = self.base._loaded[1]
        sample = self.base._inputs(["an example sentence", "and a second, longer one here"])
        args = tuple(sample[k] for k in self._names)
        longest = self.base.token_limit or model.config.max_position_embeddings
        dims = {"batch": torch.export.Dim("batch"),
                "tokens": torch.export.Dim("tokens", max=longest)}
        module = _Pooled(model, self.base.pooler, self.base.first_layer).eval()
        tmp = folder.parent / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad(), \
                    contextlib.redirect_stdout(io.StringIO()), _quiet_logs():
                warnings.simplefilter("ignore")
                program = torch.onnx.export(
                    module, args, input_names=list(self._names), output_names=["vectors"],
                    dynamic_shapes={k: {0: dims["batch"], 1: dims["tokens"]}
                                    for k in self._names},
                    opset_version=OPSET, dynamo=True, verbose=False)
                program.save(str(tmp / "model.onnx"), external_data=False)
            if name == "model-int8.onnx":
                from onnxruntime.quantization import (  # heavy: onnxruntime
                    QuantType,
                    quantize_dynamic,
                )

                with _quiet_logs():
                    quantize_dynamic(str(tmp / "model.onnx"), str(tmp / name),
                                     weight_type=QuantType.QInt8)
            (tmp / "export.json").write_text(json.dumps(
                {"fingerprint": self.fingerprint, "backend": self.backend, "opset": OPSET,
                 "torch": torch.__version__, "sha256": file_digest(tmp / name)}, indent=2))
            os.replace(tmp, folder)
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelError(f"model {self.base.model_id!r}: the ONNX export failed "
                             f"({printable(first)[:200]}); use --backend torch") from None

    @cached_property
    def session(self) -> Any:
        import onnxruntime as ort  # heavy: onnxruntime

        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: no per-node notices in a run's log
        return ort.InferenceSession(str(self.path), options,
                                    providers=["CPUExecutionProvider"])

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        out = []
        for start in range(0, len(sentences), batch_size):
            batch = precut(list(sentences[start:start + batch_size]), self.base.token_limit)
            inputs = self.base._inputs(batch)
            feed = {k: inputs[k].numpy().astype(np.int64, copy=False) for k in self._names}
            out.append(np.asarray(self.session.run(["vectors"], feed)[0], dtype=np.float32))
        if not out:
            return np.zeros((0, self.base._loaded[1].config.hidden_size), dtype=np.float32)
        return np.concatenate(out)
