"""The SSMTL pipeline stages, one function each; ``ssmtl`` and ``dvc.yaml`` call them in order:

detect (per split) -> teachers (per split) -> tubes (per split) -> train -> score -> evaluate.

Each stage reads the previous stage's files and writes its own atomically, so an interrupted
stage never leaves a file that a later one mistakes for finished.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from bench import tracking, tracking_model
from bench.data import VideoDataset
from bench.detection import (
    BackgroundSubtractionDetector,
    Detections,
    Detector,
    FullFrameDetector,
    PrecomputedDetector,
    YoloDetector,
    detect_split,
)
from bench.devices import device_name, pick_device
from bench.errors import InputError, ProvenanceError
from bench.io import read_arrays, save_npz, write_json
from bench.metrics.curves import history_path, history_table, write_table
from bench.score import (
    MapConfig,
    frame_sizes,
    head_frame_scores,
    late_fusion,
    object_scores,
    scored_regions,
    validation_statistics,
    video_frame_scores,
)
from bench.score.heads import check_head_scale
from bench.tasks import tubes_to_float
from bench.teachers import DetectorTeacher, ImageNetTeacher, teacher_targets
from bench.train import TrainConfig, load_checkpoint, save_checkpoint, train, use_bf16
from bench.tubes import TubeCache, build_tube_cache
from bench.tubes.plan import DetectionsMismatch
from bench.weights import resolve_weights

DETECTORS = ("yolo", "precomputed", "background_subtraction", "full_frame")


def make_detector(
    kind: str, weights: str, confidence: float, image_size: int, precomputed: str, device: str
) -> Detector:
    """A detector of the given kind (section 3.1: YOLO; SSMTL++: motion proposals; 3.5: frame
    level)."""
    if kind == "yolo":
        return YoloDetector(
            resolve_weights(weights), confidence=confidence, image_size=image_size, device=device
        )
    if kind == "precomputed":
        return PrecomputedDetector(precomputed, confidence=confidence)
    if kind == "background_subtraction":
        return BackgroundSubtractionDetector()
    if kind == "full_frame":
        return FullFrameDetector()
    raise ValueError(f"unknown detector {kind!r}; choose one of {DETECTORS}")


def run_detect(
    dataset: VideoDataset, split: str, detector: Detector, out: Path, frame_stride: int = 1
) -> Detections:
    """Detections of a split; ``frame_stride > 1`` keeps only frames ``0, s, 2s, ...`` (a CPU
    profile option: fewer training objects; the tubes still read every frame of their window)."""
    detections = detect_split(dataset, split, detector)
    if frame_stride > 1:
        detections = detections.filter(detections.frame % frame_stride == 0)
        detections.meta["frame_stride"] = frame_stride
    out.parent.mkdir(parents=True, exist_ok=True)
    detections.save(out)
    return detections


def run_teachers(
    dataset: VideoDataset,
    split: str,
    detections_path: Path,
    out: Path,
    imagenet: str | None,
    detector_weights: str | None,
    match: str,
    image_size: int,
    device: str,
    imagenet_batch: int = 16,
) -> np.ndarray:
    """Distillation targets (section 3.3, task 4). ``imagenet=None`` keeps only the detector part
    (test splits); ``detector_weights=None`` only the ImageNet part (the frame level, section
    3.5); ``imagenet_batch`` crops per ImageNet forward."""
    detections = Detections.load(detections_path)
    teacher = (
        ImageNetTeacher(imagenet, device=device, batch_size=imagenet_batch) if imagenet else None
    )
    with_detector = detector_weights is not None
    needs_detector = with_detector and not bool(detections.has_class_scores.all())
    detector = (
        DetectorTeacher(
            resolve_weights(detector_weights), device=device, image_size=image_size, match=match
        )
        if needs_detector
        else None
    )
    return teacher_targets(
        detections, dataset, split, out, teacher, detector, with_detector=with_detector
    )


def load_subsampled(
    detections_path: Path, teachers_path: Path | None, stride: int
) -> tuple[Detections, np.ndarray | None]:
    """The detections of frames ``0, n, 2n, ...`` (``n = stride``) and their teacher rows (row ``i``
    belongs to detection ``i``; ``None`` without a teachers file). A CPU-profile knob of the search
    and the ablation; ``stride = 1`` keeps everything."""
    detections = Detections.load(detections_path)
    keep = detections.frame % stride == 0
    teachers = None
    if teachers_path is not None:
        teachers = read_arrays(teachers_path, "teachers file").get("")
        if teachers is None:
            raise InputError(
                "not a teachers file: an .npz archive, expected one .npy array",
                file=teachers_path,
                fix="give the .npy that ssmtl teachers wrote",
            )
        if teachers.ndim != 2 or len(teachers) != len(detections):
            raise ProvenanceError(
                f"teachers of shape {teachers.shape}, expected one row per detection of "
                f"{detections_path} ({len(detections)})",
                file=teachers_path,
                fix="give the teachers computed from these detections (ssmtl teachers)",
            )
        teachers = np.ascontiguousarray(teachers[keep])
    return detections.filter(keep), teachers


def check_origin(
    meta: dict, dataset_name: str, split: str, path: Path, what: str, fix: str | None = None
) -> None:
    """:class:`ProvenanceError` unless an artifact's ``meta`` (its recorded ``dataset`` and
    ``split``; either may be absent in files of older versions, then it is not compared) says it
    comes from ``dataset_name``/``split``."""
    recorded = meta.get("dataset")
    if isinstance(recorded, dict):  # a tube cache records {"name": ..., "root": ...}
        recorded = recorded.get("name")
    wrong = []
    if recorded is not None and recorded != dataset_name:
        wrong.append(f"dataset {recorded!r}, not {dataset_name!r}")
    if meta.get("split") is not None and meta["split"] != split:
        wrong.append(f"the {meta['split']} split, not the {split} split")
    if wrong:
        raise ProvenanceError(
            f"{what} of {' and of '.join(wrong)}",
            file=path,
            fix=fix or f"give the {what} of {dataset_name}'s {split} split",
        )


def run_tubes(
    dataset: VideoDataset, split: str, detections_path: Path, out_dir: Path, t: int, seed: int
) -> TubeCache:
    detections = Detections.load(detections_path)
    check_origin(detections.meta, dataset.name, split, detections_path, "detections")
    try:
        return build_tube_cache(
            dataset, split, detections, out_dir, t=t, seed=seed, key={"detections": detections.meta}
        )
    except DetectionsMismatch as error:  # the plan's check: name the file and what to do
        raise ProvenanceError(
            str(error),
            file=detections_path,
            fix=f"give the detections of {dataset.name}'s {split} split (ssmtl detect --split "
            f"{split})",
        ) from error


def check_teachers(teachers: np.ndarray, cache: TubeCache, path: Path) -> None:
    """:class:`InputError` naming ``path`` unless the teachers are a 2-D array of finite numbers
    with one row per detection the cache was cut from (checked before hours of training: a short
    file would fail mid-epoch, a NaN would train silently to NaN)."""
    fix = "give the teachers computed from the detections of this tube cache (ssmtl teachers)"
    rows = cache.meta.get("counts", {}).get("detections")
    needed = int(cache.index["detection_row"].max()) + 1 if len(cache) else 0
    if teachers.ndim != 2 or teachers.dtype.kind != "f":
        problem = f"teachers of shape {teachers.shape} and type {teachers.dtype}"
        raise InputError(f"{problem}, expected a 2-D float array", file=path, fix=fix)
    if len(teachers) < needed or (rows is not None and len(teachers) != rows):
        raise ProvenanceError(
            f"{len(teachers)} teacher rows, but the tube cache {cache.root} was cut from "
            f"{rows if rows is not None else f'at least {needed}'} detections",
            file=path,
            fix=fix,
        )
    if not np.isfinite(teachers).all():
        raise InputError("teachers hold NaN or infinite values", file=path, fix=fix)


def run_train(
    tubes_dir: Path,
    teachers_path: Path | None,
    config: TrainConfig,
    out_model: Path,
    metrics_out: Path,
    dataset_name: str,
    level: str = "object",
    experiment: str = "ssmtl-train",
    checkpoint_dir: Path | None = None,
    frame_stride: int = 1,
    time_budget_s: float = 0.0,
) -> dict:
    """Train (section 3.3) as one MLflow run: params, per-epoch losses, Table 4 figures,
    checkpoint. ``frame_stride = n > 1``: the objects of frames ``0, n, 2n, ...`` only (as a cache
    cut at that stride); ``time_budget_s``: :func:`bench.train.train`'s."""
    cache = TubeCache.open(tubes_dir)
    fix = f"give the training tube cache of {dataset_name} (ssmtl tubes --split train)"
    check_origin(cache.meta, dataset_name, "train", Path(tubes_dir), "tube cache", fix)
    objects = None
    if frame_stride > 1:
        objects = np.flatnonzero(cache.index["frame"] % frame_stride == 0)
    teachers = (
        np.load(teachers_path, mmap_mode="r")
        if teachers_path and "distill" in config.tasks
        else None
    )
    if teachers is not None:
        check_teachers(teachers, cache, Path(teachers_path))
    tags = {
        "dataset": dataset_name,
        "arch": config.arch,
        "tasks": "+".join(config.tasks),
        "level": level,
    }
    device = pick_device(config.device)
    with tracking.run(
        experiment,
        f"{dataset_name}-{config.arch}-{'+'.join(config.tasks)}",
        {**asdict(config), "t": cache.t},
        tags,
    ) as mlflow:
        start = time.perf_counter()
        result = train(
            cache,
            teachers,
            config,
            on_epoch=lambda epoch, record: tracking.log_epoch(record, epoch),
            objects=objects,
            checkpoint_dir=checkpoint_dir,
            time_budget_s=time_budget_s,
        )
        save_checkpoint(out_model, result, config, cache.t)
        tracking.tag_model_file(out_model)
        summary = {
            "best_epoch": result.best_epoch,
            **result.best_val.flat("val"),
            "train_seconds": time.perf_counter() - start,
            "train_tubes": len(cache) if objects is None else len(objects),
            "epochs_trained": len(result.history),
            "device": device_name(device),
            "config": {
                **asdict(config),
                "t": cache.t,
                "level": level,
                "train_frame_stride": cache.frame_stride * frame_stride,
                "autocast": "bf16" if use_bf16(config.precision, device) else "fp32",
            },
        }
        write_json(metrics_out, summary)
        write_table(history_path(metrics_out), history_table(result.history))
        tracking.log_best({"best_epoch": result.best_epoch, **result.best_val.flat("val")})
        mlflow.log_metrics({"train_seconds": summary["train_seconds"]})
        mlflow.log_artifact(str(metrics_out))
        log_trained_model(out_model, cache)
    return summary


def log_trained_model(path: Path, cache: TubeCache) -> None:
    """The saved checkpoint as an MLflow model with a signature and two training tubes as its
    input example (``mlflow.pytorch.load_model`` returns the SSMTL module)."""
    model, _, _ = load_checkpoint(path)
    example = tubes_to_float(cache.tubes[: min(2, len(cache))], "cpu")
    with torch.no_grad():
        output = model(example, model.tasks[0])
    tracking_model.log_model(model, example, output)


def run_score(
    dataset: VideoDataset,
    model_path: Path,
    tubes_dir: Path,
    targets_path: Path | None,
    config: MapConfig,
    out_scores: Path,
    out_regions: Path,
    out_objects: Path,
    device: str = "cpu",
    out_heads: Path | None = None,
    imagenet_term: str = "none",
    head_scale: str = "eq6",
    validation_tubes: Path | None = None,
    validation_targets: Path | None = None,
    drop_heads: tuple[str, ...] = (),
) -> dict[str, np.ndarray]:
    """Object scores (eq. 6), frame scores (section 3.4) and scored regions of the test split;
    with ``out_heads`` also each head's own frame scores (``<task>/<video>``), for the per-head
    diagnosis of ``ssmtl evaluate --heads``. ``head_scale`` (:mod:`bench.score.heads`):
    every scale but ``eq6`` standardises the heads with the statistics of the validation objects
    of ``validation_tubes`` (the training cache; its teachers ``validation_targets``); given,
    those statistics (on the head scale's scale) are recorded in ``out_objects``. ``drop_heads``
    leaves heads out of eq. (6)'s mean (:func:`~bench.score.objects.score_tasks`)."""
    check_head_scale(head_scale)
    cache = TubeCache.open(tubes_dir)  # checked before the model is loaded
    fix = f"give the test tube cache of {dataset.name} (ssmtl tubes --split test)"
    check_origin(cache.meta, dataset.name, "test", Path(tubes_dir), "tube cache", fix)
    if head_scale != "eq6" and validation_tubes is None:
        raise InputError(
            f"head scale {head_scale} needs the validation objects",
            fix="give --validation-tubes (the training tube cache), or --head-scale eq6",
        )
    train_cache = None
    if validation_tubes is not None:  # its statistics are recorded whatever the head scale
        train_cache = TubeCache.open(validation_tubes)
        fix = f"give the training tube cache of {dataset.name} (ssmtl tubes --split train)"
        check_origin(
            train_cache.meta, dataset.name, "train", Path(validation_tubes), "tube cache", fix
        )
    model, _, t = load_checkpoint(model_path, device)
    if cache.t != t:
        raise ProvenanceError(
            f"tubes built with t={cache.t}, model trained with t={t}",
            file=tubes_dir,
            fix=f"build the test tubes with --t {t}",
        )
    targets = (
        np.load(targets_path, mmap_mode="r") if targets_path and "distill" in model.tasks else None
    )
    stats = None
    if train_cache is not None:
        if train_cache.t != t:
            raise ProvenanceError(
                f"tubes built with t={train_cache.t}, model trained with t={t}",
                file=validation_tubes,
                fix=f"give the training tubes the model was trained on (--t {t})",
            )
        train_targets = None
        if "distill" in model.tasks:
            if validation_targets is None:
                raise InputError(
                    "the distillation head's validation scores need the training teachers",
                    fix="give --validation-targets (ssmtl teachers --split train)",
                )
            train_targets = np.load(validation_targets, mmap_mode="r")
            check_teachers(train_targets, train_cache, Path(validation_targets))
        stats = validation_statistics(model, train_cache, train_targets, head_scale=head_scale)
    how = {"imagenet_term": imagenet_term, "head_scale": head_scale, "drop_heads": drop_heads}
    heads = object_scores(model, cache, targets, stats=stats, **how)
    sizes = frame_sizes(dataset)
    frames = video_frame_scores(cache, heads["score"], sizes, config)
    save_npz(out_scores, frames)
    save_npz(out_regions, scored_regions(cache, heads["score"]))
    save_npz(
        out_objects,
        {
            **heads,
            "video": cache.index["video"],
            "frame": cache.index["frame"],
            "box": cache.index["box"],
            **{f"validation_mean/{task}": np.float64(m) for task, (m, _) in (stats or {}).items()},
            **{f"validation_std/{task}": np.float64(sd) for task, (_, sd) in (stats or {}).items()},
        },
    )
    if out_heads is not None:
        save_npz(out_heads, head_frame_scores(cache, heads, model.tasks, sizes, config))
    return frames


def run_fusion(
    object_scores_path: Path, frame_scores_path: Path, out: Path, weight: float = 0.5
) -> None:
    """Late fusion of object-level and frame-level frame scores (section 3.5)."""
    from bench.metrics.evaluate import check_frame_scores

    object_level = read_arrays(object_scores_path, "object-level frame scores")
    frame_level = read_arrays(frame_scores_path, "frame-level frame scores")
    check_frame_scores(object_level, object_scores_path)
    check_frame_scores(frame_level, frame_scores_path)
    fused = late_fusion(
        object_level, frame_level, weight, names=(object_scores_path, frame_scores_path)
    )
    save_npz(out, fused)
