"""``bench cache where | info | prune``: where the embedding cache is, what it holds, clean-up.

``prune`` is a dry run unless ``--yes`` is given; it only ever deletes bench's own entries
(``<fingerprint>/`` folders and ``_postprocessors/<key>.npz``) directly under the cache root.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.cache import ENV_VAR, default_cache_root
from bench.cache_inventory import Entry, human_size, remove, scan, select
from bench.errors import BenchError
from bench.fingerprint import digest_memo_path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="locate, inspect or prune the embedding cache")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    where = csub.add_parser("where", help="print the cache folder bench would use, and why")
    info = csub.add_parser("info", help="list every cache entry: model, size, last use, status")
    prune = csub.add_parser(
        "prune", help="remove weight-blind, empty or unused entries (dry run unless --yes)",
        description="Selects entries whose key ignores the weights (written before key scheme "
                    "2), empty folders, and with --unused-days those not used for that many "
                    "days. Lists them with sizes; deletes only with --yes.")
    for p_ in (where, info, prune):
        p_.add_argument("--cache-dir", help=f"cache root (default ${ENV_VAR} or "
                        f"~/.cache/bench/embeddings)")
    prune.add_argument("--unused-days", type=_non_negative, metavar="N",
                       help="also select entries not used for N days or more")
    prune.add_argument("--all", action="store_true", dest="everything",
                       help="select every entry (clears the cache)")
    mode = prune.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="only list (the default)")
    mode.add_argument("--yes", action="store_true", help="delete the selected entries")
    where.set_defaults(func=_where)
    info.set_defaults(func=_info)
    prune.set_defaults(func=_prune)


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _root(args: argparse.Namespace) -> tuple[Path, str]:
    if args.cache_dir:
        root, source = Path(args.cache_dir).expanduser(), "--cache-dir"
    else:
        root, source = default_cache_root(), f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "default"
    if root.exists() and not root.is_dir():
        raise BenchError(f"cache root {root} (from {source}) is not a folder")
    return root, source


def _where(args: argparse.Namespace) -> int:
    root, source = _root(args)
    print(f"{root}  (from {source}; {'exists' if root.is_dir() else 'not created yet'})")
    print(f"order: --cache-dir, then ${ENV_VAR}, then ~/.cache/bench/embeddings")
    return 0


def _day(t: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(t))


def _table(entries: list[Entry], title: str, reasons: bool) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("key", "kind", "model", "size", "last used", "reason" if reasons else "status"):
        table.add_column(col, justify="right" if col == "size" else "left")
    for e in entries:
        status = e.status if e.key_scheme is None else f"{e.status}, scheme {e.key_scheme}"
        if e.quarantined:
            status += f", {e.quarantined} quarantined"
        table.add_row(e.key[:12], e.kind, e.model, human_size(e.size), _day(e.last_used),
                      "; ".join(e.reasons) if reasons else status)
    return table


def _info(args: argparse.Namespace) -> int:
    root, source = _root(args)
    console = Console()
    entries, foreign = scan(root)
    if not entries:
        console.print(f"no cache entries in {root} (from {source})")
    else:
        console.print(_table(entries, f"embedding cache {root} (from {source})", reasons=False))
        console.print(f"{len(entries)} entries, {human_size(sum(e.size for e in entries))}")
    if foreign:
        console.print(f"{len(foreign)} other path(s) under the root, not bench's: left alone")
    memo = digest_memo_path()
    if memo.is_file():
        console.print(f"file-digest memo: {memo} ({human_size(memo.stat().st_size)})")
    return 0


def _prune(args: argparse.Namespace) -> int:
    root, source = _root(args)
    console = Console()
    entries, _ = scan(root)
    chosen = select(entries, unused_days=args.unused_days, everything=args.everything)
    if not chosen:
        console.print(f"nothing to prune in {root} (from {source}; {len(entries)} kept)")
        return 0
    total = human_size(sum(e.size for e in chosen))
    verb = "removing" if args.yes else "would remove"
    console.print(_table(chosen, f"{verb} from {root} (from {source})", reasons=True))
    if not args.yes:
        console.print(f"dry run: {len(chosen)} of {len(entries)} entries, {total}; "
                      f"pass --yes to delete them")
        return 0
    for e in chosen:
        remove(e, root)
    console.print(f"removed {len(chosen)} of {len(entries)} entries, freed {total}")
    return 0
