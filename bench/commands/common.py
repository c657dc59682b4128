"""Options shared by several sub-commands (data location, model, device)."""

from __future__ import annotations

import argparse

from bench.encoders.base import PRECISIONS
from bench.encoders.pooling import POOLERS

DTYPE_CHOICES = PRECISIONS  # fp32, bf16, fp16: the same names for load dtype and autocast


def add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="SentEval data: the 'downstream' folder or its parent "
                   "(default: $BENCH_DATA_DIR, then ~/.cache/bench/senteval)")


def add_encoding_options(p: argparse.ArgumentParser) -> None:
    """Prompts, truncation and load dtype: part of the encoder's spec (and cache key)."""
    p.add_argument("--prompt", metavar="TEXT",
                   help="text put before every sentence, both sides, every task family (e5: "
                   "'query: '); replaces a recipe's prompts")
    p.add_argument("--prompt-a", metavar="TEXT", help="prompt of the first sentence of a pair "
                   "(overrides --prompt for that side)")
    p.add_argument("--prompt-b", metavar="TEXT", help="prompt of the second sentence of a pair")
    p.add_argument("--prompt-name", metavar="NAME",
                   help="a sentence-transformers model's own named prompt (its prompts in "
                   "config_sentence_transformers.json)")
    p.add_argument("--max-length", type=int, metavar="TOKENS",
                   help="truncate inputs to this many tokens (transformer and "
                   "sentence-transformers models; default: the recipe's, else the model's own "
                   "limit, recorded in the report's model.extra.truncation)")
    p.add_argument("--dtype", choices=DTYPE_CHOICES,
                   help="dtype the weights are loaded in (default: the recipe's, else fp32); "
                   "--precision is the autocast precision, recorded apart")


def add_task_file_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task-file", action="append", default=[], metavar="TOML",
                   help="an STS task file declaring your own data (format: README, 'Your own "
                   "STS data'); repeatable")
    p.add_argument("--tasks-dir", metavar="DIR",
                   help="a folder of task files whose tasks --tasks can name (default "
                   "$BENCH_TASKS_DIR)")


def add_model_options(p: argparse.ArgumentParser, multiple: bool = False) -> None:
    if multiple:
        p.add_argument("--model", action="append", required=True,
                       help="recipe name (bench list models), local path, or hub id; repeatable")
    else:
        p.add_argument("--model", required=True,
                       help="recipe name (bench list models), local path, or hub id")
    p.add_argument("--pooler", choices=POOLERS,
                   help="pooler for a path or hub id (overrides a recipe's)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu)")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS,
                   help="autocast precision for transformer encoders (default fp32)")
    p.add_argument("--batch-size", type=int, default=64, help="encoding batch size (default 64)")
    p.add_argument("--cache-dir", help="embedding cache (default $BENCH_CACHE_DIR or "
                   "~/.cache/bench/embeddings)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")


def split_list(values: list[str]) -> list[str]:
    """Accept both ``--tasks a b`` and ``--tasks a,b``."""
    return [v for item in values for v in item.split(",") if v]
