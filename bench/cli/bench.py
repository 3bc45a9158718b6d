"""``ssmtl bench compare|profile|tubes|model|fps``: the performance benchmarks of the stages.

The arguments are parsed here; the measurements are :mod:`bench.suite.bench_compare` (each stage
beside a plain reference), :mod:`bench.suite.bench_profile` (a training step's time by
operator), :mod:`bench.suite.bench_tubes`, :mod:`bench.suite.bench_model` and
:mod:`bench.suite.bench_fps` (supplementary section 6.2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.cli.args import EXIT_BAD_INPUT
from bench.cli.bench_compare import add_compare
from bench.cli.bench_profile import add_profile
from bench.cli.output import add_json_argument, emit
from bench.paper import ARCHITECTURE_NAMES, T

DESCRIPTION = """\
Benchmarks of the pipeline stages:

  compare  every hot stage (tubes, ImageNet teacher, detector teacher, training step, scoring,
         end to end) beside a plain reference written the obvious way, on the same inputs in
         one process: throughput, ratio, peak memory, at 1x/2x/4x the data with --scale.
  profile  where a CPU training step's time goes: each operator category's ms, the
         convolutions' GFLOP/s against a matmul's, batch norm's GB/s against a copy's, and the
         samples/s the step could reach if everything but the convolutions were free.
  tubes  tube cache build (section 3.1): tubes/s and peak resident memory for the detections
         as given (N) and for 2N, each build in a fresh process; the streaming build's memory
         should not grow with the number of tubes.
  model  the 3D CNN (section 3.2): training samples/s (all four tasks, eq. 5) and scoring
         objects/s (eq. 6) on random tubes, one JSON line per architecture and combination of
         --precision, --channels-last, --compile, --batch-size and --thread-counts.
  fps    end-to-end frames/s of online object-level inference and the ms per frame of each
         component (decode, detect, tubes, model, map), next to the paper's 23 FPS on a
         GTX 1080 Ti (supplementary section 6.2).
"""


def add_commands(commands: argparse._SubParsersAction) -> None:
    """``ssmtl bench`` and its subcommands ``compare``, ``profile``, ``tubes``, ``model``,
    ``fps``."""
    bench = commands.add_parser(
        "bench",
        help="benchmarks: tubes/s and peak memory, samples/s and objects/s, "
        "end-to-end FPS (supplementary 6.2)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = bench.add_subparsers(dest="bench_command", required=True)
    add_compare(sub)
    add_profile(sub)
    _add_tubes(sub)
    _add_model(sub)
    _add_fps(sub)


def _add_tubes(sub: argparse._SubParsersAction) -> None:
    tubes = sub.add_parser(
        "tubes",
        help="tube cache build: tubes/s and peak memory for N and 2N detections",
        description="Build the tube cache of a split for the detections (N) and for twice as "
        "many (each box plus a copy shifted by half a pixel), each in a fresh process, and "
        "report tubes/s and the build's peak resident memory (ru_maxrss above the baseline "
        "after the imports). Measure on Ped2 or the default synthetic preset: the tiny preset's "
        "frame blocks hold fewer objects than one roi_align chunk.",
    )
    tubes.add_argument("name", help="dataset name (ped2, synthetic, ...)")
    tubes.add_argument("--root", required=True, type=Path, help="dataset root folder")
    tubes.add_argument("--split", choices=["train", "test"], default="test", help="default test")
    tubes.add_argument(
        "--detections",
        type=Path,
        help="boxes .npz (one (k, 6) array per video) or a Detections .npz; "
        "default: ROOT/detections/boxes_SPLIT.npz, then yolov3_SPLIT.npz",
    )
    tubes.add_argument(
        "--confidence",
        type=float,
        help="keep boxes with confidence >= this (default: the paper's "
        "threshold for the dataset, else 0)",
    )
    tubes.add_argument("--t", type=int, default=T, help=f"frames i-t..i+t (default {T})")
    tubes.add_argument("--batch-frames", type=int, default=64, help="default 64")
    tubes.add_argument(
        "--workers", type=int, help="roi_align threads (default: the usable CPUs, at most 8)"
    )
    tubes.add_argument("--out", type=Path, help="scratch folder (default: a temporary folder)")
    tubes.add_argument("--keep", action="store_true", help="keep the caches (with --out)")
    add_json_argument(tubes)
    tubes.set_defaults(func=cmd_bench_tubes)


def _add_model(sub: argparse._SubParsersAction) -> None:
    model = sub.add_parser(
        "model",
        help="training samples/s and scoring objects/s of the 3D CNN",
        description="Training samples/s (all four proxy tasks, eq. 5 with lambda 0.5) and "
        "scoring objects/s (every head of eq. 6) of each architecture on random tubes, after "
        "two warm-up steps, device synchronised; one JSON line per architecture.",
    )
    model.add_argument(
        "--arch",
        nargs="+",
        default=list(ARCHITECTURE_NAMES),
        help="architectures (default: all four of Table 1)",
    )
    model.add_argument("--device", help="default: cuda when available, else cpu")
    model.add_argument("--batch-size", type=int, nargs="+", default=[32], help="default 32")
    model.add_argument("--steps", type=int, default=3, help="timed steps (default 3)")
    model.add_argument(
        "--precision",
        nargs="+",
        choices=["fp32", "bf16"],
        default=["fp32"],
        help="autocast precisions to time (default fp32; bf16 is emulated on CPUs without "
        "AVX-512 BF16 / AMX)",
    )
    on_off = {"on": True, "off": False}
    model.add_argument(
        "--channels-last",
        nargs="+",
        choices=list(on_off),
        default=["on"],
        help="the encoder's 3D layout: on (channels-last, the model's own) | off (default on)",
    )
    model.add_argument(
        "--compile",
        nargs="+",
        choices=list(on_off),
        default=["off"],
        help="torch.compile the encoder (default off; compilation takes minutes on CPU)",
    )
    model.add_argument(
        "--thread-counts",
        type=int,
        nargs="+",
        default=[0],
        help="torch CPU threads to time, e.g. 1 2 (default 0: as set by ssmtl --threads)",
    )
    model.add_argument(
        "--interop-threads", type=int, default=0, help="torch inter-op threads (0: default)"
    )
    model.add_argument("--t", type=int, default=T, help=f"frames i-t..i+t (default {T})")
    add_json_argument(model)
    model.set_defaults(func=cmd_bench_model)


def _add_fps(sub: argparse._SubParsersAction) -> None:
    fps = sub.add_parser(
        "fps",
        help="end-to-end frames/s of online inference per component, and model "
        "objects/s (supplementary 6.2)",
        description="Stream the first test video(s) frame by frame through decode, detection, "
        "tube cropping, the model and the anomaly map, timing each component, and measure the "
        "model alone on batches of random tubes; the run is added to the metrics file next to "
        "the paper's figures (supplementary section 6.2: 23 FPS on a GTX 1080 Ti).",
    )
    fps.add_argument("name", help="dataset name (ped2, synthetic, ...)")
    fps.add_argument("--root", required=True, type=Path, help="dataset root folder")
    fps.add_argument(
        "--detector",
        default="precomputed",
        help="yolo | precomputed | background_subtraction | full_frame (default: precomputed)",
    )
    fps.add_argument(
        "--precomputed",
        type=Path,
        help="precomputed: boxes .npz (one (k, 6) array per video); default: "
        "ROOT/detections/boxes_test.npz, then yolov3_test.npz",
    )
    fps.add_argument(
        "--weights",
        default="yolo11n_coco.pt",
        help="yolo: checkpoint path or name in $SSMTL_MODELS_DIR "
        "(default yolo11n_coco.pt; paper: yolov3u.pt)",
    )
    fps.add_argument(
        "--confidence",
        type=float,
        help="keep boxes with confidence >= this (default: the paper's threshold "
        "for the dataset, else 0.5)",
    )
    fps.add_argument(
        "--image-size",
        type=int,
        default=640,
        help="yolo: input size of the long side (default 640)",
    )
    weights = fps.add_mutually_exclusive_group()
    weights.add_argument(
        "--model",
        type=Path,
        help="SSMTL checkpoint (default: a randomly initialised --arch; speed "
        "does not depend on the weights)",
    )
    weights.add_argument(
        "--arch",
        choices=list(ARCHITECTURE_NAMES),
        default="shallow_narrow",
        help="default shallow_narrow",
    )
    fps.add_argument(
        "--t",
        type=int,
        default=T,
        help=f"frames i-t..i+t (without --model; a checkpoint has its own; default {T})",
    )
    fps.add_argument("--frames", type=int, default=60, help="frames measured (default 60)")
    fps.add_argument(
        "--warmup",
        type=int,
        default=10,
        help="frames run first and left out of the figures (default 10)",
    )
    fps.add_argument(
        "--device",
        choices=["cpu", "cuda", "auto"],
        default="auto",
        help="default auto: cuda when available",
    )
    fps.add_argument(
        "--out",
        type=Path,
        help="metrics file (default: metrics/NAME/fps.json); a run replaces the "
        "run of the same device, detector and arch",
    )
    add_json_argument(fps)
    fps.set_defaults(func=cmd_bench_fps)


def _error(error: Exception) -> int:
    print(f"error: {error}", file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_bench_tubes(args: argparse.Namespace) -> int:
    import tempfile

    from bench.data import DatasetError, open_dataset
    from bench.suite.bench_tubes import benchmark_tubes, default_detections, load_detections

    try:
        dataset = open_dataset(args.name, args.root)
        path = args.detections or default_detections(args.root, args.split)
        detections, confidence = load_detections(path, args.name, args.confidence)
    except (DatasetError, ValueError, OSError) as error:
        return _error(error)
    key = {"detections_file": str(path), "confidence": confidence}
    with tempfile.TemporaryDirectory(prefix="ssmtl-bench-tubes-") as scratch:
        report = benchmark_tubes(
            dataset,
            args.split,
            detections,
            args.t,
            args.out or scratch,
            batch_frames=args.batch_frames,
            workers=args.workers,
            key=key,
            keep=args.keep and args.out is not None,
        )
    emit(args, report)
    return 0


def cmd_bench_model(args: argparse.Namespace) -> int:
    import torch

    from bench.suite.bench_model import benchmark_model, knob_grid

    if args.interop_threads > 0:
        torch.set_num_interop_threads(args.interop_threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    on = {"on": True, "off": False}
    grid = list(
        knob_grid(
            args.precision,
            [on[v] for v in args.channels_last],
            [on[v] for v in args.compile],
            args.batch_size,
            args.thread_counts,
        )
    )
    reports = []
    for arch in args.arch:
        for knobs in grid:
            batch_size = knobs.pop("batch_size")
            report = benchmark_model(arch, device, batch_size, args.steps, args.t, **knobs)
            reports.append(report)
            print(json.dumps(report), flush=True)  # JSON Lines as each finishes (stderr: --json)
    emit(args, reports)
    return 0


def cmd_bench_fps(args: argparse.Namespace) -> int:
    import torch

    from bench.data import DatasetError, open_dataset
    from bench.model import SSMTL
    from bench.suite.bench_fps import benchmark_fps, format_fps_run, fps_detector, write_fps_run
    from bench.train import load_checkpoint

    auto = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(auto if args.device == "auto" else args.device)
    model, t = SSMTL(args.arch), args.t
    try:
        if args.model:
            model, _, t = load_checkpoint(args.model)
        dataset = open_dataset(args.name, args.root)
        # RuntimeError: the weights are not a YOLO checkpoint
        detector = fps_detector(
            args.name,
            args.root,
            args.detector,
            args.weights,
            args.confidence,
            args.image_size,
            args.precomputed,
            device,
        )
        run = benchmark_fps(
            dataset, detector, model, t, frames=args.frames, warmup=args.warmup, device=device
        )
    except (DatasetError, ValueError, OSError, RuntimeError) as error:
        return _error(error)
    run["checkpoint"] = str(args.model) if args.model else None
    write_fps_run(args.out or Path("metrics") / args.name / "fps.json", run)
    note = f"\n  (randomly initialised {args.arch}: speed does not depend on the weights)"
    emit(args, run, format_fps_run(run) + (note if args.model is None else ""))
    return 0
