"""``ssmtl``: the command line of ssmtl-bench.

  ssmtl data synth --out DIR [--seed N] [--preset tiny|default] [--difficulty D]
      Write the synthetic benchmark (Ped2 frames layout plus labels, masks, tracks, kinds).
  ssmtl data check NAME --root DIR [--json]
      Validate a dataset root and print its counts; exit 2 naming every problem.
  ssmtl baseline frame-diff NAME --root DIR --out FILE.npz
      Score every test frame by frame differencing (a no-training reference).
  ssmtl evaluate NAME --root DIR --scores FILE.npz [--regions FILE] [--json]
      Frame-level AUC (micro and macro) and, with regions, RBDC and TBDC.

Dataset names: ped1, ped2, avenue, shanghaitech, synthetic. Exit codes: 0 success, 2 bad input
(the message names each file and problem).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from bench.datasets import DATASETS, DatasetError, VideoDataset, check_dataset, open_dataset

EXIT_BAD_INPUT = 2


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=sorted(DATASETS), help="benchmark name")
    parser.add_argument("--root", required=True, type=Path, help="dataset root folder")
    parser.add_argument("--labels", choices=["default", "masks", "mnad"], default="default", help="avenue only: frame labels from the official masks (default) or the MNAD file")
    parser.add_argument("--tracks-dir", type=Path, help="shanghaitech only: folder of AED track files (default: found under the root)")


def parse_bool(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() == "true"


def dataset_from(args: argparse.Namespace) -> VideoDataset:
    options = {}
    if args.labels != "default":
        options["labels"] = args.labels
    if args.tracks_dir:
        options["tracks_dir"] = args.tracks_dir
    return open_dataset(args.name, args.root, **options)


def print_result(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>18}: {value:.4f}" if isinstance(value, float) else f"{key:>18}: {value}")


def cmd_synth(args: argparse.Namespace) -> int:
    from bench.synth import generate

    out = generate(args.out, seed=args.seed, preset=args.preset, difficulty=args.difficulty, overwrite=args.overwrite, progress=True)
    print(f"wrote {out}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    dataset = dataset_from(args)
    problems = check_dataset(dataset)
    if problems:
        raise DatasetError(problems)
    summary = dataset.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        for split, counts in summary["splits"].items():
            print(f"{args.name} {split}: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()))
    return 0


def cmd_frame_diff(args: argparse.Namespace) -> int:
    from bench.baselines import frame_difference_scores

    scores = frame_difference_scores(dataset_from(args), cell=args.cell)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **scores)
    print(f"wrote {args.out} ({len(scores)} videos)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from bench.evaluate import check_scores, evaluate, load_frame_scores, load_regions

    dataset = dataset_from(args)
    scores = load_frame_scores(args.scores)
    check_scores(dataset, scores, args.scores)
    regions = load_regions(args.regions) if args.regions else None
    result = evaluate(dataset, scores, regions, smooth_sigma=args.smooth_sigma, normalize=args.normalize, alpha=args.alpha, beta=args.beta)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_result(result, args.json)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssmtl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="generate and validate datasets").add_subparsers(dest="data_command", required=True)
    synth = data.add_parser("synth", help="write the synthetic benchmark (the embedded default)")
    synth.add_argument("--out", required=True, type=Path, help="output folder (written atomically)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--preset", choices=["tiny", "default"], default="default", help="size: tiny for unit tests, default for dvc repro")
    synth.add_argument("--difficulty", type=float, default=0.5, help="0 (obvious anomalies) .. 1 (subtle); default 0.5")
    synth.add_argument("--overwrite", action="store_true", help="replace an existing output folder (refused otherwise)")
    synth.set_defaults(func=cmd_synth)

    check = data.add_parser("check", help="validate a dataset root and print its counts")
    add_dataset_arguments(check)
    check.add_argument("--json", action="store_true", help="print the counts as JSON")
    check.set_defaults(func=cmd_check)

    baseline = commands.add_parser("baseline", help="no-training reference scores").add_subparsers(dest="baseline", required=True)
    frame_diff = baseline.add_parser("frame-diff", help="frame-difference scores of every test frame")
    add_dataset_arguments(frame_diff)
    frame_diff.add_argument("--out", required=True, type=Path, help="scores .npz to write")
    frame_diff.add_argument("--cell", type=int, default=0, help="grid cell size in pixels; 0 (default) scores the whole frame")
    frame_diff.set_defaults(func=cmd_frame_diff)

    evaluate = commands.add_parser("evaluate", help="frame AUC (micro/macro), RBDC and TBDC of a score file")
    add_dataset_arguments(evaluate)
    evaluate.add_argument("--scores", required=True, type=Path, help=".npz with one 1-D frame-score array per test video id")
    evaluate.add_argument("--regions", type=Path, help=".npz or folder of <video>.txt with rows frame,x_min,y_min,x_max,y_max,score")
    evaluate.add_argument("--smooth-sigma", type=float, default=0.0, help="temporal Gaussian sigma in frames applied before the AUC (default 0: off)")
    evaluate.add_argument("--normalize", type=parse_bool, default=False, metavar="{true,false}", help="min-max normalise scores per video before the AUC (default false)")
    evaluate.add_argument("--alpha", type=float, default=0.1, help="TBDC: fraction of a track's regions that must be detected (default 0.1)")
    evaluate.add_argument("--beta", type=float, default=0.1, help="RBDC/TBDC: IoU for a region to count as detected (default 0.1)")
    evaluate.add_argument("--out", type=Path, help="also write the metrics JSON here")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DatasetError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (FileExistsError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
