"""``ssmtl evaluate``: frame AUC (micro, macro padded and strict) with chance levels and
bootstrap intervals, RBDC and TBDC of a score file (section 4.1; bench.metrics.evaluate)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.args import (
    add_bootstrap_argument,
    add_dataset_arguments,
    add_localization_arguments,
    dataset_from,
    parse_bool,
    ranged,
)
from bench.cli.output import add_json_argument, emit
from bench.io import write_json


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` to the ``ssmtl`` subcommands."""
    add_evaluate_command(commands)


def add_evaluate_command(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="frame AUC (micro/macro), RBDC and TBDC of a score file"
    )
    add_dataset_arguments(evaluate)
    evaluate.add_argument(
        "--scores",
        required=True,
        type=Path,
        help=".npz with one 1-D frame-score array per test video id",
    )
    evaluate.add_argument(
        "--regions",
        type=Path,
        help=".npz or folder of <video>.txt with rows frame,x_min,y_min,x_max,y_max,score",
    )
    evaluate.add_argument(
        "--smooth-sigma",
        type=ranged(float, 0),
        default=0.0,
        help="temporal Gaussian sigma in frames applied before the AUC (default 0: off)",
    )
    evaluate.add_argument(
        "--normalize",
        type=parse_bool,
        default=False,
        metavar="{true,false}",
        help="min-max normalise scores per video before the AUC (default false)",
    )
    add_localization_arguments(evaluate)
    evaluate.add_argument(
        "--heads",
        type=Path,
        help="each head's own frame scores (`score --out-heads`): adds the AUC of every head "
        "alone beside eq. (6)'s combined score (per_head)",
    )
    evaluate.add_argument(
        "--model",
        type=Path,
        help="with --track: the checkpoint behind the scores; links the run to its training run",
    )
    evaluate.add_argument("--out", type=Path, help="also write the metrics JSON here")
    evaluate.add_argument(
        "--figures",
        type=Path,
        help="write score-vs-ground-truth plots (and localization overlays with --regions) here",
    )
    add_bootstrap_argument(evaluate)
    evaluate.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the resampling")
    add_json_argument(evaluate)
    evaluate.add_argument(
        "--track",
        action="store_true",
        help="log the evaluation as an MLflow run (store: see bench/tracking.py)",
    )
    evaluate.set_defaults(func=cmd_evaluate)


def log_evaluation(args: argparse.Namespace, result: dict) -> None:
    """One MLflow run per evaluation: the metrics, the metrics JSON and the figures."""
    from bench import tracking

    params = {
        "dataset": args.name,
        "root": args.root,
        "scores": args.scores,
        "smooth_sigma": args.smooth_sigma,
        "normalize": args.normalize,
    }
    with tracking.run(
        "ssmtl-evaluate", f"{args.name}-{args.scores.stem}", params, {"dataset": args.name}
    ) as mlflow:
        flat = {k: v for k, v in result.items() if isinstance(v, (int, float))}
        flat.update({f"chance_{k}": v for k, v in result["chance"].items() if v is not None})
        for key, interval in result.get("ci95", {}).items():
            if interval:
                flat.update(
                    {f"ci95_low_{key}": interval["low"], f"ci95_high_{key}": interval["high"]}
                )
        flat.update(
            {f"auc_{k}": v for k, v in result.get("auc_by_kind", {}).items() if v is not None}
        )
        mlflow.log_metrics(flat)
        if args.model:
            tracking.link_to_training(tracking.training_run_of(args.model, "ssmtl-train"))
        if args.out:
            mlflow.log_artifact(str(args.out))
        if args.figures:
            mlflow.log_artifacts(str(args.figures), artifact_path="figures")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from bench.io import read_arrays
    from bench.metrics.evaluate import (
        check_scores,
        evaluate,
        load_frame_scores,
        load_npz,
        load_regions,
    )

    read_arrays(args.scores, "frame scores file")  # a named error for a truncated file
    if args.regions and args.regions.suffix == ".npz":
        read_arrays(args.regions, "regions file")
    dataset = dataset_from(args)
    scores = load_frame_scores(args.scores)
    check_scores(dataset, scores, args.scores)
    regions = load_regions(args.regions) if args.regions else None
    result = evaluate(
        dataset,
        scores,
        regions,
        smooth_sigma=args.smooth_sigma,
        normalize=args.normalize,
        alpha=args.alpha,
        beta=args.beta,
        resamples=args.bootstrap,
        seed=args.bootstrap_seed,
    )
    if args.heads:
        from bench.metrics.evaluate import per_head_aucs

        result["per_head"] = per_head_aucs(dataset, load_npz(args.heads), args.heads)
    if args.out:
        write_json(args.out, result)
    if args.figures:
        from bench.report.figures import plot_frame_scores, plot_localization

        plot_frame_scores(dataset, scores, args.figures)
        if regions is not None:
            plot_localization(dataset, regions, args.figures)
    if args.track:
        log_evaluation(args, result)
    emit(args, result, lambda: format_evaluation(result))
    return 0


def format_evaluation(result: dict) -> str:
    """The metrics one per line, each AUC with its 95% interval and its chance level."""
    lines = []
    for key in ("auc_micro", "auc_macro_padded", "auc_macro_strict", "rbdc", "tbdc"):
        value = result.get(key)
        if value is None:
            continue
        line = f"{key:>18}: {value:.4f}"
        interval = result.get("ci95", {}).get(key)
        if interval:
            line += f"  95% CI [{interval['low']:.4f}, {interval['high']:.4f}]"
        chance = result.get("chance", {}).get(key)
        if chance is not None:
            flag = "  BELOW CHANCE" if value < chance else ""
            line += f"  chance {chance:.4f}{flag}"
        lines.append(line)
    lines.append(f"{'frames':>18}: {result['frames']} in {result['videos']} videos")
    if result.get("one_class_videos"):
        lines.append(f"{'one-class videos':>18}: {', '.join(result['one_class_videos'])}")
    return "\n".join(lines)
