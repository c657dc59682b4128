"""``bench train simcse``: train SimCSE (unsupervised or supervised) into runs/NAME.

Settings come from, in increasing priority: TrainConfig's defaults (the reference
``train.py``), a recipe's ``[train]`` table (``--recipe``), and the command line. Under
``torchrun --nproc_per_node N`` the same command trains with DDP. ``--seeds 1,2,3`` trains
one run per seed, one after another, into runs/NAME/seed-N (see bench.train.rundir).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_text
from bench.devices import check_device
from bench.encoders.base import PRECISIONS
from bench.errors import BenchError
from bench.options import DATA, RunOptions
from bench.outputs import check_file
from bench.progress import count
from bench.recipes import load_recipes
from bench.resources import repo_root, resource_dir
from bench.seeding import check_seed, parse_seeds
from bench.train import rundir
from bench.train.config import TrainConfig
from bench.train.data import MODES
from bench.train.loss import SIMILARITIES
from bench.train.model import TRAIN_POOLERS
from bench.train.rundir import is_run_dir, seed_dir_name, write_seeds_file
from bench.train.trainer import train

# CLI destination -> TrainConfig field, for options whose names differ.
_RENAME = {"lr": "learning_rate", "quiet": "show_progress"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a sentence encoder (SimCSE)")
    tsub = p.add_subparsers(dest="method", metavar="METHOD", required=True)
    s = tsub.add_parser("simcse", help="SimCSE (Gao et al., 2021): unsupervised or supervised",
                        description="Contrastive training with in-batch negatives; run folder "
                        "runs/NAME is usable as --model in bench run.")
    s.add_argument("--recipe", help="training recipe in baselines/ with a [train] table "
                   "(e.g. simcse-unsup-minilm-cpu); options below override it")
    s.add_argument("--recipe-set", metavar="SET", help="train every recipe in baselines/SET/ "
                   "one after another (e.g. figure2-minilm-cpu); options below apply to each")
    s.add_argument("--mode", choices=MODES, help="unsup: one sentence per line, dropout as "
                   "noise; sup: CSV sent0,sent1[,hard_neg]")
    s.add_argument("--data", help="training file")
    s.add_argument("--backbone", help="hub id, local folder or packaged:all-MiniLM-L6-v2")
    s.add_argument("--name", help="run folder name under --runs-dir (default: the recipe name)")
    s.add_argument("--runs-dir", help="parent of run folders (default $BENCH_RUNS_DIR, else "
                   "runs); recipes' runs/NAME and bench run --model name such runs from there")
    s.add_argument("--pooler", choices=TRAIN_POOLERS,
                   help="cls = MLP over [CLS] (default); cls_before_pooler; avg; avg_first_last")
    s.add_argument("--mlp-only-train", action=argparse.BooleanOptionalAction, default=None,
                   help="drop the MLP at evaluation (default: yes for unsup, no for sup)")
    s.add_argument("--temperature", type=float, help="tau of Eq. 4 (default 0.05)")
    s.add_argument("--hard-negative-alpha", type=float,
                   help="alpha of Eq. 8, weight of the own hard negative (default 1)")
    s.add_argument("--mlm", action=argparse.BooleanOptionalAction, default=None,
                   help="add the auxiliary MLM loss (appendix A)")
    s.add_argument("--mlm-weight", type=float, help="lambda of the MLM loss (default 0.1)")
    s.add_argument("--mlm-probability", type=float, help="masking rate (default 0.15)")
    s.add_argument("--dropout", type=float, help="dropout rate p of the backbone (default: its "
                   "own, 0.1 for BERT); 0 disables the noise")
    s.add_argument("--fixed-dropout", action=argparse.BooleanOptionalAction, default=None,
                   help="Table 3 'fixed': the same dropout mask for both views (unsup)")
    s.add_argument("--positive", metavar="MAKER", help="how x+ is made (unsup): dropout "
                   "(default), crop:K, word-deletion:K, delete-one-word, synonym, mlm:K, "
                   "next-sentence, next-3-sentences (Tables 1 and 2)")
    s.add_argument("--positive-model", metavar="MODEL", help="masked LM for --positive mlm:K "
                   "(default: the backbone, if it has an MLM head)")
    s.add_argument("--dual-encoder", action=argparse.BooleanOptionalAction, default=None,
                   help="Table 2: two independent encoders for x and x+ (the run keeps x's)")
    s.add_argument("--similarity", choices=SIMILARITIES, help="cosine / tau (default) or dot "
                   "product without temperature (Table D.1 'N/A')")
    s.add_argument("--save-initial", action=argparse.BooleanOptionalAction, default=None,
                   help="also checkpoint step 0, the pre-trained start (Figure 2)")
    s.add_argument("--batch-size", type=int, help="per process (default 64)")
    s.add_argument("--lr", type=float, help="peak learning rate (default 3e-5)")
    s.add_argument("--max-length", type=int, help="max tokens per sentence (default 32)")
    s.add_argument("--epochs", type=int, help="default 1")
    s.add_argument("--max-steps", type=int, help="stop after N steps (overrides --epochs)")
    s.add_argument("--seed", type=int, help="default 42")
    s.add_argument("--seeds", help="comma-separated seeds (e.g. 1,2,3): one run per seed, one "
                   "after another, into runs/NAME/seed-N; 'bench run --model runs/NAME' then "
                   "evaluates them all")
    s.add_argument("--precision", choices=PRECISIONS, help="autocast: fp32 (default), bf16, fp16")
    s.add_argument("--device", help="cpu (default), cuda, cuda:N")
    s.add_argument("--max-grad-norm", type=float, help="gradient clipping (default 1.0)")
    s.add_argument("--eval-steps", type=int, help="STS-B dev every N steps; 0 = never (default "
                   "250)")
    s.add_argument("--save-steps", type=int, help="checkpoint every K steps (default 250)")
    s.add_argument("--log-steps", type=int, help="log the loss every N steps (default 10)")
    RunOptions.add_arguments(s, (DATA,))  # training's evaluation reads the same data
    s.add_argument("--resume", action="store_true", default=None,
                   help="continue runs/NAME from its last checkpoint")
    s.add_argument("--quiet", action="store_true", default=None, help="no progress bar")
    s.add_argument("--json", type=Path, help="also write the run summary here")
    s.set_defaults(func=main)


def _find_data(value: str) -> str:
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return str(path)
    root = repo_root()
    if root is not None and (root / path).exists():
        return str(root / path)
    return str(path)


def recipe_set(name: str) -> list[str]:
    """Names of the training recipes in baselines/NAME/ (one line if there is none)."""
    folder = resource_dir("baselines") / name
    recipes = load_recipes(folder) if folder.is_dir() else {}
    names = []
    for n, r in recipes.items():
        if "train" not in r.extra:
            continue
        if r.extra.get("skip"):  # a recipe this set cannot train here, with the reason
            print(f"bench: skipping {name}/{n}: {r.extra['skip']}", file=sys.stderr)
            continue
        names.append(n)
    if not names:
        raise BenchError(f"--recipe-set {name!r}: no folder baselines/{name}/ with training "
                         f"recipes")
    return [f"{name}/{n}" for n in names]


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Merge the recipe's [train] table with the options given on the command line.

    ``--recipe SET/NAME`` names a recipe in the sub-folder baselines/SET/.
    """

    merged: dict[str, Any] = {}
    if args.recipe:
        folder, _, _ = args.recipe.rpartition("/")
        recipes = {(f"{folder}/{n}" if folder else n): r for n, r in
                   load_recipes(resource_dir("baselines") / folder if folder else None).items()}
        if args.recipe not in recipes:
            raise BenchError(f"unknown recipe {args.recipe!r}; training recipes: "
                             f"{', '.join(n for n, r in recipes.items() if 'train' in r.extra)}")
        table = recipes[args.recipe].extra.get("train")
        if not isinstance(table, dict):
            raise BenchError(f"recipe {args.recipe!r} has no [train] table")
        unknown = sorted(set(table) - set(TrainConfig.keys()))
        if unknown:
            raise BenchError(f"{recipes[args.recipe].path}: unknown [train] key(s) "
                             f"{', '.join(unknown)}")
        merged.update(table)
        merged.setdefault("name", args.recipe.rpartition("/")[2])
        if "runs_dir" in table:  # runs/SET in a recipe set: SET under $BENCH_RUNS_DIR
            merged["runs_dir"] = str(rundir.recipe_run(str(table["runs_dir"])))
    for key, value in vars(args).items():
        if value is None or key in ("recipe", "recipe_set", "func", "command", "method",
                                    "json", "seeds"):
            continue
        field = _RENAME.get(key, key)
        merged[field] = (not value) if key == "quiet" else value
    merged.setdefault("runs_dir", str(rundir.runs_root()))
    missing = [k for k in ("mode", "data", "backbone", "name") if not merged.get(k)]
    if missing:
        raise BenchError(f"train simcse: missing {', '.join('--' + m for m in missing)} "
                         f"(or give --recipe)")
    merged["data"] = _find_data(str(merged["data"]))
    return merged


def _summary_line(summary: dict[str, Any]) -> str:
    best, first = summary["best"], summary["initial_stsb_dev_spearman"]
    line = f"trained {count(summary['steps'], 'step')} in {summary['wall_s']:.0f} s -> {summary['run_dir']}"
    if best["stsb_dev_spearman"] is not None:
        start = f"{100 * first:.2f} at step 0, " if first is not None else ""
        line += (f"; STS-B dev Spearman {start}best {100 * best['stsb_dev_spearman']:.2f} "
                 f"at step {best['step']}")
    return line


def seed_configs(merged: dict[str, Any], seeds: list[int], resume: bool) -> list[Any]:
    """One TrainConfig per seed under runs/NAME/seed-N, all checked before any training."""

    group = Path(merged.get("runs_dir") or "runs") / merged["name"]
    if is_run_dir(group):
        raise BenchError(f"{group} is a single-seed run folder; choose another --name for "
                         f"--seeds")
    configs = [TrainConfig(**{**merged, "runs_dir": str(group), "name": seed_dir_name(seed),
                              "seed": seed}) for seed in seeds]
    if not resume:
        taken = [str(group / c.name) for c in configs
                 if (group / c.name).exists() and any((group / c.name).iterdir())]
        if taken:
            raise BenchError(f"run folder(s) {', '.join(taken)} already exist; pass --resume "
                             f"to continue them or choose another --name")
    return configs


def set_configs(args: argparse.Namespace) -> list[Any]:
    """One TrainConfig per recipe of ``--recipe-set``, every one (settings and run folder)
    checked before the first trains."""

    if args.recipe or args.name:
        raise BenchError("--recipe-set trains each recipe under its own name; drop "
                         "--recipe / --name")
    configs = [TrainConfig(**settings(argparse.Namespace(**{**vars(args), "recipe": r})))
               for r in recipe_set(args.recipe_set)]
    for cfg in configs:
        run_dir = Path(cfg.runs_dir) / cfg.name
        if not cfg.resume and run_dir.is_dir() and any(run_dir.iterdir()):
            raise BenchError(f"run folder {run_dir} already exists; pass --resume to "
                             f"continue the set or remove it")
    return configs


def main(args: argparse.Namespace) -> int:

    if getattr(args, "device", None) is not None:
        check_device(args.device)
    seeds = None
    if getattr(args, "seeds", None) is not None:
        if getattr(args, "seed", None) is not None:
            raise BenchError("--seed and --seeds exclude each other; give the seeds in --seeds")
        if args.recipe_set:
            raise BenchError("--seeds and --recipe-set exclude each other; train the set's "
                             "recipes one by one with --recipe SET/NAME --seeds ...")
        seeds = parse_seeds(args.seeds)
    if getattr(args, "seed", None) is not None:
        check_seed(args.seed)
    if getattr(args, "json", None) is not None:
        check_file(args.json, "--json")
    prefixes: list[str] = []
    if args.recipe_set:
        configs = set_configs(args)
        prefixes = [f"{cfg.name}: " for cfg in configs]
    elif seeds is None:
        configs = [TrainConfig(**settings(args))]
    else:
        merged = settings(args)
        configs = seed_configs(merged, seeds, bool(merged.get("resume")))
        group = Path(configs[0].runs_dir)
        if int(os.environ.get("RANK", "0")) == 0:
            shared = {k: v for k, v in configs[0].identity().items() if k not in ("name", "seed")}
            write_seeds_file(group, seeds, shared)
        prefixes = [f"seed {cfg.seed}: " for cfg in configs]
    summaries = []
    for i, cfg in enumerate(configs):
        summaries.append(train(cfg))
        if summaries[-1]["rank"] == 0:
            print((prefixes[i] if prefixes else "") + _summary_line(summaries[-1]), flush=True)
    if summaries[-1]["rank"] != 0:
        return 0
    if args.json:

        kept = [{k: v for k, v in s.items() if k != "step_times"} for s in summaries]
        payload: Any = kept[0] if len(kept) == 1 and seeds is None else {"runs": kept}
        if seeds is not None:
            payload["seeds"] = seeds
        atomic_write_text(args.json, json.dumps(payload, indent=2) + "\n")
    return 0
