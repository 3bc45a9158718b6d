"""Object detection stage: the :class:`Detections` table and the detectors that fill it.

Object-centric SSMTL (Georgescu et al., CVPR 2021, section 3.1) starts from per-frame object
boxes; :func:`detect_split` runs any :class:`Detector` over a dataset split and returns a
:class:`Detections` table, which :mod:`bench.teachers` turns into distillation targets.

* :mod:`~bench.detection.base`: the :class:`Detector` protocol, :class:`FrameDetections`,
  :func:`detector_key`, :class:`NoDetectionsError`.
* :mod:`~bench.detection.yolo`: :class:`YoloDetector` and :class:`YoloRunner` (the 80 class
  scores of every box from the raw head, our own NMS :func:`nms_keep_scores`).
* :mod:`~bench.detection.motion`: :class:`BackgroundSubtractionDetector` (motion proposals).
* :mod:`~bench.detection.precomputed`: :class:`PrecomputedDetector`, :func:`load_precomputed`.
* :mod:`~bench.detection.full_frame`: :class:`FullFrameDetector` (frame-level variant).
* :mod:`~bench.detection.split`: :func:`detect_split`.
* :mod:`~bench.detection.table`: :class:`Detections`, :class:`DetectionsFileError`.

The paper's confidence thresholds (section 4.2) are
:data:`bench.paper.DETECTION_CONFIDENCE`.
"""

from bench.detection.base import Detector, FrameDetections, NoDetectionsError, detector_key
from bench.detection.full_frame import FullFrameDetector
from bench.detection.motion import BackgroundSubtractionDetector
from bench.detection.precomputed import PrecomputedDetector, load_precomputed
from bench.detection.split import detect_split
from bench.detection.table import Detections, DetectionsFileError
from bench.detection.yolo import (
    Letterbox,
    YoloDetector,
    YoloRunner,
    nms_keep_scores,
    xywh_to_xyxy,
)

__all__ = [
    "BackgroundSubtractionDetector",
    "Detections",
    "DetectionsFileError",
    "Detector",
    "FrameDetections",
    "FullFrameDetector",
    "Letterbox",
    "NoDetectionsError",
    "PrecomputedDetector",
    "YoloDetector",
    "YoloRunner",
    "detect_split",
    "detector_key",
    "load_precomputed",
    "nms_keep_scores",
    "xywh_to_xyxy",
]
