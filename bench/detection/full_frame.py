"""The whole frame as the only object: SSMTL's frame-level variant (section 3.5).

Section 3.5 drops the object detector and applies the model to whole frames; as a
:class:`~bench.detection.base.Detector` that is one box covering the frame, confidence 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.detection.base import FrameDetections, check_frames


class FullFrameDetector:
    """One box covering the whole frame per frame, confidence 1 (frame-level variant, sec. 3.5)."""

    name = "full_frame"

    def params(self) -> dict[str, Any]:
        return {}

    def detect(self, frames: np.ndarray) -> list[FrameDetections]:
        frames = check_frames(frames)
        height, width = frames.shape[1:3]
        box = np.array([[0, 0, width, height]], np.float32)
        return [
            FrameDetections.without_classes(box, np.ones(1, np.float32)) for _ in range(len(frames))
        ]


__all__ = ["FullFrameDetector"]
