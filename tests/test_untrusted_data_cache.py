"""Untrusted data files, data archives and embedding caches (issue 23): what bench reads
can neither attack it nor make it report a number its evidence does not support."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench import runner
from bench.errors import DataError
from bench.protocols import parse_protocols
from bench.runner import RunConfig, run
from tests.helpers import HashEncoder

STSB = "STS/STSBenchmark"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def stsb_copy(data_dir, tmp_path) -> Path:
    """A data folder holding only STS-B (copied: the tests rewrite its files)."""
    root = tmp_path / "downstream"
    shutil.copytree(data_dir / STSB, root / STSB)
    return root


def _tampered(genuine: bytes) -> bytes:
    """STS-B's test split with its gold scores reversed: parses fine, scores nonsense."""
    lines = genuine.decode("utf-8").splitlines(keepends=True)
    cols = [line.split("\t") for line in lines]
    scores = [c[4] for c in cols][::-1]
    return "".join("\t".join(c[:4] + [s] + c[5:]) for c, s in zip(cols, scores)).encode()


def _swap_after_parsing(monkeypatch, path: Path, parsed: bytes) -> bytes:
    """Put ``parsed`` on disk while the tasks are read, the genuine bytes back right after:
    the file a second pass would hash is not the one the numbers come from."""
    genuine = path.read_bytes()
    original = runner.load_tasks

    def load_then_swap(metas, downstream):
        path.write_bytes(parsed)
        try:
            return original(metas, downstream)
        finally:
            path.write_bytes(genuine)

    monkeypatch.setattr(runner, "load_tasks", load_then_swap)
    return genuine


def _stsb_config(root: Path, cache: Path, verify: bool) -> RunConfig:
    return RunConfig(model="hash", protocols=parse_protocols("all-spearman"),
                     tasks=["STSBenchmark"], data_dir=str(root), cache_dir=str(cache),
                     show_progress=False, verify_data=verify)


def test_a_file_swapped_after_parsing_is_refused_not_verified(stsb_copy, tmp_path, monkeypatch):
    test_csv = stsb_copy / STSB / "sts-test.csv"
    _swap_after_parsing(monkeypatch, test_csv, _tampered(test_csv.read_bytes()))
    with pytest.raises(DataError, match="checksum mismatch: .*sts-test.csv"):
        run(_stsb_config(stsb_copy, tmp_path / "cache", verify=True), encoder=HashEncoder())


def test_the_report_carries_the_digest_of_the_bytes_parsed(stsb_copy, tmp_path, monkeypatch):
    test_csv = stsb_copy / STSB / "sts-test.csv"
    parsed = _tampered(test_csv.read_bytes())
    genuine = _swap_after_parsing(monkeypatch, test_csv, parsed)
    report = run(_stsb_config(stsb_copy, tmp_path / "cache", verify=False),
                 encoder=HashEncoder())
    key = f"{STSB}/sts-test.csv"
    assert report.data["sha256"][key] == _sha256(parsed) != _sha256(genuine)
    assert report.data["status"][key] == "mismatch"
    assert report.data["verified"] is False


# --- bench data download: an incomplete or hostile archive installs nothing ----------------

FAKE_FILES = {f"STS/Fake/{name}.txt": f"{name} sentence\t{name} other\n".encode()
              for name in ("a", "b", "c")}


@pytest.fixture
def fake_manifest(tmp_path, monkeypatch) -> dict[str, bytes]:
    """A three-file manifest in place of the shipped one (paths as the archive spells them)."""
    from bench.data import manifest

    path = tmp_path / "manifest.tsv"
    path.write_text("".join(f"downstream/{key}\t{len(data)}\t{_sha256(data)}\t1\n"
                            for key, data in FAKE_FILES.items()))
    monkeypatch.setattr(manifest, "MANIFEST", path)
    manifest.load_manifest.cache_clear()
    yield FAKE_FILES
    manifest.load_manifest.cache_clear()


def _tar(path: Path, files: dict[str, bytes], extra: list | None = None) -> str:
    """A tar archive of ``files`` (below ``downstream/``) plus raw ``extra`` members; its
    file:// URL (urllib reads it as it would the real download: no network)."""
    import io
    import tarfile

    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"downstream/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info, data in extra or []:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path.resolve().as_uri()


def _download(to: Path, url: str, *more: str) -> tuple[int, list[str], str]:
    import contextlib
    import io

    from bench.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["data", "download", "--to", str(to), "--url", url, *more])
    lines = [line for line in err.getvalue().splitlines() if line.startswith("bench: ")]
    return code, lines, out.getvalue()  # without the progress line


def _installed(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_complete_archive_installs_every_file(fake_manifest, tmp_path):
    url = _tar(tmp_path / "full.tar", fake_manifest)
    code, err, out = _download(tmp_path / "data", url)
    assert code == 0 and err == [] and "every file verified" in out
    assert _installed(tmp_path / "data") == {f"downstream/{k}": v
                                             for k, v in fake_manifest.items()}


def test_an_incomplete_archive_installs_nothing_and_names_what_is_missing(fake_manifest,
                                                                          tmp_path):
    url = _tar(tmp_path / "part.tar", {"STS/Fake/a.txt": fake_manifest["STS/Fake/a.txt"]})
    for more in ((), ("--skip-verify",)):
        code, err, out = _download(tmp_path / "data", url, *more)
        assert code == 2 and "verified" not in out
        assert len(err) == 1 and "2 of 3 manifest files missing" in err[0], err
        assert "STS/Fake/b.txt" in err[0]
        assert _installed(tmp_path / "data") == {}  # no downstream/, no temporary left


def test_an_incomplete_archive_leaves_an_existing_install_untouched(fake_manifest, tmp_path):
    full = _tar(tmp_path / "full.tar", fake_manifest)
    assert _download(tmp_path / "data", full)[0] == 0
    before = _installed(tmp_path / "data")
    part = _tar(tmp_path / "part.tar", {"STS/Fake/c.txt": fake_manifest["STS/Fake/c.txt"]})
    code, err, _ = _download(tmp_path / "data", part, "--force")
    assert code == 2 and len(err) == 1 and "missing" in err[0]
    assert _installed(tmp_path / "data") == before


def _member(name: str, data: bytes | None = None, link: str | None = None,
            kind: bytes | None = None):
    import tarfile

    info = tarfile.TarInfo(name)
    if link is not None:
        info.type, info.linkname = kind or tarfile.SYMTYPE, link
    else:
        info.size = len(data or b"")
    return info, data if link is None else None


@pytest.mark.parametrize("member, why", [
    (("downstream/../../escaped.txt", b"x"), "would land outside"),
    (("/tmp/absolute-escaped.txt", b"x"), "absolute path"),
    (("downstream/STS/Fake/d.txt", None, "../../../../../escaped.txt"), "is a link"),
    (("downstream/STS/Fake/d.txt", None, "a.txt"), "is a link"),  # even inside: SentEval has none
    (("downstream/STS/Fake/d.txt", None, "downstream/STS/Fake/a.txt", b"1"), "is a link"),
    (("downstream/STS/Fake/d.txt", None, "", b"6"), "special file"),  # a FIFO
])
def test_a_hostile_archive_member_refuses_the_archive(fake_manifest, tmp_path, member, why):
    url = _tar(tmp_path / "evil.tar", fake_manifest, [_member(*member)])
    code, err, _ = _download(tmp_path / "data", url)
    assert code == 2 and len(err) == 1 and "refusing the archive" in err[0] and why in err[0]
    assert _installed(tmp_path / "data") == {}
    assert not (tmp_path / "escaped.txt").exists()
    assert not Path("/tmp/absolute-escaped.txt").exists()


@pytest.mark.parametrize("path", ["downstream/../outside.txt", "/etc/passwd",
                                  "downstream/STS/./x.txt"])
def test_a_manifest_path_leaving_the_data_folder_is_refused(tmp_path, monkeypatch, path):
    from bench.data import manifest

    bad = tmp_path / "manifest.tsv"
    bad.write_text(f"{path}\t1\t{'0' * 64}\t1\n")
    monkeypatch.setattr(manifest, "MANIFEST", bad)
    manifest.load_manifest.cache_clear()
    try:
        with pytest.raises(DataError, match=r"manifest.tsv:1: path .* not a plain relative"):
            manifest.verify_all(tmp_path)
    finally:
        manifest.load_manifest.cache_clear()


# --- embedding cache: chunks that do not belong to their folder -----------------------------

class OtherHashEncoder(HashEncoder):
    """Another model of the same dimension: other vectors for the same sentences."""

    def spec(self):
        return {**super().spec(), "type": "other-hash"}

    def encode(self, sentences, batch_size=64):
        return super().encode([s + " (other)" for s in sentences], batch_size)


def _sts13(data_dir: Path, cache: Path) -> RunConfig:
    return RunConfig(model="hash", protocols=parse_protocols("simcse"), tasks=["STS13"],
                     data_dir=str(data_dir), cache_dir=str(cache), show_progress=False)


def _scores(report) -> list[dict]:
    return [s.values for s in report.scores]


def _chunks(folder: Path) -> list[Path]:
    return sorted(folder.glob("chunk-*.npz"))


def _merge_in(folder: Path, chunk: Path, name: str) -> Path:
    """Copy a chunk into ``folder`` as a careless merge would; ``name`` sorts after the
    folder's own chunks, so an unguarded cache reads it last and its vectors win."""
    target = folder / name
    shutil.copyfile(chunk, target)
    return target


def _legacy_chunk(path: Path, sentences: list[str], vectors: np.ndarray) -> None:
    """A chunk as the code before this change wrote it: keys and vectors, no key, no dim."""
    from bench.cache import sentence_key

    keys = np.frombuffer(b"".join(sentence_key(s) for s in sentences),
                         dtype=np.uint8).reshape(len(sentences), 20)
    np.savez(path, keys=keys, vectors=vectors)


def _warnings(capsys) -> list[str]:
    err = capsys.readouterr().err.strip().splitlines()
    assert not any("Traceback" in line for line in err), err
    return [line for line in err if line.startswith("bench: warning:")]


def test_another_models_chunk_in_the_folder_is_quarantined_not_used(data_dir, tmp_path,
                                                                    capsys):
    cache = tmp_path / "cache"
    first = run(_sts13(data_dir, cache), encoder=HashEncoder())
    run(_sts13(data_dir, tmp_path / "other-cache"), encoder=OtherHashEncoder())
    folder = cache / HashEncoder().fingerprint
    foreign = [_merge_in(folder, c, f"chunk-ffff{i}.npz")
               for i, c in enumerate(_chunks(tmp_path / "other-cache"
                                             / OtherHashEncoder().fingerprint))]
    capsys.readouterr()
    again = HashEncoder()
    second = run(_sts13(data_dir, cache), encoder=again)
    assert _scores(second) == _scores(first)
    assert again.encoded == 0  # the folder's own chunks still hold every sentence
    warnings = _warnings(capsys)
    assert len(warnings) == len(foreign)
    for path, line in zip(foreign, warnings):
        assert str(path) in line and OtherHashEncoder().fingerprint in line
        assert not path.exists() and (folder / "quarantine" / path.name).exists()


def test_a_chunk_of_another_dimension_is_quarantined_and_re_encoded(data_dir, tmp_path,
                                                                    capsys):
    cache = tmp_path / "cache"
    first = run(_sts13(data_dir, cache), encoder=HashEncoder())
    folder = cache / HashEncoder().fingerprint
    own = _chunks(folder)[0]
    sentences = _chunk_sentences(own, _sts13_sentences(data_dir))
    own.unlink()  # its sentences now come in a chunk of dimension 4
    _legacy_chunk(folder / "chunk-ffff.npz", sentences, np.ones((len(sentences), 4),
                                                                  np.float32))
    capsys.readouterr()
    for attempt in range(2):  # the second run: no warning, nothing left to re-encode
        again = HashEncoder()
        second = run(_sts13(data_dir, cache), encoder=again)
        assert _scores(second) == _scores(first)
        warnings = _warnings(capsys)
        if attempt == 0:
            assert len(warnings) == 1 and "chunk-ffff.npz" in warnings[0]
            assert "dimension 4" in warnings[0] and "gives 8" in warnings[0]
            assert again.encoded == len(sentences)
        else:
            assert warnings == [] and again.encoded == 0
    assert (folder / "quarantine" / "chunk-ffff.npz").exists()


def _sts13_sentences(data_dir: Path) -> list[str]:
    from bench.tasks.registry import load_sts_task

    return load_sts_task(data_dir, "STS13").sentences()


def _chunk_sentences(chunk: Path, candidates: list[str]) -> list[str]:
    """The sentences a chunk holds, in its order (its keys are their sha1s)."""
    from bench.cache import sentence_key

    by_key = {sentence_key(s): s for s in candidates}
    with np.load(chunk) as data:
        return [by_key[bytes(k)] for k in data["keys"]]


SENTENCES = [f"sentence number {i}" for i in range(6)]


def _cache(root: Path, enc: HashEncoder, probe: bool = True):
    from bench.cache import EmbeddingCache

    return EmbeddingCache(root, enc.fingerprint, enc.describe(),
                          dim_probe=(lambda: enc.encode(["x"]).shape[1]) if probe else None)


def test_a_chunk_written_before_keys_were_recorded_is_still_used(tmp_path, capsys):
    enc = HashEncoder()
    folder = tmp_path / enc.fingerprint
    folder.mkdir()
    _legacy_chunk(folder / "chunk-old.npz", SENTENCES, enc.encode(SENTENCES))
    cache = _cache(tmp_path, enc)
    assert cache.missing(SENTENCES) == []
    np.testing.assert_array_equal(cache.get(SENTENCES), HashEncoder().encode(SENTENCES))
    assert _warnings(capsys) == [] and (folder / "chunk-old.npz").exists()


def test_unkeyed_chunks_of_two_dimensions_are_settled_by_the_model(tmp_path, capsys):
    """A foreign unkeyed chunk with more rows than the folder's own: the commonest dimension
    would pick it; the model's own dimension (one sentence encoded) does not."""
    enc = HashEncoder()
    folder = tmp_path / enc.fingerprint
    folder.mkdir()
    _legacy_chunk(folder / "chunk-a.npz", SENTENCES[:2], enc.encode(SENTENCES[:2]))
    _legacy_chunk(folder / "chunk-b.npz", SENTENCES, np.ones((6, 4), np.float32))
    cache = _cache(tmp_path, enc)
    assert cache.missing(SENTENCES) == SENTENCES[2:]
    warnings = _warnings(capsys)
    assert len(warnings) == 1 and "chunk-b.npz" in warnings[0] and "dimension 4" in warnings[0]
    assert (folder / "quarantine" / "chunk-b.npz").exists()


def test_a_chunk_the_model_contradicts_is_set_aside_when_its_vectors_arrive(tmp_path, capsys):
    """Without a probe the commonest dimension is taken; the model's first vectors correct it."""
    enc = HashEncoder()
    folder = tmp_path / enc.fingerprint
    folder.mkdir()
    _legacy_chunk(folder / "chunk-a.npz", SENTENCES[:2], enc.encode(SENTENCES[:2]))
    _legacy_chunk(folder / "chunk-b.npz", SENTENCES[2:], np.ones((4, 4), np.float32))
    cache = _cache(tmp_path, enc, probe=False)
    assert cache.missing(SENTENCES) == SENTENCES[:2]  # chunk-a taken for the foreign one
    cache.put(SENTENCES[:2], enc.encode(SENTENCES[:2]))
    assert (folder / "quarantine" / "chunk-b.npz").exists()
    assert _cache(tmp_path, enc, probe=False).missing(SENTENCES) == SENTENCES[2:]
    assert len(_warnings(capsys)) == 2  # chunk-a at load, chunk-b when the vectors came


def _keyed_chunk(path: Path, enc: HashEncoder, sentences: list[str], vectors) -> None:
    from bench.cache import sentence_key

    keys = np.frombuffer(b"".join(sentence_key(s) for s in sentences),
                         dtype=np.uint8).reshape(len(sentences), 20)
    np.savez(path, keys=keys, vectors=vectors, cache_key=np.array(enc.fingerprint),
             dim=np.array(vectors.shape[1]))


def test_a_chunk_with_non_finite_vectors_is_quarantined_not_an_error(tmp_path, capsys):
    enc = HashEncoder()
    folder = tmp_path / enc.fingerprint
    folder.mkdir()
    _keyed_chunk(folder / "chunk-good.npz", enc, SENTENCES[:3], enc.encode(SENTENCES[:3]))
    nan = enc.encode(SENTENCES[3:])
    nan[0, 0] = np.nan
    _keyed_chunk(folder / "chunk-nan.npz", enc, SENTENCES[3:], nan)
    assert _cache(tmp_path, enc).missing(SENTENCES) == SENTENCES[3:]
    warnings = _warnings(capsys)
    assert len(warnings) == 1 and "chunk-nan.npz" in warnings[0] and "non-finite" in warnings[0]
    assert (folder / "quarantine" / "chunk-nan.npz").exists()


def test_a_link_in_the_cache_folder_is_not_followed(tmp_path, capsys):
    enc = HashEncoder()
    folder = tmp_path / "cache" / enc.fingerprint
    folder.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere.npz"
    _keyed_chunk(elsewhere, enc, SENTENCES, np.ones((6, 8), np.float32))
    (folder / "chunk-link.npz").symlink_to(elsewhere)
    assert _cache(tmp_path / "cache", enc).missing(SENTENCES) == SENTENCES
    warnings = _warnings(capsys)
    assert len(warnings) == 1 and "chunk-link.npz" in warnings[0] and "link" in warnings[0]
    assert (folder / "quarantine" / "chunk-link.npz").is_symlink() and elsewhere.is_file()


class _Marker:
    """Unpickling this creates a file: proof that a chunk was unpickled."""

    path = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_a_chunk_holding_a_pickle_is_never_unpickled(tmp_path, capsys):
    enc = HashEncoder()
    folder = tmp_path / enc.fingerprint
    folder.mkdir()
    marker = _Marker()
    marker.path = str(tmp_path / "unpickled")
    evil = np.empty(1, dtype=object)
    evil[0] = marker
    from bench.cache import sentence_key

    np.savez(folder / "chunk-evil.npz", allow_pickle=True, vectors=evil,
             keys=np.frombuffer(sentence_key("x"), np.uint8).reshape(1, 20))
    assert _cache(tmp_path, enc).missing(["x"]) == ["x"]
    assert not (tmp_path / "unpickled").exists()
    warnings = _warnings(capsys)
    assert len(warnings) == 1 and "chunk-evil.npz" in warnings[0]


# --- in-memory models: the key covers everything that changes a vector ---------------------

def _st_modules():
    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:
        from sentence_transformers.models import Pooling, Transformer
    return Pooling, Transformer


def _tiny_st(tiny_bert: Path, pooling: str = "mean"):
    from sentence_transformers import SentenceTransformer

    Pooling, Transformer = _st_modules()
    return SentenceTransformer(modules=[Transformer(str(tiny_bert)), Pooling(32, pooling)],
                               device="cpu")


def _set_pooling(st, mode: str) -> None:
    """Switch the Pooling module's mode in place, as a user holding the object would."""
    pooling = st[1]
    if hasattr(pooling, "pooling_mode_mean_tokens"):  # sentence-transformers < 6
        pooling.pooling_mode_mean_tokens = mode == "mean"
        pooling.pooling_mode_cls_token = mode == "cls"
    else:
        pooling.pooling_mode = mode


def _fp(model, **kw) -> str:
    from bench.encoders.objects import wrap

    return wrap(model, **kw).fingerprint


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_sentence_transformer_key_covers_pooling_length_and_tokenizer(tiny_bert):
    a, b = _tiny_st(tiny_bert), _tiny_st(tiny_bert)
    assert _fp(a) == _fp(b)  # identical setups, loaded twice: one key
    _set_pooling(b, "cls")
    assert _fp(b) != _fp(a)
    _set_pooling(b, "mean")
    assert _fp(b) == _fp(a)
    b.max_seq_length = 16
    assert _fp(b) != _fp(a)
    c = _tiny_st(tiny_bert)
    c.tokenizer.add_tokens(["zzqxextra"])
    assert _fp(c) != _fp(a)


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_hf_model_key_covers_the_tokenizer_and_stays_put_after_encoding(tiny_bert):
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(tiny_bert)
    first = _fp(model, tokenizer=AutoTokenizer.from_pretrained(tiny_bert), pooler="avg")
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    from bench.encoders.objects import wrap

    wrap(model, tokenizer=tokenizer, pooler="avg", max_length=8).encode(["a long sentence " * 9])
    assert _fp(model, tokenizer=tokenizer, pooler="avg") == first  # calls change no key
    tokenizer.add_tokens(["zzqxextra"])
    assert _fp(model, tokenizer=tokenizer, pooler="avg") != first


@pytest.mark.slow  # over half a second: the fast loop stays under 40 s
def test_a_switched_pooling_never_gets_the_first_pooling_s_cached_vectors(tiny_bert, tmp_path):
    from bench.embed import encode_tasks
    from bench.encoders.objects import wrap

    sentences = {"t": [f"a sentence about {w}" for w in ("cats", "dogs", "rain", "tea")]}
    st = _tiny_st(tiny_bert)
    encode_tasks(wrap(st), sentences, cache_root=tmp_path, show_progress=False)
    _set_pooling(st, "cls")
    cached, _ = encode_tasks(wrap(st), sentences, cache_root=tmp_path, show_progress=False)
    fresh = st.encode(sentences["t"], convert_to_numpy=True)
    np.testing.assert_allclose(cached["t"].lookup(sentences["t"]), fresh, rtol=1e-6)
    assert not np.allclose(fresh, _tiny_st(tiny_bert).encode(sentences["t"]))  # CLS != mean


@pytest.mark.slow
def test_packaged_minilm_key_covers_pooling_and_is_deterministic():
    from sentence_transformers import SentenceTransformer

    from bench.encoders.packaged import packaged_path

    path = str(packaged_path("packaged:all-MiniLM-L6-v2"))
    a, b = SentenceTransformer(path, device="cpu"), SentenceTransformer(path, device="cpu")
    assert _fp(a) == _fp(b)
    _set_pooling(b, "cls")
    assert _fp(b) != _fp(a)


def test_a_planted_quarantine_link_moves_nothing_out_of_the_cache(tmp_path, capsys):
    enc = HashEncoder()
    folder = tmp_path / "cache" / enc.fingerprint
    folder.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / "quarantine").symlink_to(outside)
    _keyed_chunk(folder / "chunk-nan.npz", enc, SENTENCES, np.full((6, 8), np.nan, np.float32))
    assert _cache(tmp_path / "cache", enc).missing(SENTENCES) == SENTENCES
    assert list(outside.iterdir()) == [] and (folder / "chunk-nan.npz").exists()
    warnings = _warnings(capsys)
    assert len(warnings) == 1 and "could not move it aside (quarantine/ is a link)" in warnings[0]


def test_cache_info_counts_quarantined_chunks(tmp_path):
    from bench.cache_inventory import scan

    enc = HashEncoder()
    _cache(tmp_path, enc).put(SENTENCES[:2], enc.encode(SENTENCES[:2]))
    folder = tmp_path / enc.fingerprint
    _keyed_chunk(folder / "chunk-nan.npz", enc, SENTENCES, np.full((6, 8), np.nan, np.float32))
    _cache(tmp_path, enc).missing(SENTENCES)
    (entry,), _ = scan(tmp_path)
    assert (entry.chunks, entry.quarantined) == (1, 1)
