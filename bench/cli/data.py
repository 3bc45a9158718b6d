"""``ssmtl data synth|check`` and ``ssmtl baseline frame-diff``: the datasets and a
no-training reference."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.args import add_dataset_arguments, dataset_from
from bench.cli.output import add_json_argument, emit
from bench.data import DatasetError, check_dataset
from bench.io import save_npz


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``data`` (synth, check) and ``baseline`` (frame-diff) to the ``ssmtl`` subcommands."""
    data = commands.add_parser("data", help="generate and validate datasets").add_subparsers(
        dest="data_command", required=True
    )
    synth = data.add_parser("synth", help="write the synthetic benchmark (the embedded default)")
    synth.add_argument("--out", required=True, type=Path, help="output folder (written atomically)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument(
        "--preset",
        choices=["tiny", "default"],
        default="default",
        help="size: tiny for unit tests, default for dvc repro",
    )
    synth.add_argument(
        "--difficulty",
        type=float,
        default=0.5,
        help="0 (obvious anomalies) .. 1 (subtle); default 0.5",
    )
    synth.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output folder (refused otherwise)",
    )
    synth.set_defaults(func=cmd_synth)

    check = data.add_parser("check", help="validate a dataset root and print its counts")
    add_dataset_arguments(check)
    add_json_argument(check)
    check.add_argument(
        "--no-decode",
        action="store_true",
        help="skip decoding every frame (by default each is decoded, so a truncated or corrupt "
        "image is named)",
    )
    check.set_defaults(func=cmd_check)

    baseline = commands.add_parser("baseline", help="no-training reference scores").add_subparsers(
        dest="baseline", required=True
    )
    frame_diff = baseline.add_parser(
        "frame-diff", help="frame-difference scores of every test frame"
    )
    add_dataset_arguments(frame_diff)
    frame_diff.add_argument("--out", required=True, type=Path, help="scores .npz to write")
    frame_diff.add_argument(
        "--cell",
        type=int,
        default=0,
        help="grid cell size in pixels; 0 (default) scores the whole frame",
    )
    frame_diff.set_defaults(func=cmd_frame_diff)


def cmd_synth(args: argparse.Namespace) -> int:
    from bench.data.synth import generate

    out = generate(
        args.out,
        seed=args.seed,
        preset=args.preset,
        difficulty=args.difficulty,
        overwrite=args.overwrite,
        progress=True,
    )
    print(f"wrote {out}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    dataset = dataset_from(args)
    problems = check_dataset(dataset, decode=not args.no_decode)
    if problems:
        raise DatasetError(problems)
    summary = dataset.summary()
    emit(
        args,
        summary,
        lambda: "\n".join(
            f"{args.name} {split}: "
            + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
            for split, counts in summary["splits"].items()
        ),
    )
    return 0


def cmd_frame_diff(args: argparse.Namespace) -> int:
    from bench.score import frame_difference_scores

    scores = frame_difference_scores(dataset_from(args), cell=args.cell)
    save_npz(args.out, scores)  # atomic: a kill never leaves half a file
    print(f"wrote {args.out} ({len(scores)} videos)")
    return 0
