"""``ssmtl ablation prepare|run``: the rows of Table 4 (train, score, evaluate each row x
seed). torch and MLflow are imported by the handlers, so building the parser stays cheap."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.cli.args import (
    add_dataset_arguments,
    add_head_scale_argument,
    add_localization_arguments,
    add_map_arguments,
    add_precision_argument,
    comma_ints,
    dataset_from,
    map_config,
    ranged,
)
from bench.cli.output import add_json_argument, emit, format_numbers
from bench.errors import InputError
from bench.paper import EPOCHS, LEARNING_RATE, dataset_settings

ABLATION_DESCRIPTION = """\
Table 4 of the paper: the rows of experiments/ablation.yaml (architectures x proxy tasks T1..T4,
object or frame level), trained, scored and evaluated.

  prepare  the rows' shared inputs, once: training and test tube caches at t, for the object
           and the frame level, optionally every N-th frame only.
  run      rows x seeds: train (eq. 5 with lambda), score (eq. 6), frame scores (section 3.4),
           AUC micro/macro, RBDC/TBDC; one MLflow child run of the sweep each.

t and lambda are the paper's for the dataset (t = 3; lambda 0.5 on Ped2, 0.2 on Avenue and
ShanghaiTech) unless --hyperparameters searched takes the best of 'ssmtl search' (--search).
"""


def add_commands(commands: argparse._SubParsersAction) -> None:
    add_ablation_commands(commands)


# --- ssmtl ablation prepare|run (Table 4) --------------------------------------------------------


def add_ablation_commands(commands: argparse._SubParsersAction) -> None:
    ablation = commands.add_parser(
        "ablation",
        help="Table 4: train, score and evaluate the ablation rows",
        description=ABLATION_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ablation.add_subparsers(dest="ablation", required=True)
    prepare = sub.add_parser("prepare", help="the rows' shared tube caches at t")
    add_dataset_arguments(prepare)
    add_hyperparameter_arguments(prepare)
    arg = prepare.add_argument
    arg(
        "--detections",
        required=True,
        type=Path,
        help="folder of the pipeline's {,frame_}{train,test}.npz detections",
    )
    arg(
        "--teachers",
        required=True,
        type=Path,
        help="folder of the pipeline's {,frame_}{train,test}.npy teacher targets",
    )
    arg(
        "--levels",
        nargs="+",
        choices=["object", "frame"],
        default=["object", "frame"],
        help="default both",
    )
    arg(
        "--train-frame-stride",
        type=int,
        default=1,
        help="keep the objects of every N-th training frame (default 1 = all, the paper)",
    )
    arg(
        "--test-frame-stride",
        type=int,
        default=1,
        help="score and evaluate every N-th test frame (default 1 = all, the paper)",
    )
    arg("--seed", type=int, default=0, help="seed of the intermittent sequences (default 0)")
    arg("--out", required=True, type=Path)
    prepare.set_defaults(func=cmd_ablation_prepare)

    run = sub.add_parser(
        "run", help="rows x seeds: train, score, evaluate (one MLflow child run of the sweep each)"
    )
    add_dataset_arguments(run)
    arg = run.add_argument
    arg(
        "--row",
        required=True,
        help="row id in --rows (e.g. sn_T1, dw_all_frame), or several comma-separated, run one "
        "after another in one process (each saves the ~7 s start-up of a process on CPU)",
    )
    arg(
        "--rows",
        type=Path,
        default=Path("experiments/ablation.yaml"),
        help="default experiments/ablation.yaml",
    )
    arg(
        "--seed",
        type=comma_ints,
        default=(0,),
        help="seed, or several comma-separated (e.g. 0,1,2; default 0)",
    )
    arg("--inputs", required=True, type=Path, help="folder written by 'ssmtl ablation prepare'")
    add_hyperparameter_arguments(run)
    arg("--epochs", type=ranged(int, 1), default=EPOCHS, help=f"default the paper's {EPOCHS}")
    arg(
        "--batch-size",
        type=ranged(int, 0),
        default=0,
        help="0 (default) = the paper's for the architecture",
    )
    arg("--lr", type=ranged(float, 0), default=LEARNING_RATE, help=f"default {LEARNING_RATE:g}")
    arg("--device", default="auto", help="default auto")
    add_precision_argument(run)
    add_map_arguments(run)
    add_head_scale_argument(run)
    add_localization_arguments(run)
    arg(
        "--out",
        required=True,
        type=Path,
        help="metrics JSON to write; for several rows (seeds) a path holding {row} ({seed})",
    )
    arg(
        "--model",
        required=True,
        type=Path,
        help="checkpoint to write; for several rows (seeds) a path holding {row} ({seed})",
    )
    add_json_argument(run)
    run.set_defaults(func=cmd_ablation_run)


def add_hyperparameter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hyperparameters",
        choices=("paper", "searched"),
        default="paper",
        help="t and lambda: the paper's for the dataset (default) or the search's best (--search)",
    )
    parser.add_argument(
        "--search", type=Path, help="search result JSON (ssmtl search), for searched"
    )


def hyperparameters(args: argparse.Namespace) -> tuple[int, float]:
    """``(t, lam)`` of the rows: the paper's for the dataset, or the search's best."""
    if args.hyperparameters == "paper":
        settings = dataset_settings(args.name)
        return int(settings["t"]), float(settings["lam"])
    if args.search is None:
        raise InputError("--hyperparameters searched needs --search FILE (ssmtl search's output)")
    from bench.suite.search import read_best

    return read_best(args.search)


def cmd_ablation_prepare(args: argparse.Namespace) -> int:
    from bench.suite.ablation import pipeline_sources, prepare_inputs

    t, _ = hyperparameters(args)
    sources = pipeline_sources(args.detections, args.teachers, args.levels)
    strides = {"train": args.train_frame_stride, "test": args.test_frame_stride}
    meta = prepare_inputs(dataset_from(args), sources, t, args.seed, strides, args.out)
    print(f"wrote {args.out}: {meta}")
    return 0


def cmd_ablation_run(args: argparse.Namespace) -> int:
    from bench.progress import progress_bar
    from bench.suite.ablation import RowProfile, load_rows, output_path, run_row

    try:  # the row file and the output templates: bad input, not bugs
        rows = load_rows(args.rows)
        ids = args.row.split(",")
        outputs = {
            run: tuple(
                output_path(template, *run, len(ids), len(args.seed))
                for template in (args.out, args.model)
            )
            for run in ((row, seed) for seed in args.seed for row in ids)
        }
    except ValueError as error:
        raise InputError(str(error)) from error
    unknown = [row for row in ids if row not in rows]
    if unknown:
        raise InputError(
            f"{args.rows}: no row {', '.join(map(repr, unknown))}; rows: {', '.join(rows)}"
        )
    runs = list(outputs)
    t, lam = hyperparameters(args)
    meta = args.inputs / "meta.json"
    prepared = json.loads(meta.read_text()).get("t") if meta.is_file() else t
    if prepared != t:
        raise InputError(
            f"{args.inputs}: prepared at t = {prepared}, but --hyperparameters "
            f"{args.hyperparameters} gives t = {t}: prepare with the same --hyperparameters"
        )
    profile = RowProfile(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        device=args.device,
        precision=args.precision,
        hyperparameters=args.hyperparameters,
    )
    dataset, maps = dataset_from(args), map_config(args)
    summaries = []
    for row, seed in progress_bar(runs, desc="ablation runs", unit="run"):
        summary = run_row(
            rows[row],
            seed,
            dataset,
            args.inputs,
            lam,
            profile,
            maps,
            args.alpha,
            args.beta,
            *outputs[row, seed],
            rows_file=args.rows,
            head_scale=args.head_scale,
        )
        summaries.append(summary)
        # each row as it finishes (on stderr with --json, whose document holds them all)
        aucs = {k: v for k, v in summary["eval"].items() if isinstance(v, float)}
        print(f"{row}, seed {seed}:\n{format_numbers(aucs)}")
    emit(args, summaries, f"{len(summaries)} run(s) written")
    return 0
