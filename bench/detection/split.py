"""Run one detector over a whole dataset split: the objects of SSMTL (section 3.1).

Object-centric SSMTL builds its tubes and teacher targets from every detected object of every
frame; :func:`detect_split` collects them into one :class:`~bench.detection.table.Detections`
table per split, which :mod:`bench.teachers` turns into distillation targets.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from bench.data.base import Split, Video, VideoDataset
from bench.detection.base import MIN_BOX_SIDE, Detector, NoDetectionsError, screen_boxes
from bench.detection.precomputed import PrecomputedDetector
from bench.detection.table import Detections


def detect_split(
    dataset: VideoDataset,
    split: Split,
    detector: Detector,
    batch_size: int = 32,
    progress: bool = True,
) -> Detections:
    """Run ``detector`` over every video of ``split``, ``batch_size`` frames at a time.

    Calls ``detector.reset(video_id)`` before each video when the detector has it. Warns for
    each video with no detection and raises :class:`NoDetectionsError` (a
    :class:`~bench.data.DatasetError`) naming the dataset and split when the whole split has
    none. ``meta`` records the dataset, split, detector name and parameters, and the frame count
    of every video (so videos with no rows stay known).
    """
    from bench.progress import progress_bar

    videos = dataset.videos(split)
    meta = {
        "dataset": dataset.name,
        "split": split,
        "detector": detector.name,
        "params": detector.params(),
        "num_frames": {video.id: video.num_frames for video in videos},
    }
    parts: list[Detections] = []
    small: dict[str, int] = {}  # boxes dropped at ingestion, per video
    if isinstance(detector, PrecomputedDetector):
        parts = _precomputed_split(dataset, split, detector, videos, small)
    else:
        bar = progress_bar(
            total=sum(v.num_frames for v in videos),
            desc=f"{dataset.name} {split}: {detector.name}",
            unit="frame",
            disable=not progress,
        )
        with bar:
            for video in videos:
                if hasattr(detector, "reset"):
                    detector.reset(video.id)
                for start, frames in video.batches(batch_size):
                    found = detector.detect(frames)
                    if len(found) != len(frames):
                        raise RuntimeError(
                            f"{detector.name}: {len(found)} results for {len(frames)} frames"
                        )
                    part = Detections.from_frames(video.id, start, found)
                    height, width = frames.shape[1:3]
                    part, dropped = _screen(part, width, height, f"{detector.name} {video.id}")
                    small[video.id] = small.get(video.id, 0) + dropped
                    parts.append(part)
                    bar.update(len(frames))
    for video_id, count in small.items():
        if count:
            warnings.warn(
                f"{dataset.name} {split} video {video_id}: dropped {count} box(es) outside the "
                f"frame or under {MIN_BOX_SIDE:g} pixels wide or high after clipping",
                stacklevel=2,
            )
    table = Detections.concat(parts, meta=meta)
    counts = {video.id: 0 for video in videos}
    for video_id, count in zip(*np.unique(table.video, return_counts=True), strict=True):
        counts[str(video_id)] = int(count)
    if len(table) == 0:
        raise NoDetectionsError(
            f"{dataset.name} {split}: {detector.name} found no object in any of {len(videos)} "
            f"videos (parameters {detector.params()}); check the confidence threshold, the "
            "weights and the frames"
        )
    for video_id, count in counts.items():
        if count == 0:
            warnings.warn(
                f"{dataset.name} {split} video {video_id}: {detector.name} found no object",
                stacklevel=2,
            )
    return table


def _screen(part: Detections, width: int, height: int, where: str) -> tuple[Detections, int]:
    """``part`` with its boxes clipped and the degenerate ones dropped (:func:`screen_boxes`)."""
    if not len(part):
        return part, 0
    boxes, keep = screen_boxes(part.boxes, part.confidence, width, height, where)
    part.boxes = boxes
    return (part if keep.all() else part.filter(keep)), int((~keep).sum())


def _precomputed_split(
    dataset: VideoDataset,
    split: Split,
    detector: PrecomputedDetector,
    videos: Sequence[Video],
    small: dict[str, int],
) -> list[Detections]:
    """The file's rows of each video, without decoding frames: only frames outside the video
    are dropped (with a warning) and boxes clipped to the frame size."""
    known = set(detector.table.videos)
    ids = {video.id for video in videos}
    if known and not known & ids:
        raise NoDetectionsError(
            f"{dataset.name} {split}: {detector.path} has videos {sorted(known)[:5]}..., none of "
            f"this split's {sorted(ids)[:5]}... (wrong file for the split?)"
        )
    parts = []
    for video in videos:
        rows = detector.table.for_video(video.id)
        outside = (rows.frame < 0) | (rows.frame >= video.num_frames)
        if outside.any():
            warnings.warn(
                f"{detector.path}: {int(outside.sum())} rows of video {video.id} name frames "
                f"outside 0..{video.num_frames - 1}; dropped",
                stacklevel=3,
            )
            rows = rows.filter(~outside)
        if len(rows) and video.has_frames:
            height, width = video[0].shape[:2]
            rows, small[video.id] = _screen(
                rows, width, height, f"{detector.path} (video {video.id})"
            )
        parts.append(rows)
    return parts


__all__ = ["detect_split"]
