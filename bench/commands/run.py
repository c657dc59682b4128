"""``bench run``: evaluate one model under one or more protocols and write a report."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.api import evaluate
from bench.commands.common import (
    add_data_options,
    add_encoding_options,
    add_model_options,
    add_task_file_options,
    split_list,
)
from bench.errors import warn
from bench.outputs import check_file, check_folder
from bench.pathsafe import check_not_input
from bench.protocols import CLASSIFIERS, CONFIGS, REGRESSOR_SELECTIONS
from bench.render import footer_lines, print_table, report_tables
from bench.reports import DEFAULT_RUNS_FOLDER, save
from bench.validation import check_run_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="evaluate a model (STS under any protocol)",
                       description="Encode every sentence the tasks need once, score them under "
                       "each protocol, print the paper-style table and write a JSON report.")
    add_model_options(p)
    p.add_argument("--protocol", default="simcse",
                   help="preset (bench list protocols), spelled form such as all-spearman or "
                   "wmean-pearson, 'every' (all 12 combinations), 'every-cosine' (the 6 without "
                   "a regressor), or a comma-separated list (default simcse)")
    p.add_argument("--tasks", nargs="+", default=None,
                   help="task sets (sts = STS12-16, STS-B, SICK-R; transfer = MR, CR, SUBJ, "
                   "MPQA, SST2, TREC, MRPC; user = the task files' tasks; every = all) or task "
                   "names (default: the --task-file tasks if any, else the tasks of a preset "
                   "that lists them, such as mteb, else sts)")
    add_task_file_options(p)
    add_encoding_options(p)
    p.add_argument("--transfer-config", choices=sorted(CONFIGS), default=None,
                   help="SentEval classifier setting for transfer tasks: test (kfold 10, adam, "
                   "batch 64, tenacity 5, epoch_size 4; the literature's) or fasttest (kfold 5, "
                   "rmsprop, batch 128, tenacity 3, epoch_size 2) (default test)")
    p.add_argument("--classifier", choices=CLASSIFIERS, default=None,
                   help="transfer classifier: torch logistic regression (SentEval's usepytorch) "
                   "or scikit-learn LogisticRegression (default torch)")
    p.add_argument("--transfer-protocol", default=None,
                   help="the two above (and the seed) at once: senteval (SentEval's default, "
                   "as in SimCSE Table E.1), senteval-fasttest, senteval-sklearn, "
                   "senteval-fasttest-sklearn (recorded in the report either way)")
    p.add_argument("--jobs", type=int, default=None,
                   help="transfer tasks fitted at once, in threads (default: one per CPU core "
                   "on CPU, 1 on a GPU); results do not depend on it")
    p.add_argument("--regressor-selection", choices=REGRESSOR_SELECTIONS, default="pearson",
                   help="dev metric that selects the STS-B/SICK-R regressor (-reg protocols): "
                   "pearson = upstream SentEval, spearman = SimCSE's fork (default pearson)")
    p.add_argument("--regressor-label-fix", action="store_true",
                   help="map STS-B scores onto [1, 5] before the soft-label encoding instead of "
                   "reproducing SentEval's encoding of scores below 1")
    add_data_options(p)
    p.add_argument("--seed", type=int, default=None, help="default 1111 (SentEval's)")
    p.add_argument("--out", type=Path, help="report path (default reports/runs/<model>-<time>.json)")
    p.add_argument("--no-report", action="store_true", help="print the table only")
    p.add_argument("--skip-verify", action="store_true",
                   help="do not fail when a data file's sha256 differs from the manifest")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    check_run_options(batch_size=args.batch_size, max_length=args.max_length, jobs=args.jobs,
                      precision=args.precision, dtype=args.dtype, seed=args.seed,
                      regressor_selection=args.regressor_selection,
                      transfer_config=args.transfer_config, classifier=args.classifier,
                      cli=True)
    if not args.no_report:  # before encoding: a result computed for nothing is worse
        if args.out is not None:
            inputs = [*args.task_file, *([args.model] if Path(args.model).is_file() else [])]
            check_not_input(args.out, inputs, "--out")  # a task file, a GloVe .txt
            check_file(args.out, "--out")
        else:
            check_folder(DEFAULT_RUNS_FOLDER, "reports folder")
    if args.skip_verify:
        warn("--skip-verify: a data file that differs from the manifest does not stop the run "
             "(the report marks it)")
    report = evaluate(
        args.model, tasks=split_list(args.tasks) if args.tasks else None,
        task_files=args.task_file, tasks_dir=args.tasks_dir, prompt=args.prompt,
        prompt_a=args.prompt_a, prompt_b=args.prompt_b, prompt_name=args.prompt_name,
        max_length=args.max_length, dtype=args.dtype, protocols=args.protocol,
        pooler=args.pooler, data_dir=args.data_dir, cache_dir=args.cache_dir,
        use_cache=not args.no_cache, batch_size=args.batch_size, device=args.device,
        precision=args.precision, seed=args.seed, verify_data=not args.skip_verify,
        show_progress=not args.quiet, transfer_config=args.transfer_config,
        classifier=args.classifier, transfer_protocol=args.transfer_protocol,
        regressor_selection=args.regressor_selection,
        regressor_label_fix=args.regressor_label_fix, jobs=args.jobs)
    if report is None:  # a sharded run's other ranks: rank 0 prints and writes
        return 0
    for table in report_tables(report, args.model):
        print_table(table)
    for line in footer_lines(report):
        print(line)
    if not args.no_report:
        path = save(report, args.out, args.model)
        print(f"report: {path}")
    return 0
