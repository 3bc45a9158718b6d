"""``ssmtl search``: the Optuna search of t and lambda (section 4.2). Optuna, torch and
MLflow are imported by the handler, so building the parser stays cheap."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.cli.args import (
    EXIT_BAD_INPUT,
    add_dataset_arguments,
    add_precision_argument,
    comma_floats,
    comma_ints,
    dataset_from,
    ranged,
)
from bench.cli.output import add_json_argument, emit
from bench.paper import ARCHITECTURE_NAMES, EPOCHS, LAMBDA_GRID, LEARNING_RATE, T_GRID, TASKS
from bench.suite.search_config import DEFAULT_STORAGE, OBJECTIVES, PRUNERS, SAMPLERS, SearchConfig

SEARCH_DESCRIPTION = """\
Optuna search of t and lambda (paper section 4.2), one study per dataset.

Each trial trains an SSMTL model with one (t, lambda) on the training tube cache of that t
(built once under --tubes-root, reused by every trial and rerun) and returns its validation
objective; test labels are never read. The default is the paper's procedure: the grid
t in {1,2,3,4} x lambda in {0.1,0.2,0.5,1.0} (16 trials), the validation joint loss of eq. (5),
30 epochs with the architecture's paper batch size. The paper reports t = 3 with lambda = 0.5 on
Ped2 and 0.2 on Avenue/ShanghaiTech.

Caveat: the joint loss shrinks with lambda by construction (lambda multiplies L4 >= 0), so it
favours the grid's smallest lambda whatever the model learns; --objective unweighted scores
every trial with lambda = 1 at validation, a criterion on which lambdas can be compared.

Not in the paper: --sampler tpe (lambda log-uniform in [0.05, 1]), median pruning (never in a
trial's first epoch), --frame-stride and --epochs to shrink a trial on a CPU (recorded in the
output's profile). One MLflow parent run per study, one child run per trial.
"""

SEARCH_EPILOG = """\
The study lives in --storage (default the SQLite file artifacts/search/optuna.db): interrupt the
command at any point and run it again to resume; finished trials are kept, a killed trial is
run again. A study made with another grid, objective or training profile is refused: give
another --study-name. Several machines: point them at one server database (e.g.
postgresql://user@host/db, the password in ~/.pgpass) with --heartbeat 60: each grid point is
trained once, a worker waits for the others' trials and takes one up if its worker dies.
Output: the best t and lambda, the paper's, every trial (JSON, default metrics/search.json).
Exit code 2 on bad input.
"""


def add_commands(commands: argparse._SubParsersAction) -> None:
    add_search_command(commands)


# --- ssmtl search (section 4.2) ------------------------------------------------------------------


def _csv(values: tuple) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def add_search_command(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser(
        "search",
        help="Optuna search of t and lambda on the validation joint loss (section 4.2), resumable",
        description=SEARCH_DESCRIPTION,
        epilog=SEARCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dataset_arguments(search)
    arg = search.add_argument
    arg(
        "--detections",
        required=True,
        type=Path,
        help="training detections (.npz, ssmtl detect --split train)",
    )
    arg(
        "--teachers",
        type=Path,
        help="training distillation targets (.npy); required with the distill task",
    )
    arg(
        "--tubes-root",
        type=Path,
        help="folder of the per-t training tube caches (default artifacts/search/tubes/NAME)",
    )
    arg(
        "--t-values",
        type=comma_ints,
        default=T_GRID,
        help=f"comma list of t (default the paper's: {_csv(T_GRID)})",
    )
    arg(
        "--lams",
        type=comma_floats,
        default=LAMBDA_GRID,
        help=f"grid: comma list of lambda (default the paper's: {_csv(LAMBDA_GRID)})",
    )
    arg(
        "--sampler",
        choices=SAMPLERS,
        default="grid",
        help="grid (default): the paper's grid; tpe: TPE, lambda log-uniform in [0.05, 1]",
    )
    arg(
        "--trials",
        type=ranged(int, 1),
        default=16,
        help="tpe only: trials in the study (default 16)",
    )
    arg(
        "--objective",
        choices=OBJECTIVES,
        default="normalized",
        help="normalized (default): each task's validation loss over its loss at chance, "
        "averaged, independent of lambda; joint: eq. (5) on validation, the paper's words, "
        "favours small lambda by construction; unweighted: lambda = 1 at validation",
    )
    arg(
        "--storage",
        default=DEFAULT_STORAGE,
        help=f"Optuna storage URL (default {DEFAULT_STORAGE}; e.g. postgresql://user@host/db "
        "for several machines)",
    )
    arg("--study-name", help="default ssmtl-NAME")
    arg(
        "--heartbeat",
        type=ranged(int, 0),
        default=0,
        help="seconds; >0 with several workers on one storage (default 0: one worker)",
    )
    arg(
        "--arch",
        choices=sorted(ARCHITECTURE_NAMES),
        default="shallow_narrow",
        help="default shallow_narrow",
    )
    arg(
        "--tasks",
        default=",".join(TASKS),
        help="comma-separated subset of arrow,motion,middle,distill (default all four)",
    )
    arg(
        "--epochs",
        type=ranged(int, 1),
        default=EPOCHS,
        help=f"per trial (default the paper's {EPOCHS})",
    )
    arg(
        "--batch-size",
        type=ranged(int, 0),
        default=0,
        help="objects per batch; 0 (default) = the paper's for the architecture",
    )
    arg(
        "--lr",
        type=ranged(float, 0),
        default=LEARNING_RATE,
        help=f"Adam learning rate (default the paper's {LEARNING_RATE:g})",
    )
    arg(
        "--seed",
        type=int,
        default=0,
        help="training seed and seed of the intermittent sequences (default 0)",
    )
    arg("--device", default="auto", help="default auto: cuda when available")
    add_precision_argument(search)
    arg(
        "--frame-stride",
        type=ranged(int, 1),
        default=1,
        help="train on the objects of every N-th frame (CPU profile; default 1, the paper's)",
    )
    arg("--pruner", choices=PRUNERS, default="median", help="default median")
    arg(
        "--pruner-startup",
        type=ranged(int, 0),
        default=5,
        help="MedianPruner: finished trials before pruning (default 5)",
    )
    arg(
        "--pruner-warmup",
        type=ranged(int, 0),
        default=1,
        help="MedianPruner: first epochs of a trial that are never pruned (default 1)",
    )
    arg("--experiment", default="ssmtl-search", help="MLflow experiment (default ssmtl-search)")
    arg(
        "--out",
        type=Path,
        default=Path("metrics/search.json"),
        help="output JSON, the best t and lambda (default metrics/search.json)",
    )
    add_json_argument(search)
    search.set_defaults(func=cmd_search)


def cmd_search(args: argparse.Namespace) -> int:
    import optuna

    from bench.data import DatasetError
    from bench.suite.search import run_search
    from bench.tubes import TubeCacheError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        config = SearchConfig(
            t_values=args.t_values,
            lams=args.lams,
            sampler=args.sampler,
            n_trials=args.trials,
            objective=args.objective,
            storage=args.storage,
            study_name=args.study_name,
            pruner=args.pruner,
            pruner_startup=args.pruner_startup,
            pruner_warmup=args.pruner_warmup,
            heartbeat=args.heartbeat,
            arch=args.arch,
            tasks=tuple(x.strip() for x in args.tasks.split(",") if x.strip()),
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
            precision=args.precision,
            frame_stride=args.frame_stride,
        )
        dataset = dataset_from(args)
        tubes_root = args.tubes_root or Path("artifacts/search/tubes") / args.name
        summary = run_search(
            dataset,
            args.detections,
            args.teachers,
            tubes_root,
            config,
            args.out,
            experiment=args.experiment,
        )
    except (DatasetError, ValueError, FileNotFoundError, TubeCacheError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    best, paper = summary["best"], summary["paper"]
    emit(
        args,
        summary,
        f"best t={best['t']} lambda={best['lam']:g} ({summary['objective']} "
        f"{best['value']:.4f}, trial {best['trial']}); "
        f"paper t={paper['t']} lambda={paper['lam']:g}; wrote {args.out}",
    )
    return 0
