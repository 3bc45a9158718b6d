"""Object detection stage: the :class:`Detections` table and the detectors that fill it.

Object-centric SSMTL (Georgescu et al., CVPR 2021, section 3.1) starts from per-frame object
boxes; :func:`detect_split` runs any :class:`Detector` over a dataset split and returns a
:class:`Detections` table, which :mod:`bench.teachers` turns into distillation targets.
"""

from bench.detection.detectors import (
    PAPER_CONFIDENCE,
    BackgroundSubtractionDetector,
    Detector,
    FrameDetections,
    FullFrameDetector,
    NoDetectionsError,
    PrecomputedDetector,
    YoloDetector,
    detect_split,
    detector_key,
    load_precomputed,
    nms_keep_scores,
)
from bench.detection.table import Detections, DetectionsFileError

__all__ = [
    "PAPER_CONFIDENCE",
    "BackgroundSubtractionDetector",
    "Detections",
    "DetectionsFileError",
    "Detector",
    "FrameDetections",
    "FullFrameDetector",
    "NoDetectionsError",
    "PrecomputedDetector",
    "YoloDetector",
    "detect_split",
    "detector_key",
    "load_precomputed",
    "nms_keep_scores",
]
