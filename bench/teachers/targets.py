"""The distillation targets of task 4 (SSMTL, section 3.3) for a whole detections table.

The student learns, per detected object, ``Y = Y_ResNet (1000 pre-softmax ImageNet logits)
⊕ Y_YOLO (80 COCO class probabilities)`` (eq. 4, n = 1080). :func:`teacher_targets` runs
both teachers over a :class:`~bench.detection.Detections` table and streams the rows into an
``(N, 1080)`` float32 ``.npy`` memmap.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bench.data.base import DatasetError, Split, VideoDataset
from bench.detection.table import Detections
from bench.paper import IMAGENET_CLASSES, N_DISTILL
from bench.teachers.detector import DetectorTeacher, class_probabilities
from bench.teachers.imagenet import ImageNetTeacher


def teacher_targets(
    detections: Detections,
    dataset: VideoDataset,
    split: Split,
    out_path: str | Path,
    imagenet: ImageNetTeacher | None,
    detector: DetectorTeacher | None = None,
    batch_size: int = 32,
    progress: bool = True,
    recompute_class_scores: bool = False,
    with_detector: bool = True,
) -> np.ndarray:
    """Distillation targets ``float32 (N, 1080)`` of every row of ``detections``: columns
    0..999 the ImageNet logits of the box crop, 1000..1079 the detector's class probabilities
    (the table's own ``class_scores``; rows with NaN, or all rows with
    ``recompute_class_scores``, from ``detector``). Row ``i`` belongs to row ``i`` of the table.
    With ``imagenet=None`` (test splits: eq. 6 uses only the detector's probabilities, section
    3.4) the ImageNet columns are left NaN. With ``with_detector=False`` (the frame-level
    variant, section 3.5: "eliminating YOLOv3 from the pipeline") the targets are the 1000
    ImageNet logits alone, ``float32 (N, 1000)``.

    Streams over the videos, reading only the ``batch_size``-frame batches that hold detections
    (one batch in memory at a time), into a ``.npy`` written by
    :func:`numpy.lib.format.open_memmap` at ``out_path.tmp`` and renamed over ``out_path`` when
    complete. Returns the finished file opened read-only as a memmap.
    """
    from numpy.lib.format import open_memmap
    from tqdm.auto import tqdm

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if not with_detector and imagenet is None:
        raise ValueError("targets without the detector part need an ImageNet teacher")
    needs_detector = with_detector and (
        recompute_class_scores or not bool(detections.has_class_scores.all())
    )
    if needs_detector and detector is None:
        missing = int((~detections.has_class_scores).sum())
        raise ValueError(
            f"{missing} of {len(detections)} detections have no class scores (precomputed or "
            "motion boxes); pass a DetectorTeacher to compute them"
        )
    tmp = out_path.with_name(out_path.name + ".tmp")
    width = N_DISTILL if with_detector else IMAGENET_CLASSES
    targets = open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(detections), width))
    try:
        bar = tqdm(
            total=len(detections),
            desc=f"{dataset.name} {split}: teachers",
            unit="box",
            disable=not progress,
        )
        with bar:
            for video_id in detections.videos:
                try:
                    video = dataset.video(split, video_id)
                except KeyError as error:
                    raise DatasetError(
                        f"{dataset.name} {split}: detections name video {video_id!r}, "
                        "which is absent"
                    ) from error
                lo, hi = detections.video_slice(video_id)
                batch_of = detections.frame[lo:hi] // batch_size
                for batch in np.unique(batch_of):
                    rows = lo + np.flatnonzero(batch_of == batch)
                    start = int(batch) * batch_size
                    frames = video.read(start, start + batch_size)
                    local = detections.frame[rows] - start
                    if local.min() < 0 or local.max() >= len(frames):
                        raise DatasetError(
                            f"{dataset.name} {split} video {video_id}: detections name frames "
                            f"beyond its {video.num_frames}"
                        )
                    boxes = detections.boxes[rows]
                    targets[rows, :IMAGENET_CLASSES] = (
                        np.nan if imagenet is None else imagenet(frames, boxes, local)
                    )
                    if with_detector:
                        targets[rows, IMAGENET_CLASSES:] = class_probabilities(
                            detections, rows, frames, local, detector, recompute_class_scores
                        )
                    if imagenet is not None:
                        computed = targets[rows]
                    else:
                        computed = targets[rows, IMAGENET_CLASSES:]
                    if not np.isfinite(computed).all():
                        raise RuntimeError(
                            f"{dataset.name} {split} video {video_id}: non-finite teacher output"
                        )
                    bar.update(len(rows))
        targets.flush()
        del targets
        os.replace(tmp, out_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return np.load(out_path, mmap_mode="r")


__all__ = ["teacher_targets"]
