"""Checks every Encoder must pass, in the manner of scikit-learn's ``check_estimator``.

``check_encoder(MyEncoder(...))`` checks an instance: the output is ``(n, d)`` (``n = 0``
included) of the declared dtype and finite; encoding is deterministic and independent of
the batch size (within 1e-5); ``spec()`` is plain JSON and the fingerprint is stable.

Given a factory (``build(**overrides) -> Encoder``) and the parameters classified, it also
checks what makes cached vectors and reports trustworthy: every constructor parameter either
changes the vectors, and then the fingerprint (``varies``: parameter -> another value), or
is on an allow-list of parameters that change neither (``neutral``; ``SKIP`` where no other
value can be tried on this machine, such as ``device="cuda"``); and every ``spec()`` field is
moved by some parameter::

    from bench.testing import check_encoder
    check_encoder(lambda **kw: MyEncoder(**{"path": "a.bin", **kw}),
                  varies={"path": "b.bin", "pooling": "max"}, neutral={"name": "x"})

bench runs these checks over every registered encoder type (``tests/test_conformance.py``).
A failed check raises ``AssertionError`` naming the encoder and what failed.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.embed import embed
from bench.encoders.base import Encoder

SENTENCES = ["a man is playing a guitar .", "A Woman Slices An Onion", "zzqxv qqzv", "the",
             "two dogs run across a wide green field while the children watch them play",
             "stocks fell sharply", "a cat sits on the mat", "the film was long"]
SKIP = object()  # a neutral parameter that cannot be varied on this machine (device="cuda")


def init_params(cls: type) -> list[str]:
    """Constructor parameters of ``cls`` (what ``spec`` must account for)."""
    sig = inspect.signature(cls.__init__)
    return [n for n, p in sig.parameters.items()
            if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


@dataclass
class EncoderCase:
    """How to build one encoder kind and how to vary each parameter.

    ``build(**overrides)`` returns an instance. ``params``: the parameters to account for
    (default: the built class's constructor parameters; none for a bare instance).
    ``identity_only``: varied parameters that by design change the fingerprint but not
    ``encode`` (a prompt, a model revision); ``fixed_spec``: spec fields no parameter moves.
    """

    build: Callable[..., Encoder]
    varies: dict[str, Any] = field(default_factory=dict)
    neutral: dict[str, Any] = field(default_factory=dict)
    params: list[str] | None = None
    dtype: Any = np.float32
    identity_only: set[str] = field(default_factory=set)
    fixed_spec: set[str] = field(default_factory=set)
    id: str = ""
    sentences: Sequence[str] = tuple(SENTENCES)
    instance_only: bool = False  # a bare instance: nothing to vary, the parameter checks pass

    def __post_init__(self) -> None:
        if self.params is None or not self.id:
            kind = type(self.build())
            self.params = init_params(kind) if self.params is None else self.params
            self.id = self.id or kind.__name__


def _require(condition: bool, message: str) -> None:
    if not condition:  # not `assert`: the checks must hold under python -O too
        raise AssertionError(message)


def vectors(encoder: Encoder, sentences: Sequence[str], batch_size: int = 3) -> np.ndarray:
    """What a run computes for ``sentences``: the source encoder's vectors through the
    encoder's task view (identity, or a post-processor fitted on the NLI set or the task)."""
    table = embed(encoder.source_encoder(), list(sentences), batch_size=batch_size,
                  show_progress=False)
    return encoder.task_view("conformance", list(sentences), table).lookup(list(sentences))


def _same(a: np.ndarray, b: np.ndarray, tol: float = 1e-5) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=tol, atol=tol))


def check_shape_and_dtype(case: EncoderCase) -> None:
    encoder, sentences = case.build(), list(case.sentences)
    out = encoder.encode(sentences, batch_size=4)
    _require(out.ndim == 2 and out.shape[0] == len(sentences) and out.shape[1] > 0,
             f"{case.id}: encode gave shape {out.shape} for {len(sentences)} sentences")
    _require(out.dtype == case.dtype, f"{case.id}: dtype {out.dtype}, expected {case.dtype}")
    _require(bool(np.isfinite(out).all()), f"{case.id}: non-finite values")
    empty = encoder.encode([], batch_size=4)
    _require(empty.shape == (0, out.shape[1]) and empty.dtype == case.dtype,
             f"{case.id}: no sentences gave {empty.shape} {empty.dtype}, expected "
             f"(0, {out.shape[1]}) {case.dtype}")


def check_deterministic_and_independent_of_batch_size(case: EncoderCase) -> None:
    encoder, sentences = case.build(), list(case.sentences)
    first = encoder.encode(sentences, batch_size=4)
    np.testing.assert_array_equal(encoder.encode(sentences, batch_size=4), first,
                                  err_msg=f"{case.id}: the same call twice")
    for batch_size in (1, 3, len(sentences)):
        np.testing.assert_allclose(encoder.encode(sentences, batch_size=batch_size), first,
                                   rtol=1e-5, atol=1e-5,
                                   err_msg=f"{case.id}: batch size {batch_size}")
    # A fresh instance (nothing memoised) gives the same vectors and fingerprint.
    again = case.build()
    np.testing.assert_allclose(again.encode(sentences[::-1], batch_size=2)[::-1], first,
                               rtol=1e-5, atol=1e-5, err_msg=f"{case.id}: a fresh instance")
    _require(again.fingerprint == encoder.fingerprint,
             f"{case.id}: two instances built alike differ in fingerprint")


def check_spec_is_json_and_fingerprint_is_stable(case: EncoderCase) -> None:
    """spec() is plain JSON (no Path or numpy value silently turned into a string)."""
    encoder = case.build()
    spec = encoder.spec()
    _require(json.loads(json.dumps(spec)) == spec, f"{case.id}: spec() is not plain JSON")
    _require(encoder.fingerprint == case.build().fingerprint
             == encoder.describe()["fingerprint"], f"{case.id}: fingerprint is not stable")


def check_every_constructor_parameter_is_accounted_for(case: EncoderCase) -> None:
    """Each parameter either changes results (and is varied) or is allow-listed."""
    unclassified = set(case.params or ()) - set(case.varies) - set(case.neutral)
    _require(not unclassified, f"{case.id}: parameters neither in varies nor in neutral: "
                               f"{', '.join(sorted(unclassified))}")
    both = set(case.varies) & set(case.neutral)
    _require(not both, f"{case.id}: both varies and neutral: {', '.join(sorted(both))}")


def check_fingerprint_changes_with_every_parameter_that_changes_vectors(
        case: EncoderCase) -> None:
    base = case.build()
    reference = vectors(base, case.sentences)
    for param, value in case.varies.items():
        variant = case.build(**{param: value})
        _require(variant.full_spec() != base.full_spec(), f"{case.id}: {param} is not in spec()")
        _require(variant.fingerprint != base.fingerprint,
                 f"{case.id}: {param} leaves the fingerprint alone")
        if param in case.identity_only:
            continue
        _require(not _same(vectors(variant, case.sentences), reference, 1e-6),
                 f"{case.id}: {param} changes the fingerprint but not the vectors")


def check_allow_listed_parameters_change_neither_vectors_nor_fingerprint(
        case: EncoderCase) -> None:
    base = case.build()
    reference = vectors(base, case.sentences)
    for param, value in case.neutral.items():
        if value is SKIP:
            continue
        variant = case.build(**{param: value})
        _require(variant.fingerprint == base.fingerprint,
                 f"{case.id}: allow-listed {param} changes the fingerprint")
        _require(_same(vectors(variant, case.sentences), reference),
                 f"{case.id}: allow-listed {param} changes the vectors")


def check_every_spec_field_is_moved_by_some_parameter(case: EncoderCase) -> None:
    """No spec field is dead weight: each one differs in some variant."""
    if case.instance_only:
        return
    base = case.build().spec()
    moved: set[str] = set()
    for param, value in case.varies.items():
        spec = case.build(**{param: value}).spec()
        moved |= {k for k in set(base) | set(spec) if base.get(k) != spec.get(k)}
    dead = set(base) - {"type"} - case.fixed_spec - moved
    _require(not dead, f"{case.id}: spec fields no parameter varies: {', '.join(sorted(dead))}")


CHECKS: tuple[Callable[[EncoderCase], None], ...] = (
    check_shape_and_dtype,
    check_deterministic_and_independent_of_batch_size,
    check_spec_is_json_and_fingerprint_is_stable,
    check_every_constructor_parameter_is_accounted_for,
    check_fingerprint_changes_with_every_parameter_that_changes_vectors,
    check_allow_listed_parameters_change_neither_vectors_nor_fingerprint,
    check_every_spec_field_is_moved_by_some_parameter,
)


def as_case(encoder_or_factory: Encoder | Callable[..., Encoder] | EncoderCase,
            **case_fields: Any) -> EncoderCase:
    """An ``EncoderCase`` from a case, a factory or an instance (an instance has no
    parameters to vary: only the instance checks apply)."""
    if isinstance(encoder_or_factory, EncoderCase):
        return encoder_or_factory
    if isinstance(encoder_or_factory, Encoder):
        instance = encoder_or_factory

        def build(**overrides: Any) -> Encoder:
            if overrides:
                raise TypeError("check_encoder was given an instance: pass a factory to vary "
                                "parameters")
            return instance

        case_fields.setdefault("params", [])
        return EncoderCase(build, instance_only=True, **case_fields)
    if callable(encoder_or_factory):
        return EncoderCase(encoder_or_factory, **case_fields)
    raise TypeError(f"check_encoder needs an Encoder, a factory or an EncoderCase, not "
                    f"{type(encoder_or_factory).__name__}")


def check_encoder(encoder_or_factory: Encoder | Callable[..., Encoder] | EncoderCase,
                  **case_fields: Any) -> None:
    """Run every check (``CHECKS``) on one encoder kind; raise ``AssertionError`` at the
    first failure. ``case_fields``: those of ``EncoderCase`` (``varies``, ``neutral``,
    ``dtype``, ...)."""
    case = as_case(encoder_or_factory, **case_fields)
    for check in CHECKS:
        check(case)
