"""Arguments shared by several commands, and the argparse types of comma-separated lists."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bench.data import DATASETS, VideoDataset, open_dataset
from bench.devices import PRECISIONS
from bench.errors import EXIT_BAD_INPUT as EXIT_BAD_INPUT  # re-exported for the commands

if TYPE_CHECKING:
    from bench.score import MapConfig


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=sorted(DATASETS), help="benchmark name")
    parser.add_argument("--root", required=True, type=Path, help="dataset root folder")
    parser.add_argument(
        "--labels",
        choices=["default", "masks", "mnad"],
        default="default",
        help="avenue only: frame labels from the official masks (default) or the MNAD file",
    )
    parser.add_argument(
        "--tracks-dir",
        type=Path,
        help="shanghaitech only: folder of AED track files (default: found under the root)",
    )


def add_precision_argument(parser: argparse.ArgumentParser) -> None:
    """The training precision (docs/deviations.md, "Precision")."""
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto (default): bf16 autocast where the device computes bf16 natively (CUDA, a CPU "
        "with AVX-512 BF16: ~1.6-1.8x faster training), else fp32 (emulated bf16: ~20x slower)",
    )


def add_map_arguments(parser: argparse.ArgumentParser) -> None:
    """Anomaly-map options of section 3.4 (the paper gives no sizes: ours, see params.yaml)."""
    parser.add_argument(
        "--map-scale",
        type=ranged(int, 1),
        default=4,
        help="anomaly map is this many times smaller than the frame",
    )
    parser.add_argument(
        "--mean-filter",
        type=ranged(int, 1),
        nargs=3,
        default=[3, 5, 5],
        metavar=("FRAMES", "H", "W"),
        help="3D mean filter size",
    )
    parser.add_argument(
        "--sigma",
        type=ranged(float, 0),
        default=3.0,
        help="temporal Gaussian filter on frame scores (frames)",
    )


# bench.score.HEAD_SCALES, spelled out: importing bench.score loads torch, which `--help` must not
HEAD_SCALE_CHOICES = ("eq6", "zscore_validation", "log_zscore_validation")
# bench.paper.TASKS, spelled out for the same reason
HEAD_CHOICES = ("arrow", "motion", "middle", "distill")


def add_head_scale_argument(parser: argparse.ArgumentParser) -> None:
    """How eq. (6) combines the heads (bench.score.heads)."""
    parser.add_argument(
        "--head-scale",
        choices=HEAD_SCALE_CHOICES,
        default="eq6",
        help="how eq. (6) combines the heads: eq6 (the paper's plain mean, default), "
        "zscore_validation (each head standardised with its mean and std over the validation "
        "objects of the training tubes) or log_zscore_validation (the same after T1/T2 become "
        "log-odds and T3/T4 log errors); both deviations, docs/deviations.md",
    )


def add_drop_heads_argument(parser: argparse.ArgumentParser) -> None:
    """Heads left out of eq. (6)'s mean (bench.score.objects.score_tasks)."""
    parser.add_argument(
        "--drop-heads",
        nargs="*",
        choices=HEAD_CHOICES,
        default=[],
        metavar="HEAD",
        help="heads left out of eq. (6)'s mean (a deviation: the paper averages every head), "
        f"from {', '.join(HEAD_CHOICES)}; each head's own score is still written",
    )


def add_imagenet_term_argument(parser: argparse.ArgumentParser) -> None:
    """Eq. (6)'s T4 term at frame level (bench.score.objects.score_tasks)."""
    parser.add_argument(
        "--imagenet-term",
        choices=["none", "probabilities"],
        default="none",
        help="frame level (targets without detector probabilities): eq. (6) without its T4 term "
        "(none, default) or with T4 on ImageNet softmax probabilities; never raw logits",
    )


def add_test_inputs(parser: argparse.ArgumentParser) -> None:
    """The test split's tube cache and its detector class probabilities (eq. 6's T4)."""
    parser.add_argument("--tubes", required=True, type=Path, help="test tube cache")
    parser.add_argument(
        "--targets", type=Path, help="test detector class probabilities (T4 of eq. 6)"
    )


def add_validation_inputs(parser: argparse.ArgumentParser, required: bool = False) -> None:
    """The training tube cache whose validation objects give the heads' statistics."""
    parser.add_argument(
        "--validation-tubes",
        required=required,
        type=Path,
        help="training tube cache whose validation objects (last 15%% of each video) give "
        "the heads' statistics",
    )
    parser.add_argument(
        "--validation-targets", type=Path, help="that cache's teachers (distillation task)"
    )


def add_localization_arguments(parser: argparse.ArgumentParser) -> None:
    """RBDC/TBDC's two thresholds (Ramachandra et al., the paper's section 4.1)."""
    parser.add_argument(
        "--alpha",
        type=ranged(float, 0, 1),
        default=0.1,
        help="TBDC: fraction of a track's regions that must be detected (default 0.1)",
    )
    parser.add_argument(
        "--beta",
        type=ranged(float, 0, 1),
        default=0.1,
        help="RBDC/TBDC: IoU for a region to count as detected (default 0.1)",
    )


def add_bootstrap_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap",
        type=ranged(int, 0),
        default=1000,
        metavar="N",
        help="resamples of the test videos for the 95%% intervals (default 1000; 0: none)",
    )


def map_config(args: argparse.Namespace) -> MapConfig:
    from bench.score import MapConfig

    return MapConfig(
        map_scale=args.map_scale, mean_filter=tuple(args.mean_filter), sigma=args.sigma
    )


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


def comma_ints(text: str) -> tuple[int, ...]:
    """argparse type of a comma-separated integer list (``1,2,3``)."""
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from error


def comma_floats(text: str) -> tuple[float, ...]:
    """argparse type of a comma-separated number list (``0.1,0.5``)."""
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from error


def ranged(
    kind: Callable[[str], float], minimum: float | None = None, maximum: float | None = None
) -> Callable[[str], float]:
    """argparse type of a finite number in ``[minimum, maximum]``: a value out of range is a usage
    error (exit 2) naming the argument, the value and the range, before any work."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from error
        if (
            not math.isfinite(value)
            or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)
        ):
            bounds = " and ".join(
                b
                for b in (
                    f">= {minimum}" if minimum is not None else "",
                    f"<= {maximum}" if maximum is not None else "",
                )
                if b
            )
            raise argparse.ArgumentTypeError(f"{text} is out of range: it must be {bounds}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    # the range, for tests that try every ranged option (tests/reliability_matrix.py)
    parse.kind, parse.minimum, parse.maximum = kind, minimum, maximum  # type: ignore[attr-defined]
    return parse


def number_or_auto(
    kind: Callable[[str], float], minimum: float | None = None, maximum: float | None = None
) -> Callable[[str], float | str]:
    """argparse type of a number in ``[minimum, maximum]`` or ``auto`` (the paper's value for the
    dataset, section 4.2)."""
    number = ranged(kind, minimum, maximum)

    def parse(text: str) -> float | str:
        if text == "auto":
            return text
        try:
            return number(text)
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentTypeError(f"expected auto or a number: {error}") from error

    return parse


def resolve_auto(value: float | str, dataset: str, setting: str) -> float:
    """``value``, or for ``auto`` the paper's ``setting`` (t, lam, confidence) for ``dataset``."""
    from bench.paper import dataset_settings

    return dataset_settings(dataset)[setting] if value == "auto" else value
