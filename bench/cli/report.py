"""``ssmtl report``: build the report (the paper's Tables 2-4, the search, the running time, the
deviations of ``params.yaml`` from the paper, as Markdown, CSV, LaTeX and figures) from the
metrics folder and the published numbers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.cli.args import EXIT_BAD_INPUT

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


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``report`` to the ``ssmtl`` subcommands."""
    report = commands.add_parser("report", help=HELP, description=DESCRIPTION)
    add_arguments(report)
    add_readme_argument(report)
    report.set_defaults(func=handler)
