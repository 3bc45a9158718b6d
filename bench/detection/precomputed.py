"""Object boxes read from a file for SSMTL's object-centric stage (section 3.1).

The paper runs YOLOv3 itself; precomputed boxes (such as the Jigsaw-VAD YOLOv3 detections of
Ped2 in ``data/ped2/detections/yolov3_{train,test}.npz``) reproduce its objects without the
detector. They carry no class scores, so task 4's detector targets come from
:class:`bench.teachers.DetectorTeacher`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.data.base import DatasetError
from bench.detection.base import FrameDetections, check_frames, clip_boxes, file_sha256
from bench.detection.table import Detections
from bench.paper import COCO_CLASSES

FIX = (
    "give an .npz of one float32 (k, 6) array per video, rows [frame, x1, y1, x2, y2, "
    "confidence] (copy it again if it was cut short)"
)


def load_precomputed(path: str | Path, confidence: float = 0.5) -> Detections:
    """Boxes from an ``.npz`` with one ``float32 (k, 6)`` array per video key, rows
    ``[frame_index (0-based), x1, y1, x2, y2, confidence]`` (the layout of
    ``data/ped2/detections/yolov3_{train,test}.npz``), keeping confidence ``>= confidence``;
    class ids -1, class scores NaN. Errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: precomputed detections file does not exist", FIX)
    parts = []
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                rows = np.asarray(archive[key], dtype=np.float32)
                if rows.ndim != 2 or rows.shape[1] != 6:
                    raise DatasetError(
                        f"{path}: array {key!r} has shape {rows.shape}, expected (k, 6)", FIX
                    )
                if not np.isfinite(rows).all():  # a NaN frame index would become frame 0
                    raise DatasetError(f"{path}: array {key!r} holds NaN or infinite values", FIX)
                rows = rows[rows[:, 5] >= confidence]
                parts.append(
                    Detections(
                        video=np.full(len(rows), key),
                        frame=np.rint(rows[:, 0]).astype(np.int32),
                        boxes=rows[:, 1:5],
                        confidence=rows[:, 5],
                        class_id=np.full(len(rows), -1, np.int16),
                        class_scores=np.full((len(rows), COCO_CLASSES), np.nan, np.float32),
                    )
                )
    except DatasetError:
        raise
    except Exception as error:  # noqa: BLE001 - corrupt archive: name the file
        raise DatasetError(
            f"{path}: cannot read precomputed detections ({type(error).__name__})", FIX
        ) from error
    meta = {
        "detector": "precomputed",
        "params": {"file": path.name, "confidence": float(confidence)},
    }
    return Detections.concat(parts, meta=meta)


class PrecomputedDetector:
    """Boxes read from a file (:func:`load_precomputed`) instead of computed from frames.

    :func:`~bench.detection.split.detect_split` takes the file's rows directly (clipped to the
    frame, no frame decoding beyond the first frame of each video). As a
    :class:`~bench.detection.base.Detector` it is stateful: ``reset(video)`` selects a video and
    each :meth:`detect` call returns the rows of the next ``len(frames)`` frames.
    """

    name = "precomputed"

    def __init__(self, path: str | Path, confidence: float = 0.5):
        self.path = Path(path)
        self.confidence = float(confidence)
        self.table = load_precomputed(self.path, self.confidence)
        self._video: Detections | None = None
        self._cursor = 0

    def params(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "file_sha256": file_sha256(self.path),
            "confidence": self.confidence,
        }

    def reset(self, video_id: str | None = None) -> None:
        self._video = None if video_id is None else self.table.for_video(video_id)
        self._cursor = 0

    def detect(self, frames: np.ndarray) -> list[FrameDetections]:
        if self._video is None:
            raise RuntimeError("PrecomputedDetector: call reset(video_id) before detect()")
        frames = check_frames(frames)
        height, width = frames.shape[1:3]
        results = []
        for index in range(self._cursor, self._cursor + len(frames)):
            rows = self._video.frame == index
            boxes = clip_boxes(self._video.boxes[rows], width, height)
            results.append(FrameDetections.without_classes(boxes, self._video.confidence[rows]))
        self._cursor += len(frames)
        return results


__all__ = ["PrecomputedDetector", "load_precomputed"]
