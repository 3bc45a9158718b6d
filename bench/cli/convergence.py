"""``ssmtl convergence``: the AUCs of every epoch of a training run (issue 16's convergence
table); ``ssmtl head-scale``: eq. (6)'s heads combined on one scale or as published; ``ssmtl
head-selection``: what choosing those heads on test videos is worth on videos it did not see;
``ssmtl middle-map``: T3's error as its mean or its per-pixel maximum. torch is imported by the
handlers, so building the parser stays cheap."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bench.cli.args import (
    add_bootstrap_argument,
    add_dataset_arguments,
    add_drop_heads_argument,
    add_head_scale_argument,
    add_imagenet_term_argument,
    add_localization_arguments,
    add_map_arguments,
    add_test_inputs,
    add_validation_inputs,
    dataset_from,
    map_config,
)
from bench.cli.output import add_json_argument, emit

if TYPE_CHECKING:
    from bench.suite.checkpoint_inputs import CheckpointInputs

DESCRIPTION = """\
Score the test split with every epoch's weights of a run trained with
`ssmtl train --checkpoint-dir DIR` and evaluate each as `ssmtl evaluate` does: micro and macro
AUC with their chance levels, RBDC, TBDC, each head's AUC alone (T1..T4) and the epoch's
validation figures. Bootstrap 95% intervals for the last epoch and the epoch of the lowest
validation loss. The JSON is rewritten after every epoch.
"""


HEAD_SCALE = """\
Score the test objects with one checkpoint and combine the heads of eq. (6) several ways
through the same maps, filters and evaluation: the paper's plain mean (eq6); each head
standardised with its mean and standard deviation on the validation objects (the last 15% of
each training video) then averaged (zscore_validation, no test data); the same after T1/T2 become
log-odds and T3/T4 log errors (log_zscore_validation); standardised with the test objects' own
statistics (zscore_test, log_zscore_test: transductive diagnostics); each head alone. With
--drop-heads, every combination again without those heads.
"""

HEAD_SELECTION = """\
How optimistic is a choice of eq. (6)'s heads made on the test videos? Score the test objects
with one checkpoint, form every subset of the heads on each head scale that needs no test data
(eq6, zscore_validation, log_zscore_validation), and for every split of the test videos into
two halves pick the subset with the best micro AUC on one half and score it on the other. The
JSON gives, over all splits, the held-out micro AUC of the picked subset beside eq. (6) as
published, the deviation (--head-scale without --drop-heads), the baseline's frame scores
(--baseline-scores, e.g. the frame difference) and the held-out half's own best subset (an upper
bound), how often each subset was picked, and every subset's AUC on all test videos.
"""

MIDDLE_MAP = """\
Score the test objects with one checkpoint and take T3's reconstruction error two ways through
the same maps, filters and evaluation: its mean over the crop (eq. 6, the default everywhere) and
the maximum of its per-pixel map after the anomaly map's spatial mean filter (section 3.4's
maximum, inside the object); each alone and in eq. (6)'s mean. Also: how often the error map's
peak falls inside a ground-truth anomaly region, against a random peak's rate, and (with
--detections) how each score follows the number of detected objects on normal frames. Meant for
the frame level (section 3.5), whose one object is the whole frame.
"""


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "convergence",
        help="AUCs after every training epoch of a run (the convergence table)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dataset_arguments(parser)
    parser.add_argument(
        "--checkpoints", required=True, type=Path, help="the run's --checkpoint-dir"
    )
    add_test_inputs(parser)
    add_map_arguments(parser)
    add_localization_arguments(parser)
    add_bootstrap_argument(parser)
    parser.add_argument(
        "--epochs",
        default="all",
        help="epochs to evaluate: all (default), selected (the checkpoint training keeps, lowest "
        "validation loss) or a list such as 1,2,4,8; the selected and the last are always added",
    )
    parser.add_argument(
        "--device", default="cpu", help="where the network scores: cpu (default), cuda or auto"
    )
    parser.add_argument("--out", required=True, type=Path, help="convergence JSON to write")
    add_json_argument(parser)
    parser.set_defaults(func=cmd_convergence)

    parser = commands.add_parser(
        "head-scale",
        help="one checkpoint's AUCs with eq. (6)'s heads as published, standardised, or alone",
        description=HEAD_SCALE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_checkpoint_experiment_arguments(parser)
    add_validation_inputs(parser, required=True)
    add_drop_heads_argument(parser)
    parser.set_defaults(func=cmd_head_scale)

    parser = commands.add_parser(
        "head-selection",
        help="eq. (6)'s heads chosen on half the test videos, scored on the other half",
        description=HEAD_SELECTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_checkpoint_inputs(parser)
    add_validation_inputs(parser, required=True)
    add_head_scale_argument(parser)
    add_drop_heads_argument(parser)
    parser.add_argument(
        "--baseline-scores",
        type=Path,
        help="frame scores of a method with nothing to choose (ssmtl baseline frame-diff)",
    )
    parser.add_argument("--out", required=True, type=Path, help="JSON to write")
    add_json_argument(parser)
    parser.set_defaults(func=cmd_head_selection)

    parser = commands.add_parser(
        "middle-map",
        help="one checkpoint's AUCs with T3 as its mean error or its per-pixel maximum",
        description=MIDDLE_MAP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_checkpoint_experiment_arguments(parser)
    parser.add_argument(
        "--detections",
        type=Path,
        help="the test split's object detections (ssmtl detect): correlate each score with how "
        "many objects a normal frame holds",
    )
    parser.set_defaults(func=cmd_middle_map)


def add_checkpoint_inputs(parser: argparse.ArgumentParser) -> None:
    """What every one-checkpoint experiment reads: the dataset, the checkpoint, the test inputs,
    eq. (6)'s T4 term and the maps."""
    add_dataset_arguments(parser)
    parser.add_argument("--model", required=True, type=Path, help="checkpoint to score")
    add_test_inputs(parser)
    add_imagenet_term_argument(parser)
    add_map_arguments(parser)


def add_checkpoint_experiment_arguments(parser: argparse.ArgumentParser) -> None:
    """What ``head-scale`` and ``middle-map`` share: :func:`add_checkpoint_inputs` and the
    evaluation."""
    add_checkpoint_inputs(parser)
    add_localization_arguments(parser)
    add_bootstrap_argument(parser)
    parser.add_argument("--out", required=True, type=Path, help="JSON to write")
    add_json_argument(parser)


def experiment_options(args: argparse.Namespace) -> dict:
    """The keyword arguments the two checkpoint experiments share."""
    return dict(
        resamples=args.bootstrap, alpha=args.alpha, beta=args.beta, imagenet_term=args.imagenet_term
    )


def checkpoint_inputs(args: argparse.Namespace) -> CheckpointInputs:
    """What a one-checkpoint experiment reads (:func:`add_checkpoint_inputs`): the dataset, the
    checkpoint, the test tubes and teachers, the training tubes and teachers where the command
    has them (for the validation objects), the maps' configuration and the JSON to write."""
    from bench.suite.checkpoint_inputs import CheckpointInputs

    return CheckpointInputs(
        dataset=dataset_from(args),
        checkpoint=args.model,
        test_tubes=args.tubes,
        test_targets=args.targets,
        config=map_config(args),
        out=args.out,
        train_tubes=getattr(args, "validation_tubes", None),
        train_targets=getattr(args, "validation_targets", None),
    )


def cmd_convergence(args: argparse.Namespace) -> int:
    from bench.suite.convergence import convergence_table

    table = convergence_table(
        dataset_from(args),
        args.checkpoints,
        args.tubes,
        args.targets,
        map_config(args),
        args.out,
        alpha=args.alpha,
        beta=args.beta,
        resamples=args.bootstrap,
        epochs=args.epochs,
        device=args.device,
    )
    for row in table["rows"]:
        heads = " ".join(f"{task}={v['auc_micro']:.3f}" for task, v in row["per_head"].items())
        print(
            f"epoch {row['epoch']}: micro {row['auc_micro']:.4f} "
            f"macro(padded) {row['auc_macro_padded']:.4f} rbdc {row['rbdc']:.4f} "
            f"tbdc {row['tbdc']:.4f} | {heads}"
        )
    emit(args, table, f"wrote {args.out}")
    return 0


def cmd_head_scale(args: argparse.Namespace) -> int:
    from bench.suite.head_scale import head_scale_experiment

    table = head_scale_experiment(
        checkpoint_inputs(args),
        drop_heads=tuple(args.drop_heads),
        **experiment_options(args),
    )
    for name, row in table["rows"].items():
        print(
            f"{name:>36}: micro {row['auc_micro']:.4f} macro(strict) "
            f"{row['auc_macro_strict']:.4f} rbdc {row['rbdc']:.4f} tbdc {row['tbdc']:.4f}"
        )
    emit(args, table, f"wrote {args.out}")
    return 0


def cmd_head_selection(args: argparse.Namespace) -> int:
    from bench.suite.selection import head_selection_experiment

    table = head_selection_experiment(
        checkpoint_inputs(args),
        imagenet_term=args.imagenet_term,
        drop_heads=tuple(args.drop_heads),
        head_scale=args.head_scale,
        baseline=args.baseline_scores,
    )
    print(
        f"{table['splits']} splits of {len(table['videos'])} test videos, the heads picked on "
        f"{table['selection_videos']}: held-out micro AUC"
    )
    for label, figures in table["held_out_auc_micro"].items():
        print(
            f"{label:>18}: {figures['mean']:.4f} +- {figures['std']:.4f} "
            f"[5%: {figures['p05']:.4f}, 95%: {figures['p95']:.4f}]"
        )
    picked = ", ".join(f"{name} {count}" for name, count in list(table["chosen"].items())[:4])
    emit(args, table, f"picked most often: {picked}\nwrote {args.out}")
    return 0


def cmd_middle_map(args: argparse.Namespace) -> int:
    from bench.suite.middle_map import middle_map_experiment

    table = middle_map_experiment(
        checkpoint_inputs(args),
        detections=args.detections,
        **experiment_options(args),
    )
    for name, row in table["rows"].items():
        print(
            f"{name:>22}: micro {row['auc_micro']:.4f} macro(strict) {row['auc_macro_strict']:.4f}"
        )
    where = table["localization"]
    if where["regions"]:
        print(
            f"error peak inside an anomaly region: {where['peak_in_region']:.3f} of "
            f"{where['regions']} regions (random peak: {where['chance']:.3f})"
        )
    emit(args, table, f"wrote {args.out}")
    return 0
