"""`bench cache where | info | prune` on a cache built in tmp_path; the cache tracks its use."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from bench.cache import EmbeddingCache
from bench.cli import main
from tests.helpers import HashEncoder

MINILM_SPEC = {"type": "transformer", "model": "packaged:all-MiniLM-L6-v2", "pooler": "avg",
               "precision": "fp32", "max_length": None}
# Keys of minilm-avg quoted in issue 18, full length as the code before the fix computed them:
# in an environment below ~/.cache (weights digest = sha256 of nothing) and elsewhere.
BLIND_KEY = "3b0ba2a06f667b67ce9d770f"
RIGHT_KEY = "a84a70830c4650757b097ee3"
DAY = 86400.0


def spec_only_key(spec: dict) -> str:
    """The old key of a hub model with no local snapshot: the spec with weights None."""
    payload = json.dumps({"spec": spec, "weights": None}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def old_folder(root: Path, key: str, spec: dict, chunks: int = 1, age_days: float = 0) -> Path:
    """A vector folder as the code before key scheme 2 wrote it (no key_scheme in meta.json)."""
    folder = root / key
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"name": spec.get("model"), "spec": spec,
                                                  "fingerprint": key}))
    for i in range(chunks):
        np.savez(folder / f"chunk-{i}.npz", keys=np.zeros((2, 20), np.uint8),
                 vectors=np.ones((2, 8), np.float32))
    age(folder, age_days)
    return folder


def age(path: Path, days: float) -> None:
    t = time.time() - days * DAY
    for p in [path, *path.rglob("*")]:
        os.utime(p, (t, t))


def state(root: Path, base: str, name: str) -> Path:
    path = root / "_postprocessors" / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"base_fingerprint": base, "postprocessor": {"kind": "whitening"}, "fit": "nli"}
    np.savez(path, __meta__=np.array(json.dumps(meta)), W=np.eye(2))
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    root = tmp_path / "cache"
    enc = HashEncoder()
    EmbeddingCache(root, enc.fingerprint, enc.describe()).put(["a", "b"], enc.encode(["a", "b"]))
    hub_spec = {**MINILM_SPEC, "model": "org/not-downloaded"}
    paths = {
        "current": root / enc.fingerprint,
        "blind": old_folder(root, BLIND_KEY, MINILM_SPEC, chunks=3),
        "hub-blind": old_folder(root, spec_only_key(hub_spec), hub_spec),
        "old-right": old_folder(root, RIGHT_KEY, MINILM_SPEC),
        "unused": old_folder(root, "0123456789abcdef01234567", {**MINILM_SPEC, "pooler": "cls"},
                             age_days=40),
        "empty": old_folder(root, "fedcba9876543210fedcba98", MINILM_SPEC, chunks=0,
                            age_days=0.1),
        "fresh-empty": old_folder(root, "abcdef0123456789abcdef01", MINILM_SPEC, chunks=0),
        "state-blind": state(root, BLIND_KEY, "1" * 24),
        "state-right": state(root, RIGHT_KEY, "2" * 24),
    }
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.npz").write_bytes(b"x")
    (root / ("9" * 24)).symlink_to(outside, target_is_directory=True)  # never followed
    (root / "notes.txt").write_text("mine")
    return root, paths, outside


def test_prune_is_a_dry_run_by_default_and_lists_what_and_why(cache, capsys):
    root, paths, _ = cache
    before = sorted(p for p in root.rglob("*"))
    assert main(["cache", "prune", "--cache-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert sorted(p for p in root.rglob("*")) == before  # nothing deleted
    for key in ("blind", "hub-blind", "state-blind"):
        assert paths[key].name[:12] in out
    assert "key ignores the weights" in out and "no vectors" in out
    for key in ("current", "old-right", "unused", "state-right", "fresh-empty"):
        assert paths[key].name[:12] not in out
    assert "dry run: 4 of 9 entries" in out and "pass --yes" in out


def test_prune_yes_removes_only_the_selected_entries(cache, capsys):
    root, paths, outside = cache
    assert main(["cache", "prune", "--cache-dir", str(root), "--yes"]) == 0
    assert "removed 4 of 9 entries" in capsys.readouterr().out
    gone = {"blind", "hub-blind", "empty", "state-blind"}
    assert {k for k, p in paths.items() if not p.exists()} == gone
    assert (outside / "keep.npz").is_file() and (root / ("9" * 24)).is_symlink()
    assert (root / "notes.txt").is_file()

    assert main(["cache", "prune", "--cache-dir", str(root), "--unused-days", "30", "--yes"]) == 0
    assert "unused for 40 days" in capsys.readouterr().out
    assert not paths["unused"].exists() and paths["old-right"].exists()

    assert main(["cache", "prune", "--cache-dir", str(root), "--all", "--yes"]) == 0
    assert not any(p.exists() for p in paths.values())
    assert (outside / "keep.npz").is_file() and (root / "notes.txt").is_file()


def test_prune_options_are_checked(cache, tmp_path, capsys):
    root, _, _ = cache
    with pytest.raises(SystemExit):
        main(["cache", "prune", "--cache-dir", str(root), "--dry-run", "--yes"])
    with pytest.raises(SystemExit):
        main(["cache", "prune", "--cache-dir", str(root), "--unused-days", "-1"])
    capsys.readouterr()
    (tmp_path / "file").write_text("x")
    assert main(["cache", "prune", "--cache-dir", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"bench: error: cache root {tmp_path / 'file'} (from --cache-dir) is not a "
                   f"folder"]
    assert main(["cache", "prune", "--cache-dir", str(tmp_path / "none")]) == 0
    assert "nothing to prune" in capsys.readouterr().out


def test_where_and_info(cache, monkeypatch, capsys):
    root, paths, _ = cache
    monkeypatch.setenv("BENCH_CACHE_DIR", str(root))
    assert main(["cache", "where"]) == 0
    assert capsys.readouterr().out.startswith(f"{root}  (from $BENCH_CACHE_DIR; exists)")
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert all(p.name[:12] in out for p in paths.values())
    assert "ok, scheme 2" in out and "weight-blind, scheme 1" in out
    assert "9 entries" in out and "2 other path(s)" in out


def test_cache_records_its_key_scheme_and_last_use(tmp_path):
    enc = HashEncoder()
    cache = EmbeddingCache(tmp_path, enc.fingerprint, enc.describe())
    cache.put(["a"], enc.encode(["a"]))
    meta = tmp_path / enc.fingerprint / "meta.json"
    assert json.loads(meta.read_text())["key_scheme"] == 2
    age(tmp_path / enc.fingerprint, 10)
    assert EmbeddingCache(tmp_path, enc.fingerprint).missing(["a", "b"]) == ["b"]
    assert time.time() - meta.stat().st_mtime < DAY  # a read counts as a use


def test_a_model_below_dot_cache_no_longer_reads_its_weight_blind_entry(tmp_path):
    """The old key of such a model was its spec with the sha256 of nothing; the new key differs."""
    from bench.encoders.transformer import TransformerEncoder

    folder = tmp_path / ".cache" / "m"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    enc = TransformerEncoder(str(folder), "avg")
    payload = json.dumps({"spec": enc.spec(), "weights": hashlib.sha256(b"").hexdigest()},
                         sort_keys=True)
    assert enc.fingerprint != hashlib.sha256(payload.encode()).hexdigest()[:24]
