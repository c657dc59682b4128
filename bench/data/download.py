"""Fetch SentEval's preprocessed data for users with internet, verify it, install it atomically.

The archive is the one SimCSE's download script uses (SentEval's ``downstream`` folder,
already Moses-tokenized and lower-cased by SentEval's own preparation script). It is
unpacked into a temporary sibling folder and renamed into place only once every file in
the manifest is there with the right sha256, so an interrupted download or an incomplete
archive leaves nothing half-made, and an existing copy stays as it was.

The archive is someone else's file: only regular files and folders are unpacked, and none
outside the temporary folder (tarfile's ``data`` filter refuses absolute paths, ``..`` and
links leading out; links of any kind are refused before that, SentEval's archive has none).
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from bench.data.manifest import VerifyResult, verify_all
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


def _unpack(archive: Path, dest: Path, url: str) -> None:
    """Extract ``archive`` into ``dest``; a member that is no plain file or folder, or that
    would land outside ``dest``, refuses the whole archive before anything is written."""
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                if not (member.isfile() or member.isdir()):
                    kind = "link" if member.issym() or member.islnk() else "special file"
                    raise DataError(f"{url}: refusing the archive: member {member.name!r} is "
                                    f"a {kind}, not a plain file")
                if member.name.startswith(("/", "\\")) or ".." in member.name.split("/"):
                    raise DataError(f"{url}: refusing the archive: member {member.name!r} has "
                                    f"an absolute path or '..' (would land outside the "
                                    f"destination)")
                tarfile.data_filter(member, str(dest))  # and tarfile's own checks
            tar.extractall(dest, members=members, filter="data")
    except tarfile.FilterError as exc:
        raise DataError(f"{url}: refusing the archive: {exc}") from None
    except tarfile.TarError as exc:
        raise DataError(f"{url}: not a readable tar archive ({exc})") from None


def _check_complete(result: VerifyResult, verify: bool) -> None:
    """Every manifest file must be there; with ``verify``, with its sha256."""
    total = len(result.ok) + len(result.missing) + len(result.mismatched)
    if result.missing:
        raise DataError(f"the downloaded archive is incomplete: {len(result.missing)} of "
                        f"{total} manifest files missing (first: {result.missing[0]}); "
                        f"nothing was installed")
    if result.mismatched and verify:
        raise DataError(f"downloaded data fails its checksum: {result.mismatched[0]} "
                        f"(and {len(result.mismatched) - 1} more); nothing was installed")


def _install(staged: Path, final: Path, trash: Path) -> None:
    """Put ``staged`` at ``final``: an existing copy is renamed away first and deleted only
    once the new one is in place (one folder is there at every moment but the two renames)."""
    if final.is_symlink() or final.is_file():
        raise DataError(f"{final} is a link or a file, not a folder; remove it by hand")
    if final.exists():
        final.rename(trash)
    try:
        staged.rename(final)
    except OSError as exc:
        if trash.exists():  # put the old copy back rather than lose it with the temporary
            trash.rename(final)
        raise DataError(f"cannot install into {final}: {exc.strerror or exc}") from None
    if trash.exists():
        shutil.rmtree(trash)


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
        _unpack(archive, unpack, url)
        downstream = _find_downstream(unpack)
        staged = tmp_path / "staged"
        staged.mkdir()
        shutil.move(str(downstream), staged / "downstream")
        result = verify_all(staged / "downstream")
        _check_complete(result, verify)
        _install(staged / "downstream", final, tmp_path / "replaced")
    return final, result.mismatched
