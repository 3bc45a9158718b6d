"""The detector teacher of task 4 (SSMTL, section 3.3): 80 COCO class probabilities per object.

Eq. (4) distils ``Y_YOLO``, the detector's 80 class probabilities of each object. Boxes the
YOLO detector found carry them already; precomputed YOLOv3 boxes and motion proposals carry
none, so :class:`DetectorTeacher` reads them for *arbitrary* boxes from the raw YOLO head, and
:func:`class_probabilities` takes a table's own scores where it has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.detection.table import Detections
from bench.detection.yolo import YoloDetector, YoloRunner, xywh_to_xyxy
from bench.paper import COCO_CLASSES
from bench.teachers.crops import flatten_boxes


class DetectorTeacher:
    """The COCO detector's 80 class probabilities for arbitrary boxes.

    The raw YOLO head (same preprocessing as :class:`~bench.detection.YoloDetector`, see
    :class:`~bench.detection.yolo.YoloRunner`) runs once per frame (``batch_size`` frames per
    pass, only frames that have boxes). Every anchor's predicted box, before any confidence
    filter or NMS, is mapped to frame pixels and clipped; a given box receives the 80-vector of
    one anchor, chosen by ``match``:

    * ``"iou"`` (default): the anchor whose predicted box has the highest IoU with the given box
      (anchors within ``1e-4`` of the best IoU: the most confident one). For a box that the same
      detector output, that anchor is the box's own (IoU 1), so the vector is the detection's
      own. For boxes of another detector the best-IoU anchor may be a weak neighbour of the
      anchor NMS would keep (on Ped2's YOLOv3 boxes, matched IoU median ~0.88, but often a low
      person score).
    * ``"nms"``: the most confident anchor among those with IoU ``>= nms_iou`` with the given
      box (the one NMS would keep for an object there), falling back to ``"iou"`` when none
      overlaps that much.
    """

    name = "yolo_class_scores"

    def __init__(
        self,
        weights: str | Path = "yolov3u.pt",
        device: str | torch.device = "cpu",
        image_size: int = 640,
        batch_size: int = 16,
        half: bool | None = None,
        rect: bool = True,
        runner: YoloRunner | None = None,
        match: str = "iou",
        nms_iou: float = 0.45,
    ):
        if match not in ("iou", "nms"):
            raise ValueError(f"match must be 'iou' or 'nms', got {match!r}")
        if runner is None:
            runner = YoloRunner(weights, device, image_size, half, rect)
        self.runner = runner
        if self.runner.num_classes != COCO_CLASSES:
            raise ValueError(
                f"{self.runner.weights}: {self.runner.num_classes} classes, "
                "expected 80 COCO classes"
            )
        self.batch_size = int(batch_size)
        self.match = match
        self.nms_iou = float(nms_iou)

    @classmethod
    def from_detector(
        cls, detector: YoloDetector, batch_size: int | None = None, **options: Any
    ) -> DetectorTeacher:
        """Share the network of a :class:`~bench.detection.YoloDetector` (same weights, same
        input)."""
        return cls(runner=detector.runner, batch_size=batch_size or detector.batch_size, **options)

    def params(self) -> dict[str, Any]:
        params = {**self.runner.params(), "match": self.match}
        if self.match == "nms":
            params["nms_iou"] = self.nms_iou
        return params

    @torch.inference_mode()
    def __call__(
        self,
        frames: np.ndarray,
        boxes: np.ndarray | Sequence[np.ndarray],
        frame_index: np.ndarray | None = None,
        return_iou: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Class probabilities ``float32 (M, 80)`` (and, with ``return_iou``, the matched IoU)."""
        from torchvision.ops import box_iou

        boxes, frame_index = flatten_boxes(boxes, frame_index, len(frames))
        scores_out = np.empty((len(boxes), COCO_CLASSES), np.float32)
        iou_out = np.empty(len(boxes), np.float32)
        used = np.unique(frame_index)
        for start in range(0, len(used), self.batch_size):
            chunk = used[start : start + self.batch_size]
            raw, mapping = self.runner.raw(frames[chunk])
            anchors = mapping.to_frame(xywh_to_xyxy(raw[:, :4].transpose(1, 2)))  # (n, A, 4)
            scores = raw[:, 4:].transpose(1, 2)  # (n, A, 80)
            confidence = scores.max(dim=2).values
            for j, frame in enumerate(chunk):
                rows = np.flatnonzero(frame_index == frame)
                given = torch.from_numpy(boxes[rows]).to(raw.device)
                iou = box_iou(given, anchors[j])  # (k, A)
                best = iou.max(dim=1, keepdim=True).values
                candidate = iou >= best - 1e-4
                if self.match == "nms":
                    overlapping = iou >= self.nms_iou
                    candidate = torch.where(
                        overlapping.any(dim=1, keepdim=True), overlapping, candidate
                    )
                key = torch.where(candidate, confidence[j].unsqueeze(0), torch.full_like(iou, -1.0))
                match = key.argmax(dim=1)
                scores_out[rows] = scores[j, match].cpu().numpy()
                iou_out[rows] = best[:, 0].cpu().numpy()
        return (scores_out, iou_out) if return_iou else scores_out


def class_probabilities(
    detections: Detections,
    rows: np.ndarray,
    frames: np.ndarray,
    local: np.ndarray,
    detector: DetectorTeacher | None,
    recompute: bool,
) -> np.ndarray:
    """The detector's 80 class probabilities of ``rows``: the table's own, else ``detector``'s
    (``local``: the rows' frame indices into ``frames``)."""
    class_scores = detections.class_scores[rows]
    todo = np.ones(len(rows), bool) if recompute else np.isnan(class_scores).any(axis=1)
    if todo.any():
        class_scores = class_scores.copy()
        class_scores[todo] = detector(frames, detections.boxes[rows][todo], local[todo])
    return class_scores


__all__ = ["DetectorTeacher", "class_probabilities"]
