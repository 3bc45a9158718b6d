"""The SSMTL stages as commands (section 3): ``ssmtl detect``, ``teachers``, ``tubes``,
``train``, ``score`` and ``fuse``; each calls one function of bench.pipeline."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import paper
from bench.cli.args import (
    add_dataset_arguments,
    add_drop_heads_argument,
    add_head_scale_argument,
    add_imagenet_term_argument,
    add_map_arguments,
    add_precision_argument,
    add_test_inputs,
    add_validation_inputs,
    dataset_from,
    map_config,
    number_or_auto,
    parse_bool,
    ranged,
    resolve_auto,
)
from bench.cli.output import add_json_argument, emit, format_numbers
from bench.io import read_arrays


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the pipeline's stages to the ``ssmtl`` subcommands."""
    add_pipeline_commands(commands)


def add_trust_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-weights",
        action="store_true",
        help="load YOLO weights that weights_only=True refuses (they can run code: only files "
        "from someone you trust)",
    )


def add_pipeline_commands(commands: argparse._SubParsersAction) -> None:
    detect = commands.add_parser(
        "detect", help="detect objects in every frame of a split (section 3.1)"
    )
    add_dataset_arguments(detect)
    detect.add_argument("--split", choices=["train", "test"], required=True)
    detect.add_argument(
        "--detector",
        choices=["yolo", "precomputed", "background_subtraction", "full_frame"],
        default="yolo",
    )
    detect.add_argument(
        "--weights",
        default="yolov3u.pt",
        help=(
            "YOLO weights: a path, or a name looked up in $SSMTL_MODELS_DIR "
            "(default yolov3u.pt, the paper's)"
        ),
    )
    add_trust_argument(detect)
    detect.add_argument(
        "--confidence",
        type=number_or_auto(float, 0, 1),
        default="auto",
        help="keep boxes at or above this confidence; auto (default): the paper's for the "
        "dataset, 0.5 Ped2, 0.8 Avenue/ShanghaiTech",
    )
    detect.add_argument(
        "--image-size", type=ranged(int, 32), default=640, help="YOLO input size (default 640)"
    )
    detect.add_argument(
        "--precomputed",
        default="none",
        help="with --detector precomputed: .npz of [frame, x1, y1, x2, y2, conf] rows per video",
    )
    detect.add_argument(
        "--frame-stride",
        type=ranged(int, 1),
        default=1,
        help="keep detections of every N-th frame only (1 = all, the paper; >1 = CPU profile)",
    )
    detect.add_argument("--device", default="cpu")
    detect.add_argument("--out", required=True, type=Path)
    detect.set_defaults(func=cmd_detect)

    teachers = commands.add_parser(
        "teachers", help="distillation targets of a split (task 4, n = 1080)"
    )
    add_dataset_arguments(teachers)
    teachers.add_argument("--split", choices=["train", "test"], required=True)
    teachers.add_argument("--detections", required=True, type=Path)
    teachers.add_argument(
        "--imagenet",
        default="resnet50",
        help=(
            "torchvision classifier name or TorchScript path; 'none' for test splits "
            "(eq. 6 needs only the detector)"
        ),
    )
    teachers.add_argument(
        "--detector-weights",
        default="yolov3u.pt",
        help=(
            "COCO detector for class probabilities of boxes that carry none; "
            "'none' for ImageNet logits alone (the frame level, section 3.5)"
        ),
    )
    add_trust_argument(teachers)
    teachers.add_argument(
        "--match",
        choices=["iou", "nms"],
        default="nms",
        help="how a box finds the detector's class vector (see bench/teachers/detector.py)",
    )
    teachers.add_argument("--image-size", type=ranged(int, 32), default=640)
    teachers.add_argument(
        "--imagenet-batch",
        type=ranged(int, 1),
        default=16,
        help="crops per ImageNet forward (default 16, the fastest on 2 CPU cores)",
    )
    teachers.add_argument("--device", default="cpu")
    teachers.add_argument("--out", required=True, type=Path)
    teachers.set_defaults(func=cmd_teachers)

    tubes = commands.add_parser("tubes", help="cache the object-centric sequences of a split")
    add_dataset_arguments(tubes)
    tubes.add_argument("--split", choices=["train", "test"], required=True)
    tubes.add_argument("--detections", required=True, type=Path)
    tubes.add_argument(
        "--t",
        type=number_or_auto(int, 1),
        default="auto",
        help="frames before and after the object's frame; auto (default): the paper's 3",
    )
    tubes.add_argument("--seed", type=int, default=0, help="seed of the intermittent sequences")
    tubes.add_argument("--out", required=True, type=Path)
    tubes.set_defaults(func=cmd_tubes)

    train = commands.add_parser("train", help="joint training on the proxy tasks (one MLflow run)")
    train.add_argument("--dataset", default="dataset", help="dataset name for the run's tags")
    train.add_argument(
        "--level",
        choices=["object", "frame"],
        default="object",
        help=(
            "what the tubes hold: detected objects or whole frames (section 3.5); a tag of the run"
        ),
    )
    train.add_argument("--tubes", required=True, type=Path, help="training tube cache")
    train.add_argument("--teachers", type=Path, help="training distillation targets (.npy)")
    train.add_argument(
        "--arch",
        choices=paper.ARCHITECTURE_NAMES,
        default="shallow_narrow",
    )
    train.add_argument(
        "--tasks",
        default=",".join(paper.TASKS),
        help="comma-separated subset of arrow,motion,middle,distill",
    )
    train.add_argument(
        "--lam",
        type=number_or_auto(float, 0),
        default="auto",
        help="eq. (5) lambda; auto (default): the paper's for --dataset, 0.5 Ped2, "
        "0.2 Avenue/ShanghaiTech",
    )
    train.add_argument("--epochs", type=ranged(int, 1), default=paper.EPOCHS)
    train.add_argument(
        "--batch-size",
        type=ranged(int, 0),
        default=0,
        help="objects per batch; 0 = the paper's for the architecture",
    )
    train.add_argument("--lr", type=ranged(float, 0), default=paper.LEARNING_RATE)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto")
    add_precision_argument(train)
    train.add_argument(
        "--deterministic",
        type=parse_bool,
        default=True,
        help="CUDA: deterministic kernels, the same numbers run to run (default true); false lets "
        "cuDNN pick its fastest kernels",
    )
    train.add_argument(
        "--max-minutes",
        type=ranged(float, 0),
        default=0,
        help="stop before an epoch that would end past this wall time (0: no limit); the run "
        "resumes from --checkpoint-dir when started again",
    )
    train.add_argument(
        "--frame-stride",
        type=int,
        default=1,
        help="train on the objects of every N-th frame of the cache only (default 1: all)",
    )
    train.add_argument(
        "--checkpoint-dir",
        type=Path,
        help="keep every epoch's weights here (epoch_NNN.pt) and resume a stopped run from it",
    )
    train.add_argument("--out", required=True, type=Path, help="checkpoint to write")
    train.add_argument(
        "--metrics", required=True, type=Path, help="validation metrics JSON to write"
    )
    add_json_argument(train)
    train.set_defaults(func=cmd_train)

    score = commands.add_parser(
        "score", help="object and frame scores of the test split (section 3.4)"
    )
    add_dataset_arguments(score)
    score.add_argument("--model", required=True, type=Path)
    add_test_inputs(score)
    add_map_arguments(score)
    score.add_argument("--device", default="cpu")
    score.add_argument("--out-scores", required=True, type=Path)
    score.add_argument("--out-regions", required=True, type=Path)
    score.add_argument("--out-objects", required=True, type=Path)
    score.add_argument(
        "--out-heads",
        type=Path,
        help="also each head's own frame scores, for the per-head AUCs of `evaluate --heads`",
    )
    add_imagenet_term_argument(score)
    add_head_scale_argument(score)
    add_drop_heads_argument(score)
    add_validation_inputs(score)
    score.set_defaults(func=cmd_score)

    fuse = commands.add_parser(
        "fuse", help="late fusion of object-level and frame-level frame scores (section 3.5)"
    )
    fuse.add_argument(
        "--object-scores",
        required=True,
        type=Path,
        help="frame scores of the object-level model (.npz)",
    )
    fuse.add_argument(
        "--frame-scores",
        required=True,
        type=Path,
        help="frame scores of the frame-level model (--detector full_frame)",
    )
    fuse.add_argument(
        "--weight",
        type=ranged(float, 0, 1),
        default=0.5,
        help="weight of the object level after per-video min-max normalisation",
    )
    fuse.add_argument("--out", required=True, type=Path)
    fuse.set_defaults(func=cmd_fuse)


def cmd_detect(args: argparse.Namespace) -> int:
    from bench.pipeline import make_detector, run_detect
    from bench.weights import trusting_weights

    with trusting_weights(args.trust_weights):
        detector = make_detector(
            args.detector,
            args.weights,
            resolve_auto(args.confidence, args.name, "confidence"),
            args.image_size,
            args.precomputed,
            args.device,
        )
    detections = run_detect(dataset_from(args), args.split, detector, args.out, args.frame_stride)
    print(f"wrote {args.out} ({len(detections)} detections)")
    return 0


def cmd_teachers(args: argparse.Namespace) -> int:
    from bench.pipeline import run_teachers
    from bench.weights import trusting_weights

    imagenet = None if args.imagenet == "none" else args.imagenet
    detector_weights = None if args.detector_weights == "none" else args.detector_weights
    with trusting_weights(args.trust_weights):
        targets = run_teachers(
            dataset_from(args),
            args.split,
            args.detections,
            args.out,
            imagenet,
            detector_weights,
            args.match,
            args.image_size,
            args.device,
            args.imagenet_batch,
        )
    print(f"wrote {args.out} {targets.shape}")
    return 0


def cmd_tubes(args: argparse.Namespace) -> int:
    from bench.pipeline import run_tubes

    t = resolve_auto(args.t, args.name, "t")
    cache = run_tubes(dataset_from(args), args.split, args.detections, args.out, t, args.seed)
    print(f"wrote {cache}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bench.pipeline import run_train
    from bench.train import TrainConfig

    if args.teachers is not None:
        read_arrays(args.teachers, "teachers file")

    config = TrainConfig(
        arch=args.arch,
        tasks=tuple(args.tasks.split(",")),
        lam=resolve_auto(args.lam, args.dataset, "lam"),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
        deterministic=args.deterministic,
    )
    summary = run_train(
        args.tubes,
        args.teachers,
        config,
        args.out,
        args.metrics,
        args.dataset,
        args.level,
        checkpoint_dir=args.checkpoint_dir,
        frame_stride=args.frame_stride,
        time_budget_s=60 * args.max_minutes,
    )
    numbers = {k: v for k, v in summary.items() if isinstance(v, (int, float))}
    emit(args, summary, lambda: format_numbers(numbers))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from bench.pipeline import run_score

    if args.targets is not None:
        read_arrays(args.targets, "targets file")

    run_score(
        dataset_from(args),
        args.model,
        args.tubes,
        args.targets,
        map_config(args),
        args.out_scores,
        args.out_regions,
        args.out_objects,
        args.device,
        out_heads=args.out_heads,
        imagenet_term=args.imagenet_term,
        head_scale=args.head_scale,
        validation_tubes=args.validation_tubes,
        validation_targets=args.validation_targets,
        drop_heads=tuple(args.drop_heads),
    )
    print(f"wrote {args.out_scores}, {args.out_regions}, {args.out_objects}")
    return 0


def cmd_fuse(args: argparse.Namespace) -> int:
    from bench.pipeline import run_fusion

    read_arrays(args.object_scores, "object-level frame scores")
    read_arrays(args.frame_scores, "frame-level frame scores")

    run_fusion(args.object_scores, args.frame_scores, args.out, args.weight)
    print(f"wrote {args.out}")
    return 0
