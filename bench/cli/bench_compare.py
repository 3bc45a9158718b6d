"""``ssmtl bench compare``: each hot stage beside a plain reference (issue 15).

The arguments are parsed here; the measurements are :mod:`bench.suite.bench_compare`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.cli.args import EXIT_BAD_INPUT
from bench.cli.output import add_json_argument, emit
from bench.paper import ARCHITECTURE_NAMES, T


def _scales(text: str) -> list[int]:
    try:
        scales = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        message = f"--scale: integers separated by commas, got {text}"
        raise argparse.ArgumentTypeError(message) from error
    if not scales or min(scales) < 1:
        raise argparse.ArgumentTypeError(f"--scale: integers >= 1, got {text}")
    return scales


def add_compare(sub: argparse._SubParsersAction) -> None:
    compare = sub.add_parser(
        "compare",
        help="each hot stage beside a plain reference: throughput, ratio, peak memory",
        description="Time each hot stage of the pipeline beside a plain reference written the "
        "obvious way (the same tubes by a per-object roi_align loop, beside a cv2.resize loop "
        "that samples differently; the bare TorchScript classifier at its fastest "
        "batch of 16/32/64, fp32, channels-last; YOLO.predict per frame; a plain fp32 eq. (5) "
        "loop and a plain forward of the heads on random tensors; the paper's 23 FPS) on the "
        "first --frames frames of the first test video, in one process; print the table and "
        "write it to --out. Each stage and its reference run --repeats times in turn and each "
        "side's fastest run is kept. Weights are found in $SSMTL_MODELS_DIR. Timings on a loaded "
        "machine are noisy: run it on a quiet one.",
    )
    compare.add_argument("name", help="dataset name (ped2, synthetic, ...)")
    compare.add_argument("--root", required=True, type=Path, help="dataset root folder")
    compare.add_argument(
        "--detections",
        type=Path,
        help="test boxes (default: ROOT/detections/boxes_test.npz, then yolov3_test.npz)",
    )
    compare.add_argument("--frames", type=int, default=32, help="frames of input (default 32)")
    compare.add_argument(
        "--stages",
        default="tubes,imagenet,detector,train,score,fps",
        help="comma-separated subset (default: all six)",
    )
    compare.add_argument(
        "--scale", type=_scales, default=[1], help="input multiples, e.g. 1,2,4 (default 1)"
    )
    compare.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs of each stage and its reference, fastest kept (default 3)",
    )
    compare.add_argument("--arch", choices=list(ARCHITECTURE_NAMES), default="shallow_narrow")
    compare.add_argument("--t", type=int, default=T, help=f"frames i-t..i+t (default {T})")
    compare.add_argument("--train-batch", type=int, default=16, help="default 16")
    compare.add_argument("--train-steps", type=int, default=4, help="per 1x (default 4)")
    compare.add_argument("--ref-batch", type=int, default=32, help="reference batch (default 32)")
    compare.add_argument("--imagenet", default="mobilenet_v2_imagenet.torchscript.pt")
    compare.add_argument("--yolo", default="yolo11n_coco.pt")
    compare.add_argument("--image-size", type=int, default=640, help="YOLO input (default 640)")
    compare.add_argument(
        "--fps-detector",
        default="precomputed",
        help="detector of the end-to-end stage: precomputed | yolo (default precomputed)",
    )
    compare.add_argument(
        "--bf16",
        action="store_true",
        help="also time training and the ImageNet network in bf16 autocast beside fp32",
    )
    compare.add_argument("--interop-threads", type=int, default=0, help="0: default")
    compare.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    compare.add_argument("--out", type=Path, help="default: metrics/NAME/bench.json")
    add_json_argument(compare)
    compare.set_defaults(func=cmd_bench_compare)


def cmd_bench_compare(args: argparse.Namespace) -> int:
    import tempfile

    import torch

    from bench.data import DatasetError, open_dataset
    from bench.suite.bench_compare import (
        format_report,
        format_row,
        prepare_inputs,
        run_compare,
        write_report,
    )
    from bench.suite.bench_tubes import default_detections, load_detections

    if args.interop_threads > 0:  # the intra-op threads: ssmtl --threads N bench compare
        torch.set_num_interop_threads(args.interop_threads)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    options = {
        "t": args.t, "arch": args.arch, "imagenet": args.imagenet, "yolo": args.yolo,
        "image_size": args.image_size, "train_batch": args.train_batch,
        "train_steps": args.train_steps, "ref_batch": args.ref_batch,
        "fps_detector": args.fps_detector, "bf16": args.bf16,
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="ssmtl-bench-compare-") as scratch:
        try:
            dataset = open_dataset(args.name, args.root)
            path = args.detections or default_detections(args.root, "test")
            detections, _ = load_detections(path, args.name, None)
            inputs = prepare_inputs(dataset, detections, args.frames, args.work or scratch,
                                    **options)  # fmt: skip
            report = run_compare(
                inputs, stages, args.scale, repeats=args.repeats,
                on_row=lambda row: print(format_row(row), flush=True),
            )  # fmt: skip
        except (DatasetError, ValueError, OSError, RuntimeError) as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    report["inputs"]["detections_file"] = str(path)
    out = write_report(args.out or Path("metrics") / args.name / "bench.json", report)
    emit(args, report, f"{format_report(report)}\nwritten to {out}")
    return 0
