"""The detector interface of the object detection stage (SSMTL, section 3.1).

Object-centric SSMTL starts from per-frame object boxes. Every detector has ``name``,
``params()`` (a JSON-serialisable dict for cache keys) and
``detect(frames) -> list[FrameDetections]`` for a batch of consecutive RGB ``uint8`` frames
``(n, H, W, 3)`` of one video. Detectors that keep state across frames (background
subtraction, precomputed files) also have ``reset(video_id=None)``;
:func:`bench.detection.split.detect_split` calls it before each video.

This module holds what every detector shares: :class:`FrameDetections`, the
:class:`Detector` protocol, :func:`detector_key` and the frame, box and file helpers.
Throughout, a box is kept when its confidence is ``>=`` the threshold.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from bench.data.base import DatasetError
from bench.errors import InputError
from bench.paper import COCO_CLASSES


class NoDetectionsError(DatasetError):
    """A whole split produced no detection (wrong threshold, weights, or frames)."""


@dataclass
class FrameDetections:
    """Detections of one frame: ``boxes (k, 4)`` x_min, y_min, x_max, y_max in frame pixels,
    ``confidence (k,)``, ``class_id (k,)`` (-1 unknown), ``class_scores (k, 80)`` (NaN
    unknown)."""

    boxes: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    class_scores: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> FrameDetections:
        return cls.without_classes(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    @classmethod
    def without_classes(cls, boxes: np.ndarray, confidence: np.ndarray) -> FrameDetections:
        """Boxes with unknown class (``class_id = -1``, NaN class scores)."""
        k = len(boxes)
        return cls(
            boxes=np.asarray(boxes, np.float32).reshape(k, 4),
            confidence=np.asarray(confidence, np.float32).reshape(k),
            class_id=np.full(k, -1, np.int16),
            class_scores=np.full((k, COCO_CLASSES), np.nan, np.float32),
        )


@runtime_checkable
class Detector(Protocol):
    """What :func:`~bench.detection.split.detect_split` needs from a detector (see module
    docstring)."""

    name: str

    def params(self) -> dict[str, Any]: ...

    def detect(self, frames: np.ndarray) -> list[FrameDetections]: ...


def detector_key(detector: Detector) -> str:
    """A short stable hash of ``detector.name`` and ``detector.params()`` (for cache file
    names)."""
    text = json.dumps(
        {"name": detector.name, "params": detector.params()}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def check_frames(frames: np.ndarray) -> np.ndarray:
    """``frames`` as an array, after checking they are RGB ``uint8`` ``(n, H, W, 3)``."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"expected RGB uint8 frames (n, H, W, 3), got {frames.dtype} {frames.shape}"
        )
    return frames


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """A ``float32 (k, 4)`` copy of ``xyxy`` boxes clipped to a ``width`` x ``height`` frame."""
    out = np.array(boxes, dtype=np.float32, copy=True).reshape(-1, 4)
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


MIN_BOX_SIDE = 1.0  # pixels; a thinner box after clipping has no pixel to cut a tube from


def screen_boxes(
    boxes: np.ndarray, confidence: np.ndarray, width: int, height: int, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes at ingestion: ``(clipped boxes, keep mask)``. A non-finite coordinate or confidence
    is an :class:`~bench.errors.InputError` naming ``where`` (corrupt data: nothing is guessed);
    boxes that after clipping to the frame are narrower or lower than :data:`MIN_BOX_SIDE`
    pixels (entirely outside the frame, inverted, 1-pixel) are dropped, the caller warns with
    the count."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    bad = ~np.isfinite(boxes).all(axis=1) | ~np.isfinite(np.asarray(confidence, np.float32))
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} box(es) with a NaN or infinite coordinate or confidence "
            f"(first: {boxes[bad][0].tolist()})",
            file=where,
            fix="fix or regenerate the detections",
        )
    clipped = clip_boxes(boxes, width, height)
    keep = ((clipped[:, 2] - clipped[:, 0]) >= MIN_BOX_SIDE) & (
        (clipped[:, 3] - clipped[:, 1]) >= MIN_BOX_SIDE
    )
    return clipped, keep


def file_sha256(path: Path, length: int = 16) -> str:
    """The first ``length`` hex digits of the SHA-256 of a file (weights, box files), so cache
    keys change when the file does."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


__all__ = [
    "Detector",
    "FrameDetections",
    "NoDetectionsError",
    "check_frames",
    "clip_boxes",
    "detector_key",
    "file_sha256",
    "screen_boxes",
]
