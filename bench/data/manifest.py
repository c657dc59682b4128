"""The sha256 manifest of SentEval's data, shipped in the package, and verification against it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bench.errors import DataError
from bench.fingerprint import sha256_file

MANIFEST = Path(__file__).with_name("manifest.tsv")


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the data folder (SentEval's downstream/)
    size: int
    sha256: str
    lines: int


@lru_cache(maxsize=1)
def load_manifest() -> dict[str, Entry]:
    entries = {}
    for lineno, line in enumerate(MANIFEST.read_text().splitlines(), start=1):
        cols = line.split("\t")
        if len(cols) != 4:
            raise DataError(f"{MANIFEST}:{lineno}: expected 4 columns")
        key = cols[0].removeprefix("downstream/")  # keys never depend on the folder's name
        entries[key] = Entry(key, int(cols[1]), cols[2], int(cols[3]))
    return entries


def relative_key(root: Path, path: Path) -> str:
    return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()


def checksums(root: Path, files: list[Path], verify: bool = True) -> dict[str, str]:
    """sha256 of each file, keyed relative to the data folder ``root``; with ``verify``, fail
    on a mismatch with the manifest."""
    manifest = load_manifest()
    out: dict[str, str] = {}
    for path in files:
        key = relative_key(root, path)
        digest = sha256_file(path)
        out[key] = digest
        expected = manifest.get(key)
        if verify and expected is not None and expected.sha256 != digest:
            raise DataError(f"checksum mismatch: {path} (sha256 {digest[:12]}..., manifest says "
                            f"{expected.sha256[:12]}...); re-download it or pass --skip-verify")
    return out


@dataclass(frozen=True)
class VerifyResult:
    ok: list[str]
    missing: list[str]
    mismatched: list[str]


def verify_all(root: Path) -> VerifyResult:
    ok, missing, bad = [], [], []
    for key, entry in load_manifest().items():
        path = root / key
        if not path.is_file():
            missing.append(key)
        elif sha256_file(path) != entry.sha256:
            bad.append(key)
        else:
            ok.append(key)
    return VerifyResult(ok, missing, bad)
