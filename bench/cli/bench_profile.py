"""``ssmtl bench profile``: where a training step's time goes, beside the machine's ceilings
(issue 15). The arguments are parsed here; the measurement is :mod:`bench.suite.bench_profile`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.output import add_json_argument, emit
from bench.paper import ARCHITECTURE_NAMES, T

#: where the report looks for profiles (bench.report.performance.PROFILE_GLOB)
DEFAULT_OUT = Path("metrics/profile/training.json")


def add_profile(sub: argparse._SubParsersAction) -> None:
    profile = sub.add_parser(
        "profile",
        help="where a training step's time goes, beside the CPU's matmul and copy ceilings",
        description="Time one architecture's CPU training step (all four tasks, eq. 5, random "
        "tubes), count its FLOPs and profile it: each operator's time by category "
        "(convolutions: compute-bound; batch norm, ReLU, pooling, fills, copies: memory-bound), "
        "the convolutions' GFLOP/s against a 2048^2 fp32 matmul on the same threads, the least "
        "bytes batch norm and ReLU must move against a 256 MB copy's GB/s, and the samples/s "
        "the step could reach if everything but the convolutions took no time. Print the table "
        "and write it to --out, which the report reads. Run it on a quiet machine (~1 min).",
    )
    profile.add_argument("--arch", choices=list(ARCHITECTURE_NAMES), default="shallow_narrow")
    profile.add_argument("--batch-size", type=int, default=16, help="default 16")
    profile.add_argument("--t", type=int, default=T, help=f"frames i-t..i+t (default {T})")
    profile.add_argument("--steps", type=int, default=5, help="timed and profiled steps (5)")
    profile.add_argument(
        "--precision", choices=["fp32", "bf16"], default="fp32", help="autocast (default fp32)"
    )
    profile.add_argument(
        "--channels-last",
        choices=["on", "off"],
        default="on",
        help="the encoder's 3D layout (default on, the model's own)",
    )
    profile.add_argument(
        "--target",
        type=float,
        help="training samples/s to test against the bounds (default: 39.2, issue 15's 2x of "
        "the 19.6 it started from)",
    )
    profile.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    add_json_argument(profile)
    profile.set_defaults(func=cmd_bench_profile)


def cmd_bench_profile(args: argparse.Namespace) -> int:
    from bench.io import write_json
    from bench.suite.bench_compare import environment
    from bench.suite.bench_profile import TARGET_SAMPLES_PER_S, format_profile, training_profile

    profile = training_profile(
        args.arch,
        args.batch_size,
        args.t,
        args.steps,
        precision=args.precision,
        channels_last=args.channels_last == "on",
        target_samples_per_s=args.target or TARGET_SAMPLES_PER_S,
    )
    profile["environment"] = environment()
    write_json(args.out, profile)
    emit(args, profile, f"{format_profile(profile)}\nwritten to {args.out}")
    return 0
