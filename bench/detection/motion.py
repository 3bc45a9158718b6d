"""Motion proposals as an object detector for SSMTL's object-centric stage (section 3.1).

The paper's objects come from a COCO detector; :class:`BackgroundSubtractionDetector` proposes
moving objects instead (OpenCV MOG2, morphology, connected components), with no weights and no
classes. It catches objects a COCO detector misses (the SSMTL++ finding); its boxes carry NaN
class scores, which :class:`bench.teachers.DetectorTeacher` fills in for task 4.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from bench.detection.base import FrameDetections, check_frames


class BackgroundSubtractionDetector:
    """Moving-object proposals from background subtraction; no weights, no classes.

    Per video (call :meth:`reset` between videos): frames are blurred (Gaussian ``blur``
    pixels, odd, 0 = off), fed to OpenCV's MOG2 model (``history`` frames, squared Mahalanobis
    threshold ``var_threshold``, shadows off), the foreground mask is opened with a
    ``open_size`` square (removes speckle) and closed with a ``close_size`` square (joins the
    parts of one person), and each 8-connected component of at least ``min_area`` pixels (and at
    most ``max_area_fraction`` of the frame, which drops global illumination changes) becomes a
    box, grown by ``pad`` pixels and clipped. Confidence = the foreground fraction of the box
    (in (0, 1]); boxes below ``confidence`` are dropped. Class scores are NaN and class ids -1.

    MOG2 starts with no background (its first frame *is* the background), so the first batch
    after a reset primes the model: the per-pixel median of that batch (moving objects occupy a
    pixel only briefly, so it shows the empty scene) is fed ``warmup_passes`` times, then
    detection starts at the first frame. Objects that stand still for most of the first batch
    enter the background and are missed until they move.

    Defaults were tuned on Ped2 test videos 01, 04, 07 against the shared YOLOv3 boxes (every
    5th frame; recall/precision 0.51/0.67 at IoU 0.3, 0.31/0.43 at IoU 0.5): a larger
    ``close_size`` merges neighbouring pedestrians, ``open_size=1`` fragments them, a short
    ``history`` or few ``warmup_passes`` (fast early learning) absorb slow walkers into the
    background.
    """

    name = "background_subtraction"

    def __init__(
        self,
        history: int = 200,
        var_threshold: float = 25.0,
        min_area: int = 30,
        max_area_fraction: float = 0.5,
        blur: int = 3,
        open_size: int = 3,
        close_size: int = 5,
        pad: int = 0,
        confidence: float = 0.0,
        warmup_passes: int = 50,
        learning_rate: float = -1.0,
    ):
        self.history = int(history)
        self.var_threshold = float(var_threshold)
        self.min_area = int(min_area)
        self.max_area_fraction = float(max_area_fraction)
        self.blur = int(blur)
        self.open_size = int(open_size)
        self.close_size = int(close_size)
        self.pad = int(pad)
        self.confidence = float(confidence)
        self.warmup_passes = int(warmup_passes)
        self.learning_rate = float(learning_rate)
        if self.blur and self.blur % 2 == 0:
            raise ValueError(f"blur must be odd or 0, got {blur}")
        self._model: Any = None
        self._shape: tuple[int, ...] | None = None

    def params(self) -> dict[str, Any]:
        keys = (
            "history", "var_threshold", "min_area", "max_area_fraction", "blur", "open_size",
            "close_size", "pad", "confidence", "warmup_passes", "learning_rate",
        )  # fmt: skip
        return {key: getattr(self, key) for key in keys}

    def reset(self, video_id: str | None = None) -> None:
        """Forget the background model (call before each video)."""
        self._model = None
        self._shape = None

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(frame, (self.blur, self.blur), 0) if self.blur else frame

    def foreground(self, frames: np.ndarray) -> np.ndarray:
        """Cleaned foreground masks ``bool (n, H, W)`` (updates the background model)."""
        frames = check_frames(frames)
        if self._model is None or self._shape != frames.shape[1:]:
            self._model = cv2.createBackgroundSubtractorMOG2(
                history=self.history, varThreshold=self.var_threshold, detectShadows=False
            )
            self._shape = frames.shape[1:]
            if self.warmup_passes > 0:
                background = self._prepare(np.median(frames, axis=0).astype(np.uint8))
                for _ in range(self.warmup_passes):
                    self._model.apply(background, learningRate=-1)
        open_kernel = close_kernel = None
        if self.open_size > 1:
            open_kernel = np.ones((self.open_size, self.open_size), np.uint8)
        if self.close_size > 1:
            close_kernel = np.ones((self.close_size, self.close_size), np.uint8)
        masks = np.empty(frames.shape[:3], dtype=bool)
        for i, frame in enumerate(frames):
            mask = self._model.apply(self._prepare(frame), learningRate=self.learning_rate)
            mask = (mask > 127).astype(np.uint8)
            if open_kernel is not None:
                mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, open_kernel)
            if close_kernel is not None:
                mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, close_kernel)
            masks[i] = mask > 0
        return masks

    def detect(self, frames: np.ndarray) -> list[FrameDetections]:
        masks = self.foreground(frames)
        height, width = masks.shape[1:]
        max_area = self.max_area_fraction * height * width
        results = []
        for mask in masks:
            count, labels, stats, _ = cv2.connectedComponentsWithStats(
                mask.astype(np.uint8), connectivity=8
            )
            boxes, confidence = [], []
            for label in range(1, count):
                x, y, w, h, area = (int(v) for v in stats[label])
                if area < self.min_area or area > max_area:
                    continue
                x0, y0 = max(0, x - self.pad), max(0, y - self.pad)
                x1, y1 = min(width, x + w + self.pad), min(height, y + h + self.pad)
                fraction = float(mask[y0:y1, x0:x1].sum()) / max(1, (x1 - x0) * (y1 - y0))
                if fraction >= self.confidence:
                    boxes.append((x0, y0, x1, y1))
                    confidence.append(fraction)
            boxes_array = np.asarray(boxes, np.float32).reshape(-1, 4)
            results.append(FrameDetections.without_classes(boxes_array, confidence))
        return results


__all__ = ["BackgroundSubtractionDetector"]
