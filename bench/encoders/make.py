"""The Encoder for anything ``bench.evaluate`` accepts: a recipe name or path (the registry), or
a model object (``bench.encoders.objects.wrap``). ``bench.api`` and ``bench.mteb.as_model``
build on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.devices import check_device
from bench.encoders.base import Encoder
from bench.encoders.objects import wrap
from bench.encoders.registry import EncoderOptions, resolve
from bench.options import RunOptions
from bench.prompts import Prompts


def make_encoder(model: Any, *, tokenizer: Any = None, pooler: str | None = None,
                 name: str | None = None, device: str | None = None, precision: str = "fp32",
                 data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                 use_cache: bool = True, max_length: int | None = None) -> Encoder:
    """The Encoder for anything ``evaluate`` accepts (``bench.mteb.as_model`` builds on it)."""
    RunOptions(precision=precision, max_length=max_length)  # bad values: one line, nothing loaded
    if device is None and not isinstance(model, str | Path):
        device = _object_device(model)
    device = check_device(device or "cpu")
    if isinstance(model, str | Path):
        return resolve(str(model), EncoderOptions(
            device, precision, pooler, str(data_dir) if data_dir else None,
            str(cache_dir) if cache_dir else None, use_cache, max_length=max_length))
    return wrap(model, tokenizer=tokenizer, pooler=pooler, precision=precision, device=device,
                max_length=max_length, name=name)


def encoder_options(opts: RunOptions, device: str | None = None) -> EncoderOptions:
    """The encoder's share of the run options (its spec and cache key), on ``device`` (default
    the options' own, else cpu): one construction for run, analyze and perf."""
    return EncoderOptions(device or opts.device or "cpu", opts.precision, opts.pooler,
                          opts.data_dir, opts.cache_dir, opts.use_cache,
                          max_length=opts.max_length, dtype=opts.dtype,
                          prompts=Prompts.from_options(opts.prompt, opts.prompt_a,
                                                       opts.prompt_b, opts.prompt_name,
                                                       opts.instructions))


def _object_device(model: Any) -> str | None:
    target = model[0] if isinstance(model, tuple) else model
    if hasattr(target, "device") and not callable(target.device):
        return str(target.device).replace("cuda:0", "cuda") if "cuda" in str(target.device) \
            else str(target.device)
    params = getattr(target, "parameters", None)
    if callable(params):
        first = next(iter(params()), None)
        if first is not None:
            return str(first.device)
    return None
