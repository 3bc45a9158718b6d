"""``ssmtl``: the command line of ssmtl-bench.

  ssmtl data synth --out DIR [--seed N] [--preset tiny|default] [--difficulty D]
      Write the synthetic benchmark (Ped2 frames layout plus labels, masks, tracks, kinds).
  ssmtl data check NAME --root DIR [--json]
      Validate a dataset root and print its counts; exit 2 naming every problem.
  ssmtl baseline frame-diff NAME --root DIR --out FILE.npz
      Score every test frame by frame differencing (a no-training reference).
  ssmtl detect NAME --root DIR --split train|test --detector KIND --out FILE.npz
      Detect objects in every frame of a split (section 3.1), keeping the 80 class scores.
  ssmtl teachers NAME --root DIR --split S --detections FILE --out FILE.npy
      Distillation targets: ImageNet logits + detector class probabilities (task 4).
  ssmtl tubes NAME --root DIR --split S --detections FILE --t 3 --out DIR
      Object-centric sequences, cached on disk (memory-mapped, atomic, resumable).
  ssmtl train --tubes DIR --teachers FILE --arch A --tasks T1,T2,.. --out MODEL.pt
      Joint training on the proxy tasks (section 3.3), one MLflow run.
  ssmtl score NAME --root DIR --model MODEL.pt --tubes DIR --out-scores FILE.npz
      Object scores (eq. 6), anomaly maps and frame scores (section 3.4).
  ssmtl fuse --object-scores FILE --frame-scores FILE --out FILE.npz
      Late fusion of object-level and frame-level frame scores (section 3.5).
  ssmtl evaluate NAME --root DIR --scores FILE.npz [--regions FILE] [--json]
      Frame-level AUC (micro and macro) and, with regions, RBDC and TBDC.
  ssmtl search NAME --root DIR --detections FILE --teachers FILE --out FILE.json
      Optuna search of t and lambda on the validation joint loss (section 4.2), resumable.
  ssmtl ablation prepare|run NAME --root DIR ...
      Table 4: the shared tube caches, then rows x seeds (train, score, evaluate).
  ssmtl report [--metrics DIR] [--out reports]
      Tables 2-4 (micro and macro AUC, ours next to published) from the metrics files.
  ssmtl gate [--profiles NAME ...] [--override KEY=VALUE] [--write-reference --seeds 0 1 2]
      CI regression gate: small CPU profiles against stored reference AUCs.
  ssmtl bench tubes|model|fps ...
      Benchmarks: tubes/s and peak memory, samples/s and objects/s, end-to-end FPS.

Every command takes a leading ``--threads N`` (``ssmtl --threads 2 train ...``): torch's CPU
threads, which results depend on (the sums split differently across threads); params.yaml
``threads`` gives it to every pipeline stage. Without it torch uses all cores.

Dataset names: ped1, ped2, avenue, shanghaitech, synthetic. Exit codes: 0 success, 2 bad input
(the message names each file and problem).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.datasets import DATASETS, DatasetError, VideoDataset, check_dataset, open_dataset

if TYPE_CHECKING:
    from bench.score import MapConfig

EXIT_BAD_INPUT = 2
#: Commands with their own argument parser: ``ssmtl NAME ...`` runs ``MODULE.main([...])``.
DELEGATED = {
    "bench": ("bench.benchmarks", "benchmarks: 'ssmtl bench tubes|model|fps ...' (tubes/s, peak memory, samples/s, objects/s, FPS)"),
    "search": ("bench.search", "the Optuna search of t and lambda (section 4.2): 'ssmtl search -h'"),
    "report": ("bench.report", "Tables 2-4 from the metrics files: 'ssmtl report -h'"),
    "gate": ("bench.gate", "CI regression gate against stored reference AUCs: 'ssmtl gate -h'"),
}


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=sorted(DATASETS), help="benchmark name")
    parser.add_argument("--root", required=True, type=Path, help="dataset root folder")
    parser.add_argument("--labels", choices=["default", "masks", "mnad"], default="default", help="avenue only: frame labels from the official masks (default) or the MNAD file")
    parser.add_argument("--tracks-dir", type=Path, help="shanghaitech only: folder of AED track files (default: found under the root)")


def add_map_arguments(parser: argparse.ArgumentParser) -> None:
    """Anomaly-map options of section 3.4 (the paper gives no sizes: ours, see params.yaml)."""
    parser.add_argument("--map-scale", type=int, default=4, help="anomaly map is this many times smaller than the frame")
    parser.add_argument("--mean-filter", type=int, nargs=3, default=[3, 5, 5], metavar=("FRAMES", "H", "W"), help="3D mean filter size")
    parser.add_argument("--sigma", type=float, default=3.0, help="temporal Gaussian filter on frame scores (frames)")


def map_config(args: argparse.Namespace) -> "MapConfig":
    from bench.score import MapConfig

    return MapConfig(map_scale=args.map_scale, mean_filter=tuple(args.mean_filter), sigma=args.sigma)


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
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error


def comma_floats(text: str) -> tuple[float, ...]:
    """argparse type of a comma-separated number list (``0.1,0.5``)."""
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from error


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


def log_evaluation(args: argparse.Namespace, result: dict) -> None:
    """One MLflow run per evaluation: the metrics, the metrics JSON and the figures."""
    from bench import tracking

    params = {"dataset": args.name, "root": args.root, "scores": args.scores, "smooth_sigma": args.smooth_sigma, "normalize": args.normalize}
    with tracking.run("ssmtl-evaluate", f"{args.name}-{args.scores.stem}", params, {"dataset": args.name}) as mlflow:
        flat = {k: v for k, v in result.items() if isinstance(v, (int, float))}
        flat.update({f"auc_{k}": v for k, v in result.get("auc_by_kind", {}).items() if v is not None})
        mlflow.log_metrics(flat)
        if args.out:
            mlflow.log_artifact(str(args.out))
        if args.figures:
            mlflow.log_artifacts(str(args.figures), artifact_path="figures")


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
    if args.figures:
        from bench.figures import plot_frame_scores, plot_localization

        plot_frame_scores(dataset, scores, args.figures)
        if regions is not None:
            plot_localization(dataset, regions, args.figures)
    if args.track:
        log_evaluation(args, result)
    print_result(result, args.json)
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from bench.pipeline import make_detector, run_detect

    detector = make_detector(args.detector, args.weights, args.confidence, args.image_size, args.precomputed, args.device)
    detections = run_detect(dataset_from(args), args.split, detector, args.out, args.frame_stride)
    print(f"wrote {args.out} ({len(detections)} detections)")
    return 0


def cmd_teachers(args: argparse.Namespace) -> int:
    from bench.pipeline import run_teachers

    imagenet = None if args.imagenet == "none" else args.imagenet
    detector_weights = None if args.detector_weights == "none" else args.detector_weights
    targets = run_teachers(dataset_from(args), args.split, args.detections, args.out, imagenet, detector_weights, args.match, args.image_size, args.device)
    print(f"wrote {args.out} {targets.shape}")
    return 0


def cmd_tubes(args: argparse.Namespace) -> int:
    from bench.pipeline import run_tubes

    cache = run_tubes(dataset_from(args), args.split, args.detections, args.out, args.t, args.seed)
    print(f"wrote {cache}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bench.pipeline import run_train
    from bench.train import TrainConfig

    config = TrainConfig(arch=args.arch, tasks=tuple(args.tasks.split(",")), lam=args.lam, epochs=args.epochs, batch_size=args.batch_size,
                         lr=args.lr, seed=args.seed, device=args.device)
    summary = run_train(args.tubes, args.teachers, config, args.out, args.metrics, args.dataset, args.level)
    print_result({k: v for k, v in summary.items() if isinstance(v, (int, float))}, False)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from bench.pipeline import run_score

    run_score(dataset_from(args), args.model, args.tubes, args.targets, map_config(args), args.out_scores, args.out_regions, args.out_objects, args.device)
    print(f"wrote {args.out_scores}, {args.out_regions}, {args.out_objects}")
    return 0


def cmd_fuse(args: argparse.Namespace) -> int:
    from bench.pipeline import run_fusion

    run_fusion(args.object_scores, args.frame_scores, args.out, args.weight)
    print(f"wrote {args.out}")
    return 0


def cmd_ablation_prepare(args: argparse.Namespace) -> int:
    from bench.ablation import prepare_inputs
    from bench.search import read_best

    t, _ = read_best(args.search)
    sources = {
        level: {split: (args.detections / f"{prefix}{split}.npz", args.teachers / f"{prefix}{split}.npy") for split in ("train", "test")}
        for level, prefix in (("object", ""), ("frame", "frame_"))
        if level in args.levels
    }
    strides = {"train": args.train_frame_stride, "test": args.test_frame_stride}
    meta = prepare_inputs(dataset_from(args), sources, t, args.seed, strides, args.out)
    print(f"wrote {args.out}: {meta}")
    return 0


def cmd_ablation_run(args: argparse.Namespace) -> int:
    from bench.ablation import RowProfile, load_rows, output_path, run_row
    from bench.search import read_best

    rows = load_rows(args.rows)
    ids = args.row.split(",")
    unknown = [row for row in ids if row not in rows]
    if unknown:
        raise ValueError(f"{args.rows}: no row {', '.join(map(repr, unknown))}; rows: {', '.join(rows)}")
    runs = [(row, seed) for seed in args.seed for row in ids]
    outputs = {run: tuple(output_path(template, *run, len(ids), len(args.seed)) for template in (args.out, args.model)) for run in runs}
    _, lam = read_best(args.search)
    profile = RowProfile(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, device=args.device)
    dataset, maps = dataset_from(args), map_config(args)
    for row, seed in runs:
        summary = run_row(rows[row], seed, dataset, args.inputs, lam, profile, maps, args.alpha, args.beta, *outputs[row, seed])
        print(f"{row}, seed {seed}:")
        print_result({k: v for k, v in summary["eval"].items() if isinstance(v, float)}, False)
    return 0


def add_ablation_commands(commands: argparse._SubParsersAction) -> None:
    ablation = commands.add_parser("ablation", help="Table 4: train, score and evaluate the ablation rows").add_subparsers(dest="ablation", required=True)
    prepare = ablation.add_parser("prepare", help="the rows' shared tube caches at the searched t")
    add_dataset_arguments(prepare)
    prepare.add_argument("--search", required=True, type=Path, help="search result JSON (best t and lambda, ssmtl search)")
    prepare.add_argument("--detections", required=True, type=Path, help="folder of the pipeline's {,frame_}{train,test}.npz detections")
    prepare.add_argument("--teachers", required=True, type=Path, help="folder of the pipeline's {,frame_}{train,test}.npy teacher targets")
    prepare.add_argument("--levels", nargs="+", choices=["object", "frame"], default=["object", "frame"])
    prepare.add_argument("--train-frame-stride", type=int, default=1, help="keep the objects of every N-th training frame (1 = all, the paper)")
    prepare.add_argument("--test-frame-stride", type=int, default=1, help="score and evaluate every N-th test frame (1 = all, the paper)")
    prepare.add_argument("--seed", type=int, default=0, help="seed of the intermittent sequences")
    prepare.add_argument("--out", required=True, type=Path)
    prepare.set_defaults(func=cmd_ablation_prepare)

    run = ablation.add_parser("run", help="rows x seeds: train, score, evaluate (one MLflow child run of the sweep each)")
    add_dataset_arguments(run)
    run.add_argument("--row", required=True, help="row id in --rows (e.g. sn_T1, dw_all_frame), or several comma-separated, "
                     "run one after another in one process (each saves the ~7 s start-up of a process on CPU)")
    run.add_argument("--rows", type=Path, default=Path("experiments/ablation.yaml"))
    run.add_argument("--seed", type=comma_ints, default=(0,), help="seed, or several comma-separated (e.g. 0,1,2)")
    run.add_argument("--inputs", required=True, type=Path, help="folder written by 'ssmtl ablation prepare'")
    run.add_argument("--search", required=True, type=Path, help="search result JSON (lambda of eq. 5)")
    run.add_argument("--epochs", type=int, default=30)
    run.add_argument("--batch-size", type=int, default=0, help="0 = the paper's for the architecture")
    run.add_argument("--lr", type=float, default=1e-3)
    run.add_argument("--device", default="auto")
    add_map_arguments(run)
    run.add_argument("--alpha", type=float, default=0.1)
    run.add_argument("--beta", type=float, default=0.1)
    run.add_argument("--out", required=True, type=Path, help="metrics JSON to write; for several rows (seeds) a path holding {row} ({seed})")
    run.add_argument("--model", required=True, type=Path, help="checkpoint to write; for several rows (seeds) a path holding {row} ({seed})")
    run.set_defaults(func=cmd_ablation_run)


def add_pipeline_commands(commands: argparse._SubParsersAction) -> None:
    detect = commands.add_parser("detect", help="detect objects in every frame of a split (section 3.1)")
    add_dataset_arguments(detect)
    detect.add_argument("--split", choices=["train", "test"], required=True)
    detect.add_argument("--detector", choices=["yolo", "precomputed", "background_subtraction", "full_frame"], default="yolo")
    detect.add_argument("--weights", default="yolov3u.pt", help="YOLO weights: a path, or a name looked up in $SSMTL_MODELS_DIR (default yolov3u.pt, the paper's)")
    detect.add_argument("--confidence", type=float, default=0.5, help="keep boxes at or above this confidence (paper: 0.5 Ped2, 0.8 Avenue/ShanghaiTech)")
    detect.add_argument("--image-size", type=int, default=640, help="YOLO input size (default 640)")
    detect.add_argument("--precomputed", default="none", help="with --detector precomputed: .npz of [frame, x1, y1, x2, y2, conf] rows per video")
    detect.add_argument("--frame-stride", type=int, default=1, help="keep detections of every N-th frame only (1 = all, the paper; >1 = CPU profile)")
    detect.add_argument("--device", default="cpu")
    detect.add_argument("--out", required=True, type=Path)
    detect.set_defaults(func=cmd_detect)

    teachers = commands.add_parser("teachers", help="distillation targets of a split (task 4, n = 1080)")
    add_dataset_arguments(teachers)
    teachers.add_argument("--split", choices=["train", "test"], required=True)
    teachers.add_argument("--detections", required=True, type=Path)
    teachers.add_argument("--imagenet", default="resnet50", help="torchvision classifier name or TorchScript path; 'none' for test splits (eq. 6 needs only the detector)")
    teachers.add_argument("--detector-weights", default="yolov3u.pt", help="COCO detector for class probabilities of boxes that carry none; 'none' for ImageNet logits alone (the frame level, section 3.5)")
    teachers.add_argument("--match", choices=["iou", "nms"], default="nms", help="how a box finds the detector's class vector (see bench/teachers.py)")
    teachers.add_argument("--image-size", type=int, default=640)
    teachers.add_argument("--device", default="cpu")
    teachers.add_argument("--out", required=True, type=Path)
    teachers.set_defaults(func=cmd_teachers)

    tubes = commands.add_parser("tubes", help="cache the object-centric sequences of a split")
    add_dataset_arguments(tubes)
    tubes.add_argument("--split", choices=["train", "test"], required=True)
    tubes.add_argument("--detections", required=True, type=Path)
    tubes.add_argument("--t", type=int, default=3, help="frames before and after the object's frame (paper: 3)")
    tubes.add_argument("--seed", type=int, default=0, help="seed of the intermittent sequences")
    tubes.add_argument("--out", required=True, type=Path)
    tubes.set_defaults(func=cmd_tubes)

    train = commands.add_parser("train", help="joint training on the proxy tasks (one MLflow run)")
    train.add_argument("--dataset", default="dataset", help="dataset name for the run's tags")
    train.add_argument("--level", choices=["object", "frame"], default="object", help="what the tubes hold: detected objects or whole frames (section 3.5); a tag of the run")
    train.add_argument("--tubes", required=True, type=Path, help="training tube cache")
    train.add_argument("--teachers", type=Path, help="training distillation targets (.npy)")
    train.add_argument("--arch", choices=["shallow_narrow", "shallow_wide", "deep_narrow", "deep_wide"], default="shallow_narrow")
    train.add_argument("--tasks", default="arrow,motion,middle,distill", help="comma-separated subset of arrow,motion,middle,distill")
    train.add_argument("--lam", type=float, default=0.5, help="eq. (5) lambda (paper: 0.5 Ped2, 0.2 Avenue/ShanghaiTech)")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--batch-size", type=int, default=0, help="objects per batch; 0 = the paper's for the architecture")
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto")
    train.add_argument("--out", required=True, type=Path, help="checkpoint to write")
    train.add_argument("--metrics", required=True, type=Path, help="validation metrics JSON to write")
    train.set_defaults(func=cmd_train)

    score = commands.add_parser("score", help="object and frame scores of the test split (section 3.4)")
    add_dataset_arguments(score)
    score.add_argument("--model", required=True, type=Path)
    score.add_argument("--tubes", required=True, type=Path, help="test tube cache")
    score.add_argument("--targets", type=Path, help="test distillation targets (detector probabilities)")
    add_map_arguments(score)
    score.add_argument("--device", default="cpu")
    score.add_argument("--out-scores", required=True, type=Path)
    score.add_argument("--out-regions", required=True, type=Path)
    score.add_argument("--out-objects", required=True, type=Path)
    score.set_defaults(func=cmd_score)

    fuse = commands.add_parser("fuse", help="late fusion of object-level and frame-level frame scores (section 3.5)")
    fuse.add_argument("--object-scores", required=True, type=Path, help="frame scores of the object-level model (.npz)")
    fuse.add_argument("--frame-scores", required=True, type=Path, help="frame scores of the frame-level model (--detector full_frame)")
    fuse.add_argument("--weight", type=float, default=0.5, help="weight of the object level after per-video min-max normalisation")
    fuse.add_argument("--out", required=True, type=Path)
    fuse.set_defaults(func=cmd_fuse)


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

    add_pipeline_commands(commands)
    add_ablation_commands(commands)
    for name, (_, text) in DELEGATED.items():  # listed for the help; main() hands their arguments over
        commands.add_parser(name, help=text, add_help=False)

    evaluate = commands.add_parser("evaluate", help="frame AUC (micro/macro), RBDC and TBDC of a score file")
    add_dataset_arguments(evaluate)
    evaluate.add_argument("--scores", required=True, type=Path, help=".npz with one 1-D frame-score array per test video id")
    evaluate.add_argument("--regions", type=Path, help=".npz or folder of <video>.txt with rows frame,x_min,y_min,x_max,y_max,score")
    evaluate.add_argument("--smooth-sigma", type=float, default=0.0, help="temporal Gaussian sigma in frames applied before the AUC (default 0: off)")
    evaluate.add_argument("--normalize", type=parse_bool, default=False, metavar="{true,false}", help="min-max normalise scores per video before the AUC (default false)")
    evaluate.add_argument("--alpha", type=float, default=0.1, help="TBDC: fraction of a track's regions that must be detected (default 0.1)")
    evaluate.add_argument("--beta", type=float, default=0.1, help="RBDC/TBDC: IoU for a region to count as detected (default 0.1)")
    evaluate.add_argument("--out", type=Path, help="also write the metrics JSON here")
    evaluate.add_argument("--figures", type=Path, help="write score-vs-ground-truth plots (and localization overlays with --regions) here")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.add_argument("--track", action="store_true", help="log the evaluation as an MLflow run (store: see bench/tracking.py)")
    evaluate.set_defaults(func=cmd_evaluate)
    return parser


def pin_threads(argv: list[str]) -> list[str]:
    """Apply a leading ``--threads N`` (``torch.set_num_threads``; 0 = torch's default) and drop it."""
    if argv[:1] != ["--threads"]:
        return argv
    if len(argv) < 2 or not argv[1].isdigit():
        raise SystemExit("ssmtl: error: --threads needs a whole number (0 = all cores), e.g. ssmtl --threads 2 train ...")
    from bench.train import set_threads

    set_threads(int(argv[1]))
    return argv[2:]


def main(argv: list[str] | None = None) -> int:
    argv = pin_threads(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        return importlib.import_module(DELEGATED[argv[0]][0]).main(argv[1:])
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
