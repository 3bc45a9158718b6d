"""The distillation targets of task 4 (SSMTL, section 3.3) for a whole detections table.

The student learns, per detected object, ``Y = Y_ResNet (1000 pre-softmax ImageNet logits)
⊕ Y_YOLO (80 COCO class probabilities)`` (eq. 4, n = 1080). :func:`teacher_targets` runs
both teachers over a :class:`~bench.detection.Detections` table and streams the rows into an
``(N, 1080)`` float32 ``.npy`` memmap.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

from bench.data.base import DatasetError, Split, VideoDataset
from bench.detection.table import Detections
from bench.paper import IMAGENET_CLASSES, N_DISTILL
from bench.teachers.detector import DetectorTeacher, class_probabilities
from bench.teachers.imagenet import ImageNetTeacher

T_ = TypeVar("T_")


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
    (a background thread decodes the next batch while the networks run on this one,
    :func:`prefetched`; the ImageNet crops go through the network in fixed batches across frame
    batches, :meth:`ImageNetTeacher.stream`), into a ``.npy`` written by
    :func:`numpy.lib.format.open_memmap` at ``out_path.tmp`` and renamed over ``out_path`` when
    complete. Returns the finished file opened read-only as a memmap.
    """
    from numpy.lib.format import open_memmap

    from bench.progress import progress_bar

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
    where = f"{dataset.name} {split}"

    def with_class_scores(
        out: np.ndarray,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Each block's detector part written (the detector once per frame, batches of frames),
        then the block handed on to the ImageNet teacher."""
        for rows, frames, local in prefetched(_blocks(detections, dataset, split, batch_size)):
            if with_detector:
                out[rows, IMAGENET_CLASSES:] = class_probabilities(
                    detections, rows, frames, local, detector, recompute_class_scores
                )
            yield rows, frames, detections.boxes[rows], local

    def check(out: np.ndarray, rows: np.ndarray) -> None:
        computed = out[rows] if imagenet is not None else out[rows, IMAGENET_CLASSES:]
        if not np.isfinite(computed).all():
            video_id = detections.video[rows[0]]
            raise RuntimeError(f"{where} video {video_id}: non-finite teacher output")

    try:
        bar = progress_bar(
            total=len(detections), desc=f"{where}: teachers", unit="box", disable=not progress
        )
        with bar:
            if imagenet is None:
                for rows, *_ in with_class_scores(targets):
                    targets[rows, :IMAGENET_CLASSES] = np.nan
                    check(targets, rows)
                    bar.update(len(rows))
            else:  # fixed-size ImageNet batches across frame blocks (ImageNetTeacher.stream)
                for rows, logits in imagenet.stream(with_class_scores(targets)):
                    targets[rows, :IMAGENET_CLASSES] = logits
                    check(targets, rows)
                    bar.update(len(rows))
        targets.flush()
        del targets
        os.replace(tmp, out_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return np.load(out_path, mmap_mode="r")


def _blocks(
    detections: Detections, dataset: VideoDataset, split: Split, batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(rows, frames, frame index of the rows into frames)`` per ``batch_size``-frame block
    that holds detections, video by video."""
    for video_id in detections.videos:
        try:
            video = dataset.video(split, video_id)
        except KeyError as error:
            raise DatasetError(
                f"{dataset.name} {split}: detections name video {video_id!r}, which is absent"
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
            yield rows, frames, local


def prefetched(items: Iterator[T_], depth: int = 1) -> Iterator[T_]:
    """``items`` produced by a background thread, ``depth`` ahead of the consumer: decoding the
    next frame block overlaps the networks' compute on this one (decoding releases the GIL).
    An error in the producer is raised here, at the item where it happened."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put((end, None))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            slots.put((end, error))

    thread = threading.Thread(target=produce, name="teacher-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                slots.get_nowait()
            except queue.Empty:
                thread.join(0.05)


__all__ = ["prefetched", "teacher_targets"]
