"""``ssmtl report``: build the report (the paper's Tables 2-4, the search, the running time, the
deviations of ``params.yaml`` from the paper, as Markdown, CSV, LaTeX and figures) from the
metrics folder and the published numbers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.cli.args import EXIT_BAD_INPUT, add_dataset_arguments, dataset_from
from bench.cli.output import add_json_argument, emit

DESCRIPTION = "Build the report (tables, figures, README) from metrics/ and the published numbers."
HELP = "Tables 2-4 from the metrics files: 'ssmtl report -h'"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The report's options, each defaulting to the repository's layout."""
    parser.add_argument(
        "--metrics",
        type=Path,
        default=Path("metrics"),
        help="the metrics folder (default: metrics)",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        default=Path("experiments/reference.csv"),
        help="the published numbers (default: experiments/reference.csv)",
    )
    parser.add_argument(
        "--ablation",
        type=Path,
        default=Path("experiments/ablation.yaml"),
        help="the Table 4 rows (default: experiments/ablation.yaml)",
    )
    parser.add_argument(
        "--params",
        type=Path,
        default=Path("params.yaml"),
        help="the configuration whose deviations from the paper the report lists "
        "(default: params.yaml)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("reports"),
        help="the output folder (default: reports)",
    )


def add_readme_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--readme",
        type=Path,
        help="also copy the headline table between this file's results markers "
        "(the pipeline: README.md)",
    )


def handler(args: argparse.Namespace) -> int:
    """Write the report; exit status 2 naming the file when an input is malformed."""
    # Imported here: the report pulls in pandas and matplotlib, which `ssmtl -h` does not need.
    from bench.report import build_report

    try:
        written = build_report(
            args.metrics, args.reference, args.ablation, args.out, args.readme, args.params
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {len(written)} files under {args.out}")
    return 0


def level_file(text: str) -> tuple[str, Path]:
    """argparse type of ``LEVEL=FILE`` (``object_level=artifacts/scores/ssmtl.npz``)."""
    level, sep, path = text.partition("=")
    if not sep or not level or not path or not level.replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"expected LEVEL=FILE (object_level=s.npz), got {text!r}")
    return level, Path(path)


def plots_handler(args: argparse.Namespace) -> int:
    """Write the plot data (ROC, frame scores, search) of one dataset under ``--out``."""
    from bench.metrics.curves import search_table, write_level_curves, write_table
    from bench.metrics.evaluate import check_scores, load_frame_scores
    from bench.report.load import read_json

    dataset = dataset_from(args)
    labels = dataset.test_labels()
    written = []
    for level, path in args.scores:
        scores = load_frame_scores(path)
        check_scores(dataset, scores, path)
        written += write_level_curves(args.out, level, labels, scores)
    if args.search is not None:
        trials = read_json(args.search).get("trials") or []
        written.append(write_table(args.out / "search.csv", search_table(trials)))
    print(f"wrote {len(written)} plot files under {args.out}")
    return 0


def add_plots_command(commands: argparse._SubParsersAction) -> None:
    """``ssmtl plots``: the CSV files ``dvc plots`` and the HTML report draw."""
    plots = commands.add_parser(
        "plots",
        help="plot data (ROC, frame scores vs ground truth, search) for dvc plots and the report",
        description="Write roc_<level>.csv (fpr, tpr; all test frames pooled), "
        "scores_<level>.csv (index, video, frame, score normalised per video, ground_truth) "
        "and search.csv (trial, t, lambda, value, state) under --out (bench.metrics.curves).",
    )
    add_dataset_arguments(plots)
    plots.add_argument(
        "--scores",
        type=level_file,
        nargs="+",
        default=[],
        metavar="LEVEL=FILE",
        help="frame scores of a level (object_level=artifacts/scores/ssmtl.npz ...)",
    )
    plots.add_argument("--search", type=Path, help="search.json whose trials to write")
    plots.add_argument(
        "--out", type=Path, required=True, help="the folder (metrics/<dataset>/plots)"
    )
    plots.set_defaults(func=plots_handler)


def summary_handler(args: argparse.Namespace) -> int:
    """Write the numbers-only headline metrics of one dataset's metrics folder."""
    from bench.io import write_json
    from bench.report.dvc_metrics import summarize

    summary = summarize(args.metrics)
    write_json(args.out, summary)
    emit(args, summary, f"wrote {args.out}")
    return 0


def add_summary_command(commands: argparse._SubParsersAction) -> None:
    """``ssmtl summary``: the one file each dvc.yaml declares under ``metrics:``."""
    summary = commands.add_parser(
        "summary",
        help="the numbers-only headline metrics that dvc exp show / dvc metrics diff compare",
        description="Read the rich metrics files of one dataset (evaluations, training, search, "
        "Table 4 rows, seeds, convergence) and write their headline numbers, nothing else "
        "(bench.report.dvc_metrics).",
    )
    summary.add_argument(
        "--metrics", type=Path, required=True, help="the dataset's folder (metrics/NAME)"
    )
    summary.add_argument(
        "--out", type=Path, required=True, help="the file (metrics/NAME/summary.json)"
    )
    add_json_argument(summary)
    summary.set_defaults(func=summary_handler)


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``report``, ``plots`` and ``summary`` to the ``ssmtl`` subcommands."""
    report = commands.add_parser("report", help=HELP, description=DESCRIPTION)
    add_arguments(report)
    add_readme_argument(report)
    report.set_defaults(func=handler)
    add_plots_command(commands)
    add_summary_command(commands)
