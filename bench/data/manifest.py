"""The sha256 manifest of SentEval's data, shipped in the package, and verification against it.

Keys are paths relative to the ``downstream`` folder itself (``STS/STS12-en-test/...``), so
verification does not depend on what the user called that folder or its parent. The shipped
file spells them with a ``downstream/`` prefix (the archive's layout); ``data_key`` strips it,
and is the one place that knows about it (reports written before this change use it too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bench.errors import DataError
from bench.fingerprint import sha256_file

MANIFEST = Path(__file__).with_name("manifest.tsv")
ARCHIVE_PREFIX = "downstream/"

# Per-file verification status, as written in a report's ``data.status``.
# Digests are always computed and compared; ``verify`` only decides whether a mismatch stops
# the run (--skip-verify lets it go on, and the report says "mismatch").
VERIFIED = "verified"           # sha256 matches the manifest
UNKNOWN = "unverified-unknown"  # the manifest has no entry for this file
MISMATCH = "mismatch"           # differs from the manifest (only with --skip-verify)


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the downstream folder
    size: int
    sha256: str
    lines: int


def data_key(key: str) -> str:
    """A manifest or report key without the archive's ``downstream/`` prefix."""
    return key[len(ARCHIVE_PREFIX):] if key.startswith(ARCHIVE_PREFIX) else key


SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _manifest_key(raw: str, lineno: int) -> str:
    """A manifest path, checked: relative, no ``..``, so ``downstream / key`` stays inside."""
    key = data_key(raw)
    parts = key.split("/")
    if key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
        raise DataError(f"{MANIFEST}:{lineno}: path {raw!r} is not a plain relative path "
                        f"inside the data folder")
    return key


@lru_cache(maxsize=1)
def load_manifest() -> dict[str, Entry]:
    entries = {}
    for lineno, line in enumerate(MANIFEST.read_text().splitlines(), start=1):
        cols = line.split("\t")
        if len(cols) != 4:
            raise DataError(f"{MANIFEST}:{lineno}: expected 4 columns")
        key = _manifest_key(cols[0], lineno)
        if not SHA256.match(cols[2]) or not (cols[1].isdigit() and cols[3].isdigit()):
            raise DataError(f"{MANIFEST}:{lineno}: expected path, size, sha256 (64 hex digits) "
                            f"and line count")
        entries[key] = Entry(key, int(cols[1]), cols[2], int(cols[3]))
    return entries


def relative_key(downstream: Path, path: Path) -> str:
    """The manifest key of ``path``: its path relative to the ``downstream`` folder."""
    return Path(path).resolve().relative_to(Path(downstream).resolve()).as_posix()


@dataclass(frozen=True)
class Checksums:
    """What a run learnt about the files it read: digest and verification status per file."""

    sha256: dict[str, str]
    status: dict[str, str]

    @property
    def verified(self) -> bool:
        """True only when every file read was compared with the manifest and matched."""
        return bool(self.status) and all(s == VERIFIED for s in self.status.values())


def checksums(downstream: Path, files: list[Path], verify: bool = True,
              read: Mapping[Path, str] | None = None) -> Checksums:
    """sha256 of each file (keyed relative to ``downstream``); with ``verify``, fail on a
    mismatch. A file the manifest does not know is marked unverified, never verified.

    ``read``: the digests of the bytes the readers parsed (``bench.data.reading``); a file
    found there is judged by those bytes, not by what is on disk now."""
    manifest = load_manifest()
    sums: dict[str, str] = {}
    status: dict[str, str] = {}
    for path in files:
        key = relative_key(downstream, path)
        digest = (read or {}).get(Path(path).resolve()) or sha256_file(path)
        sums[key] = digest
        expected = manifest.get(key)
        if expected is None:
            status[key] = UNKNOWN
        elif expected.sha256 == digest:
            status[key] = VERIFIED
        elif verify:
            raise DataError(f"checksum mismatch: {path} (sha256 {digest[:12]}..., manifest says "
                            f"{expected.sha256[:12]}...); re-download it or pass --skip-verify")
        else:
            status[key] = MISMATCH
    return Checksums(sums, status)


@dataclass(frozen=True)
class VerifyResult:
    ok: list[str]
    missing: list[str]
    mismatched: list[str]


def verify_all(downstream: Path) -> VerifyResult:
    """Compare every manifest entry with the file under ``downstream`` (any folder name)."""
    ok, missing, bad = [], [], []
    for key, entry in load_manifest().items():
        path = downstream / key
        if not path.is_file():
            missing.append(key)
        elif sha256_file(path) != entry.sha256:
            bad.append(key)
        else:
            ok.append(key)
    return VerifyResult(ok, missing, bad)
