"""``bench data where | verify | download``: find, check and fetch SentEval's data."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from bench.commands.common import add_data_options
from bench.data.download import SENTEVAL_ARCHIVE_URL, download
from bench.data.locate import ENV_VAR, candidate, default_data_root, locate
from bench.data.manifest import load_manifest, verify_all
from bench.errors import DataError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="locate, verify or download the SentEval data")
    dsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    where = dsub.add_parser("where", help="print the data folder bench would use, and why")
    add_data_options(where)
    where.set_defaults(func=_where)
    verify = dsub.add_parser("verify", help="check every file against the shipped sha256 manifest")
    add_data_options(verify)
    verify.set_defaults(func=_verify)
    dl = dsub.add_parser("download", help="fetch the public SentEval data (needs internet)")
    dl.add_argument("--to", type=Path, default=None,
                    help=f"folder to install 'downstream/' into (default {default_data_root()})")
    dl.add_argument("--url", default=SENTEVAL_ARCHIVE_URL)
    dl.add_argument("--force", action="store_true", help="replace an existing copy")
    dl.add_argument("--skip-verify", action="store_true",
                    help="install even if files differ from the manifest (they are listed)")
    dl.set_defaults(func=_download)


def _where(args: argparse.Namespace) -> int:
    loc = candidate(args.data_dir)
    status = "exists" if loc.downstream.is_dir() else "MISSING"
    print(f"{loc.downstream}  (from {loc.source}; {status})")
    print(f"order: --data-dir, then ${ENV_VAR}, then {default_data_root()}")
    return 0 if loc.downstream.is_dir() else 1


def _verify(args: argparse.Namespace) -> int:
    loc = locate(args.data_dir)
    result = verify_all(loc.downstream)
    console = Console(soft_wrap=True)  # piped: one line per file, paths never wrapped
    total = len(load_manifest())
    for key in result.missing:
        console.print(f"[red]missing[/red]   {loc.downstream / key}")
    for key in result.mismatched:
        console.print(f"[red]mismatch[/red]  {loc.downstream / key}")
    console.print(f"{len(result.ok)}/{total} files verified in {loc.downstream}")
    if result.missing or result.mismatched:
        raise DataError(f"{len(result.missing)} missing and {len(result.mismatched)} corrupt "
                        f"file(s) in {loc.downstream}")
    return 0


def _download(args: argparse.Namespace) -> int:
    final, mismatched = download(args.to or default_data_root(), url=args.url, force=args.force,
                                 verify=not args.skip_verify)
    for key in mismatched:
        print(f"warning: sha256 differs from the manifest: {key}")
    print(f"installed: {final}" + ("" if mismatched else " (every file verified)"))
    return 0
