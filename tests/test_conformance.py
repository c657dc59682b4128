"""One set of checks for every encoder type and every post-processor, in the manner of
scikit-learn's ``check_estimator``.

Encoders: the public checks of ``bench.testing`` (``check_encoder``), run over EVERY encoder
type of the registry: the test ids come from ``ENCODER_TYPES``, so a new type has a failing
test until it gets a case below (or a reasoned entry in ``NOT_CHECKED``). Types whose weights
cannot ship are built on tiny random-weight models made in fixtures.
Post-processors: the same, plus ``fit`` returns self, transform-before-fit fails, and
``get_state``/``set_state`` (through an ``.npz`` file, as the cache stores it) gives the same
transform.

Everything runs on the tiny random BERT and on a few sentences: seconds in all.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.encoders.glove import GloveAverageEncoder
from bench.encoders.pooling import POOLERS
from bench.encoders.postprocess import Flow, PostProcessor, Whitening, make_postprocessor
from bench.encoders.postprocessed import PostProcessedEncoder
from bench.encoders.registry import ENCODER_TYPES, EncoderOptions
from bench.encoders.sbert import SentenceTransformerEncoder
from bench.encoders.transformer import TransformerEncoder
from bench.errors import BenchError
from bench.prompts import Prompts
from bench.testing import (
    CHECKS,
    SENTENCES,
    SKIP,
    EncoderCase,
    check_encoder,
    init_params,
)
from bench.train import rundir
from bench.train.checkpoint import checkpoint_encoder
from bench.train.model import SimCSEModel, load_backbone
from tests.helpers import HashEncoder, make_tiny_bert, make_tiny_sentence_transformer


@dataclass
class Case:
    """How to build one post-processor kind, and how to vary each parameter (the encoders'
    counterpart is ``bench.testing.EncoderCase``): ``varies`` maps each parameter that changes
    the output to another value, ``neutral`` each that must not (SKIP: none to try here)."""

    id: str
    build: Callable[..., Any]
    params: list[str]
    varies: dict[str, Any]
    neutral: dict[str, Any]
    dtype: Any = np.float32
    identity_only: set[str] = field(default_factory=set)
    fixed_spec: set[str] = field(default_factory=set)


# --- fixtures: the models the cases are built on -------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def _fast():
    """One intra-op thread (tiny tensors: more only add synchronisation, 10x slower on a busy
    machine), and each model folder read once: the checks build ~100 encoders over 4 folders.
    The loaded model is used read-only (eval mode), so sharing it changes no vector."""
    import bench.encoders.transformer as transformer

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    loaded: dict[str, Any] = {}
    real = transformer.load_hf

    def load_once(location: str, display: str, dtype: str = "fp32"):
        if (location, dtype) not in loaded:
            loaded[location, dtype] = real(location, display, dtype)
        return loaded[location, dtype]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(transformer, "load_hf", load_once)
        yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def other_bert(tmp_path_factory) -> Path:
    """A second tiny BERT (other random weights), for the ``model`` parameter."""
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert-2"), seed=1)


@pytest.fixture(scope="module")
def tiny_st(tiny_bert, other_bert, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny-st")
    return (make_tiny_sentence_transformer(tiny_bert, root / "a"),
            make_tiny_sentence_transformer(other_bert, root / "b"))


@pytest.fixture(scope="module")
def simcse_checkpoint(tiny_bert, tmp_path_factory) -> Path:
    """A checkpoint folder as the trainer writes it (MLP kept at evaluation -> pooler cls)."""
    torch.manual_seed(3)
    tok, backbone, _ = load_backbone(str(tiny_bert))
    model = SimCSEModel(backbone, "cls", mlp_only_train=False)
    folder = tmp_path_factory.mktemp("simcse") / "checkpoints" / rundir.step_dir_name(2)
    return rundir.write_model_folder(folder, model, tok, {"step": 2,
                                                          "eval_pooler": model.eval_pooler})


@pytest.fixture(scope="module")
def glove_files(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("glove")
    rng = np.random.default_rng(0)
    words = sorted({w for s in SENTENCES for w in s.split()} | {w.lower() for s in SENTENCES
                                                                for w in s.split()})
    paths = []
    for name in ("a.txt", "b.txt"):
        lines = [f"{w} " + " ".join(f"{v:.5f}" for v in rng.normal(size=6)) for w in words]
        (root / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(root / name)
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def nli_files(tmp_path_factory) -> tuple[Path, Path]:
    """Two small NLI CSVs (sent0,sent1,hard_neg) that differ in their sentences."""
    root = tmp_path_factory.mktemp("nli")
    paths = []
    for tag in ("a", "b"):
        path = root / f"nli-{tag}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["sent0", "sent1", "hard_neg"])
            for i in range(40):
                writer.writerow([f"{tag} premise number {i}", f"hypothesis {i} {tag}",
                                 f"negative {tag} {i * 7}"])
        paths.append(path)
    return paths[0], paths[1]


TINY_FLOW = dict(levels=2, depth=1, width=8, epochs=1, batch_size=16, show_progress=False)


def _transformer_case(pooler: str, bert: Path, other: Path) -> Case:
    def build(**kw):
        args = dict(model=str(bert), pooler=pooler)
        args.update(kw)
        return TransformerEncoder(args.pop("model"), args.pop("pooler"), **args)

    varies = {"model": str(other), "pooler": "avg" if pooler != "avg" else "cls",
              "max_length": 4, "precision": "bf16", "dtype": "bf16"}
    if pooler == "avg_first_last":
        varies["first_layer"] = "embeddings"
    neutral = {
        "device": SKIP,  # where the model runs, not what it computes (CUDA absent here)
        "name": "renamed",  # a display name
        # files left out of the weights digest (a checkpoint's optimizer state): naming one
        # the folder does not hold changes neither the vectors nor the fingerprint
        "ignore_files": ("no-such-file.pt",),
    }
    if pooler != "avg_first_last":
        neutral["first_layer"] = "embeddings"  # read by avg_first_last only
    identity_only = set()
    if pooler == "lasttoken":  # the padding side changes the spec, not the vectors; this
        # BERT tokenizer has no EOS token (its [SEP] ends every text), so neither does eos
        # here (tests/test_decoder_embedders.py: a decoder whose last token it changes)
        varies.update(eos="never", padding_side="right")
        identity_only.update({"padding_side", "eos"})
    else:  # read by lasttoken only
        neutral.update(eos="never", padding_side="right")
    return EncoderCase(build, varies, neutral, init_params(TransformerEncoder),
                       identity_only=identity_only, id=f"transformer-{pooler}")


def _postprocessed_case(kind: str, nli: tuple[Path, Path], cache: Path) -> Case:
    pp = {"whitening": {"kind": "whitening"}, "flow": {"kind": "flow", **TINY_FLOW}}[kind]
    other_pp = {"whitening": {"kind": "whitening", "n_components": 4},
                "flow": {"kind": "flow", **TINY_FLOW, "seed": 7}}[kind]

    def build(**kw):
        args = dict(base=HashEncoder(16), postprocessor=pp, fit="nli", nli_path=nli[0],
                    cache_root=cache)
        args.update(kw)
        return PostProcessedEncoder(args.pop("base"), args.pop("postprocessor"), **args)

    varies = {"base": HashEncoder(12), "postprocessor": other_pp, "fit": "target",
              "nli_path": nli[1]}
    neutral = {
        "cache_root": cache / "elsewhere",  # where fitted state is kept, not what it is
        "use_cache": False,  # whether it is kept (--no-cache)
        "device": SKIP,  # where the post-processor runs (CUDA absent here)
        "name": "renamed",
    }
    dtype = np.float64 if kind == "whitening" else np.float32  # Whitening works in float64
    return EncoderCase(build, varies, neutral, init_params(PostProcessedEncoder), dtype,
                       id=f"postprocessed-{kind}")


def _checkpoint_case(folder: Path) -> Case:
    """A SimCSE run folder as --model: the parameters are the run-time EncoderOptions."""

    def build(**kw):
        name = kw.pop("name", None)
        return checkpoint_encoder(folder, EncoderOptions(**kw), name)

    neutral = {
        "device": SKIP,
        "data_dir": "elsewhere",  # read by post-processors fitted on task data only
        "cache_dir": "elsewhere",  # embedding cache root: where vectors are kept
        "use_cache": False,
        "name": "renamed",
    }
    params = [f.name for f in fields(EncoderOptions)] + ["name"]
    return EncoderCase(build,
                       {"precision": "bf16", "pooler": "cls_before_pooler", "max_length": 4,
                        "dtype": "bf16", "prompts": Prompts.from_options("query: ")}, neutral,
                       params, id="simcse-checkpoint",
                       # a prompt is applied by the encoding pass (encode_prompted), not encode
                       identity_only={"prompts"}, fixed_spec={"model"})  # the folder is the model


@pytest.fixture(scope="module")
def cases(tiny_bert, other_bert, tiny_st, simcse_checkpoint, glove_files, nli_files,
          tmp_path_factory) -> dict[str, EncoderCase]:
    cache = tmp_path_factory.mktemp("pp-cache")
    out = [_transformer_case(p, tiny_bert, other_bert) for p in POOLERS]
    out.append(EncoderCase(
        lambda **kw: SentenceTransformerEncoder(kw.pop("model", str(tiny_st[0])), **kw),
        {"model": str(tiny_st[1]), "precision": "bf16", "dtype": "bf16", "max_length": 4},
        {"device": SKIP, "name": "renamed"}, id="sentence-transformers"))
    out.append(EncoderCase(
        lambda **kw: GloveAverageEncoder(kw.pop("vectors", str(glove_files[0])), **kw),
        {"vectors": str(glove_files[1]), "lowercase": False},
        {"name": "renamed"},
        dtype=np.float64, id="glove-avg"))  # SentEval averages in float64
    out += [_postprocessed_case(k, nli_files, cache) for k in ("whitening", "flow")]
    out.append(_checkpoint_case(simcse_checkpoint))
    out.append(EncoderCase(
        lambda **kw: HashEncoder(**kw),
        {"dim": 5, "tag": "v2"},
        {"delay": 0.001},  # a test-only sleep
        identity_only={"tag"}, id="hash"))  # stands for a model revision in the cache tests
    return {c.id: c for c in out}


# Every registered encoder type -> the cases that check it. Test ids come from the registry:
# a type missing here and from NOT_CHECKED gets a failing test.
CASES_BY_TYPE = {
    "transformer": [f"transformer-{p}" for p in POOLERS],
    "sentence-transformers": ["sentence-transformers"],
    "glove-avg": ["glove-avg"],
    "postprocessed": ["postprocessed-whitening", "postprocessed-flow"],
    "simcse-run": ["simcse-checkpoint"],
}
NOT_CHECKED = {
    # No encoder of its own: it builds the simcse-run or the transformer recipe it names
    # (checked above) and only sets the provenance record.
    "paper-model": "builds a simcse-run or a transformer encoder, both checked",
}
TEST_ONLY = ["hash"]  # tests.helpers.HashEncoder, used by the cache and run tests
# The recipe config that makes the registry's factory build each case's default instance.
FACTORY_CONFIGS = {
    "transformer-cls": lambda f: {"type": "transformer", "model": str(f["tiny_bert"]),
                                  "pooler": "cls"},
    "sentence-transformers": lambda f: {"type": "sentence-transformers",
                                        "model": str(f["tiny_st"][0])},
    "glove-avg": lambda f: {"type": "glove-avg", "vectors": str(f["glove_files"][0])},
}


def _encoder_params() -> list:
    out = []
    for kind in ENCODER_TYPES.names():
        if kind in NOT_CHECKED:
            continue
        for case_id in CASES_BY_TYPE.get(kind, [None]):
            out += [pytest.param(case_id, check, id=f"{kind}:{case_id}:{check.__name__[6:]}")
                    for check in CHECKS]
    return out + [pytest.param(c, check, id=f"test-only:{c}:{check.__name__[6:]}")
                  for c in TEST_ONLY for check in CHECKS]


@pytest.mark.parametrize("case_id, check", _encoder_params())
def test_encoder_conformance(cases, case_id, check):
    assert case_id is not None, "a registered encoder type has no conformance case: add one " \
        "to CASES_BY_TYPE (or a reasoned entry to NOT_CHECKED)"
    check(cases[case_id])


def test_every_registered_type_is_checked_or_has_a_reason():
    assert not set(CASES_BY_TYPE) & set(NOT_CHECKED)
    assert set(CASES_BY_TYPE) | set(NOT_CHECKED) == set(ENCODER_TYPES.names())


@pytest.mark.parametrize("case_id", list(FACTORY_CONFIGS))
def test_the_registry_factory_builds_what_the_case_checks(cases, case_id, tiny_bert, tiny_st,
                                                          glove_files):
    """The cases build classes directly (to vary each parameter): the registry's factory,
    given a recipe's config, builds the same encoder (class and fingerprint)."""
    config = FACTORY_CONFIGS[case_id](locals())
    built = ENCODER_TYPES.get(config["type"])(config, EncoderOptions(), "from-registry")
    expected = cases[case_id].build()
    assert type(built) is type(expected) and built.fingerprint == expected.fingerprint


def test_check_encoder_accepts_an_instance_and_a_factory():
    check_encoder(HashEncoder(dim=6))  # instance checks only
    check_encoder(lambda **kw: HashEncoder(**kw), varies={"dim": 5, "tag": "v2"},
                  neutral={"delay": 0.0}, identity_only={"tag"})


class _SpecLosesAParameter(HashEncoder):
    """An encoder whose spec forgets ``dim``: two dims would share cached vectors."""

    def spec(self):
        return {"type": "forgetful"}


class _Nondeterministic(HashEncoder):
    def encode(self, sentences, batch_size=64):
        return super().encode(sentences, batch_size) + np.random.default_rng().normal()


@pytest.mark.parametrize("make, fields, message", [
    (lambda **kw: _SpecLosesAParameter(**kw), {"varies": {"dim": 5, "tag": "v2"},
                                               "neutral": {"delay": 0.0}},
     "dim is not in spec"),
    (lambda **kw: HashEncoder(**kw), {"varies": {"dim": 5}, "neutral": {"delay": 0.0}},
     "parameters neither in varies nor in neutral: tag"),
    (lambda **kw: _Nondeterministic(**kw), {}, "the same call twice"),
])
def test_check_encoder_catches_a_broken_encoder(make, fields, message):
    with pytest.raises(AssertionError, match=message):
        check_encoder(make, **fields)


def test_postprocessed_state_round_trips_through_the_cache(cases, tmp_path):
    """A second encoder finds the fitted state on disk and gives the same vectors."""
    for kind in ("whitening", "flow"):
        case = cases[f"postprocessed-{kind}"]
        first = case.build(cache_root=tmp_path)
        expected = first.encode(SENTENCES)
        second = case.build(cache_root=tmp_path)
        np.testing.assert_array_equal(second.encode(SENTENCES), expected)
        assert [e["reused"] for e in first.fit_log] == [False]
        assert [e["reused"] for e in second.fit_log] == [True]


def test_postprocessed_fits_with_the_templates_parameters(nli_files, tmp_path):
    """Fitted copies keep the template's run-time parameters (progress bar, threads)."""
    template = Flow(**{**TINY_FLOW, "cpu_threads": None})
    encoder = PostProcessedEncoder(HashEncoder(16), template, "nli", nli_path=nli_files[0],
                                   cache_root=tmp_path)
    encoder.encode(SENTENCES)
    (fitted,) = encoder._fitted.values()
    assert fitted is not template
    assert (fitted.show_progress, fitted.cpu_threads) == (False, None)
    assert fitted.spec() == template.spec()


# --- post-processor checks -----------------------------------------------------------------
def _same(a: np.ndarray, b: np.ndarray, tol: float = 1e-5) -> bool:
    return a.shape == b.shape and np.allclose(a, b, rtol=tol, atol=tol)


def _data(n: int = 120, d: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) * np.geomspace(1.0, 0.1, d)[:, None]
    return (rng.normal(size=(n, d)) @ mix + rng.normal(size=d) * 3).astype(np.float32)


PP_CASES = {
    "whitening": Case("whitening", lambda **kw: Whitening(**kw), init_params(Whitening),
                      {"n_components": 4}, {}, np.float64),
    "flow": Case(
        "flow", lambda **kw: Flow(**{**TINY_FLOW, **kw}), init_params(Flow),
        {"levels": 1, "depth": 2, "width": 4, "lr": 1e-2, "weight_decay": 0.5, "adam_eps": 0.1,
         "batch_size": 8, "epochs": 2, "clip_norm": 1e-3, "seed": 7},
        {"device": SKIP,  # where it runs (CUDA absent here)
         "cpu_threads": 2,  # intra-op threads: the same sums, up to rounding
         "show_progress": True}),  # a progress bar
}


@pytest.fixture(params=list(PP_CASES))
def pp_case(request) -> Case:
    return PP_CASES[request.param]


def test_pp_fit_returns_self_and_transform_has_the_documented_shape(pp_case):
    X, new = _data(), _data(10, seed=1)
    pp = pp_case.build()
    with pytest.raises(BenchError, match="fitted"):
        pp.transform(new)
    assert not pp.fitted
    assert pp.fit(X) is pp and pp.fitted
    out = pp.transform(new)
    width = pp_case.build(**pp_case.varies).get_params().get("n_components") \
        if pp_case.id == "whitening" else None
    assert out.shape == (10, 16) and out.dtype == pp_case.dtype and np.isfinite(out).all()
    if width:
        assert pp_case.build(n_components=width).fit(X).transform(new).shape == (10, width)
    assert pp.transform(new[:0]).shape == (0, 16)


def test_pp_is_deterministic_and_row_independent(pp_case):
    X, new = _data(), _data(10, seed=1)
    a = pp_case.build().fit(X).transform(new)
    b = pp_case.build().fit(X).transform(new)
    np.testing.assert_array_equal(a, b)
    pp = pp_case.build().fit(X)
    np.testing.assert_allclose(np.concatenate([pp.transform(new[:3]), pp.transform(new[3:])]),
                               a, rtol=1e-5, atol=1e-5)


def test_pp_state_round_trips_through_npz(pp_case, tmp_path):
    X, new = _data(), _data(10, seed=1)
    pp = pp_case.build().fit(X)
    np.savez(tmp_path / "state.npz", **pp.get_state())
    with np.load(tmp_path / "state.npz") as data:
        state = {k: data[k] for k in data.files}
    fresh = make_postprocessor(pp.spec())
    assert not fresh.fitted
    fresh.set_state(state)
    assert fresh.fitted
    np.testing.assert_array_equal(fresh.transform(new), pp.transform(new))


def test_pp_spec_rebuilds_the_same_postprocessor(pp_case):
    for params in ({}, *({k: v} for k, v in pp_case.varies.items())):
        pp = pp_case.build(**params)
        assert json.loads(json.dumps(pp.spec())) == pp.spec()
        assert make_postprocessor(pp.spec()).spec() == pp.spec()
        assert isinstance(make_postprocessor(pp.spec()), PostProcessor)


def test_pp_every_constructor_parameter_is_accounted_for(pp_case):
    assert set(pp_case.varies) | set(pp_case.neutral) == set(pp_case.params)
    spec = pp_case.build().spec()
    assert set(spec) - {"kind"} == set(pp_case.varies), "spec() holds exactly the varied ones"


def test_pp_parameters_that_change_results_change_spec_and_output(pp_case):
    X, new = _data(), _data(10, seed=1)
    base = pp_case.build()
    reference = base.fit(X).transform(new)
    for param, value in pp_case.varies.items():
        variant = pp_case.build(**{param: value})
        assert variant.spec() != base.spec(), param
        assert not _same(variant.fit(X).transform(new), reference, 1e-6), param
    for param, value in pp_case.neutral.items():
        if value is SKIP:
            continue
        variant = pp_case.build(**{param: value})
        assert variant.spec() == base.spec(), param
        np.testing.assert_allclose(variant.fit(X).transform(new), reference, rtol=1e-4,
                                   atol=1e-4, err_msg=param)
