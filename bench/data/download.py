"""Fetch SentEval's preprocessed data for users with internet, verify it, install it atomically.

The archive is the one SimCSE's download script uses (SentEval's ``downstream`` folder,
already Moses-tokenized and lower-cased by SentEval's own preparation script). It is
unpacked into a temporary sibling folder and renamed into place only once every file in
the manifest has the right sha256, so an interrupted download leaves nothing half-made.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from bench.data.manifest import verify_all
from bench.errors import DataError
from bench.progress import progress_bar

SENTEVAL_ARCHIVE_URL = (
    "https://huggingface.co/datasets/princeton-nlp/datasets-for-simcse/resolve/main/senteval.tar"
)


def _fetch(url: str, dest: Path, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            with progress_bar("downloading SentEval data", total=total or 1) as advance:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    advance(len(block))
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"cannot download {url}: {reason} (no internet? copy the SentEval "
                        f"'downstream' folder by hand and pass --data-dir)") from None


def _find_downstream(folder: Path) -> Path:
    for candidate in [folder / "downstream", *folder.glob("**/downstream")]:
        if (candidate / "STS").is_dir():
            return candidate
    raise DataError("the downloaded archive has no 'downstream/STS' folder")


def download(target_root: Path, url: str = SENTEVAL_ARCHIVE_URL, timeout: float = 30.0,
             force: bool = False, verify: bool = True) -> tuple[Path, list[str]]:
    """Install ``<target_root>/downstream``; returns its path and the files whose sha256
    differs from the manifest (empty unless ``verify`` is off)."""
    final = target_root / "downstream"
    if final.is_dir() and not force:
        raise DataError(f"{final} already exists; pass --force to replace it")
    target_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_root, prefix=".download-") as tmp:
        tmp_path = Path(tmp)
        archive = tmp_path / "senteval.tar"
        _fetch(url, archive, timeout)
        unpack = tmp_path / "unpacked"
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(unpack, filter="data")
        except tarfile.TarError as exc:
            raise DataError(f"{url}: not a readable tar archive ({exc})") from None
        downstream = _find_downstream(unpack)
        staged = tmp_path / "staged"
        staged.mkdir()
        shutil.move(str(downstream), staged / "downstream")
        result = verify_all(staged / "downstream")
        if result.mismatched and verify:
            raise DataError(f"downloaded data fails its checksum: {result.mismatched[0]} "
                            f"(and {len(result.mismatched) - 1} more)")
        if final.exists():
            shutil.rmtree(final)
        (staged / "downstream").rename(final)
    return final, result.mismatched
