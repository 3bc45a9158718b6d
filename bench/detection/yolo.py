"""The YOLO object detector of SSMTL (section 3.1), with its 80 class probabilities kept.

The paper detects objects with YOLOv3 and, for task 4 (section 3.3), distils the detector's
80 COCO class probabilities of every object. Ultralytics' own ``predict`` keeps only
``(box, confidence, class)`` per box, so :class:`YoloDetector` runs the raw head through
:class:`YoloRunner` and applies its own NMS, :func:`nms_keep_scores`, which keeps each box's
whole class-score vector. :class:`YoloRunner` is shared with
:class:`bench.teachers.DetectorTeacher`, which reads the class scores of arbitrary boxes from
the same raw head.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.detection.base import FrameDetections, check_frames, file_sha256
from bench.errors import InputError
from bench.paper import COCO_CLASSES
from bench.weights import load_ultralytics, resolve_weights


@dataclass(frozen=True)
class Letterbox:
    """How frames of shape ``frame_shape`` map into the network input:
    ``input = frame * gain + pad``."""

    frame_shape: tuple[int, int]  # (H, W)
    input_shape: tuple[int, int]  # (h, w)
    gain_x: float
    gain_y: float
    pad_x: int
    pad_y: int

    def to_frame(self, boxes: torch.Tensor) -> torch.Tensor:
        """``xyxy`` boxes from input pixels to frame pixels, clipped to the frame."""
        out = boxes.clone()
        out[..., [0, 2]] = (out[..., [0, 2]] - self.pad_x) / self.gain_x
        out[..., [1, 3]] = (out[..., [1, 3]] - self.pad_y) / self.gain_y
        height, width = self.frame_shape
        out[..., [0, 2]] = out[..., [0, 2]].clamp(0, width)
        out[..., [1, 3]] = out[..., [1, 3]].clamp(0, height)
        return out


def xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """Centre/size boxes ``(..., 4)`` to corner boxes."""
    half = boxes[..., 2:4] / 2
    return torch.cat((boxes[..., :2] - half, boxes[..., :2] + half), dim=-1)


def nms_keep_scores(
    prediction: torch.Tensor,
    confidence: float = 0.25,
    iou: float = 0.45,
    classes: Sequence[int] | None = None,
    agnostic: bool = False,
    max_det: int = 300,
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """NMS over a raw YOLO head output that keeps each kept box's whole class-score vector.

    ``prediction`` is ``(N, 4 + nc, anchors)``: ``cx, cy, w, h`` (input pixels) then ``nc``
    class probabilities (the layout of ``model.model(x)[0]`` for anchor-free Ultralytics heads,
    YOLOv3u/v5u/v8/11). Per image, a box's confidence is its top class score; boxes with
    confidence ``>= confidence`` (and, when ``classes`` is given, a top class in it) go to
    :func:`torchvision.ops.batched_nms` (per-class NMS, Ultralytics' and Darknet's default) or,
    with ``agnostic=True``, :func:`torchvision.ops.nms`; at most ``max_det`` boxes are kept, by
    decreasing confidence. Unlike :func:`ultralytics.utils.nms.non_max_suppression`, which
    keeps only ``(box, conf, class)``, this returns per image
    ``(boxes_xyxy (k, 4), confidence (k,), class_id (k,), class_scores (k, nc))``, the class
    scores being the kept anchor's own row.
    """
    import torchvision

    if prediction.ndim != 3 or prediction.shape[1] < 5:
        raise ValueError(
            f"expected raw head output (N, 4 + nc, anchors), got {tuple(prediction.shape)}"
        )
    prediction = prediction.float()
    wanted = None if classes is None else torch.as_tensor(list(classes), device=prediction.device)
    results = []
    for pred in prediction:
        pred = pred.transpose(0, 1)  # (anchors, 4 + nc)
        scores = pred[:, 4:]
        conf, cls = scores.max(dim=1)
        keep = conf >= confidence
        if wanted is not None:
            keep &= torch.isin(cls, wanted)
        boxes = xywh_to_xyxy(pred[keep, :4])
        conf, cls, scores = conf[keep], cls[keep], scores[keep]
        if agnostic:
            kept = torchvision.ops.nms(boxes, conf, iou)
        else:
            kept = torchvision.ops.batched_nms(boxes, conf, cls, iou)
        kept = kept[:max_det]  # nms returns indices by decreasing score
        results.append((boxes[kept], conf[kept], cls[kept], scores[kept]))
    return results


class YoloRunner:
    """An Ultralytics YOLO detection network in eval mode, fed letterboxed frame batches.

    Preprocessing follows ``YOLO.predict``: :class:`ultralytics.data.augment.LetterBox` resizes
    the long side to ``image_size`` (bilinear, aspect ratio kept) and pads with grey 114,
    centred; with ``rect=True`` (``predict``'s default for same-size frames) the padding only
    reaches the next multiple of the stride (Ped2 240x360 -> 448x640), else a square
    ``image_size`` input. Frames are RGB, scaled to [0, 1]. Half precision is used only on CUDA
    (``half=None``: on for CUDA, off on CPU).
    """

    def __init__(
        self,
        weights: str | Path,
        device: str | torch.device = "cpu",
        image_size: int = 640,
        half: bool | None = None,
        rect: bool = True,
        trust_weights: bool | None = None,
    ):
        self.weights = Path(resolve_weights(weights))
        self.device = torch.device(device)
        if half is None:
            self.half = self.device.type == "cuda"
        else:
            self.half = bool(half and self.device.type != "cpu")
        self.image_size = int(image_size)
        self.rect = bool(rect)
        yolo = load_ultralytics(self.weights, trust_weights)  # refuses code-running pickles
        net = yolo.model
        if not isinstance(net, torch.nn.Module) or getattr(yolo, "task", "detect") != "detect":
            raise InputError(
                f"not an Ultralytics detection checkpoint (task {yolo.task!r})",
                file=self.weights,
                fix="pass a detection checkpoint (e.g. yolov3u.pt)",
            )
        net = net.fuse(verbose=False) if hasattr(net, "fuse") else net
        net = net.to(self.device).eval()
        net = net.half() if self.half else net.float()
        for parameter in net.parameters():
            parameter.requires_grad_(False)
        self.net = net
        self.names: dict[int, str] = dict(getattr(net, "names", {}) or {})
        self.num_classes = len(self.names) or COCO_CLASSES
        self.stride = int(max(getattr(net, "stride", torch.tensor([32])).max().item(), 32))
        self.weights_sha256 = file_sha256(self.weights)

    def letterbox(self, frames: np.ndarray) -> tuple[torch.Tensor, Letterbox]:
        """``(n, 3, h, w)`` network input (RGB, [0, 1]) and its :class:`Letterbox` mapping."""
        from ultralytics.data.augment import LetterBox

        frames = check_frames(frames)
        transform = LetterBox(self.image_size, auto=self.rect, stride=self.stride)
        params = transform.get_params({"img": frames[0]})
        images = np.stack([transform(image=np.ascontiguousarray(frame)) for frame in frames])
        new_w, new_h = params["new_unpad"]
        height, width = frames.shape[1:3]
        mapping = Letterbox(
            frame_shape=(height, width),
            input_shape=images.shape[1:3],
            gain_x=new_w / width,
            gain_y=new_h / height,
            pad_x=int(params["left"]),
            pad_y=int(params["top"]),
        )
        x = torch.from_numpy(images).to(self.device).permute(0, 3, 1, 2)
        x = (x.half() if self.half else x.float()).div_(255.0)
        return x, mapping

    @torch.inference_mode()
    def raw(self, frames: np.ndarray) -> tuple[torch.Tensor, Letterbox]:
        """Raw head output ``(n, 4 + nc, anchors)`` (float32) of a frame batch, and the
        mapping."""
        x, mapping = self.letterbox(frames)
        out = self.net(x)
        out = out[0] if isinstance(out, (list, tuple)) else out
        if out.ndim != 3 or out.shape[1] != 4 + self.num_classes:
            raise RuntimeError(
                f"{self.weights}: unexpected head output {tuple(out.shape)}; expected "
                f"(N, {4 + self.num_classes}, anchors) from an anchor-free Ultralytics "
                "detection head (YOLOv3u/v5u/v8/11)"
            )
        return out.float(), mapping

    def params(self) -> dict[str, Any]:
        return {
            "weights": self.weights.name,
            "weights_sha256": self.weights_sha256,
            "image_size": self.image_size,
            "rect": self.rect,
            "half": self.half,
        }


class YoloDetector:
    """An Ultralytics YOLO COCO detector keeping the 80 class probabilities of every box.

    ``weights`` is a checkpoint path or a name resolved by :func:`bench.weights.resolve_weights`
    (``yolov3u.pt`` is the paper's YOLOv3 in Ultralytics' anchor-free form; the shared
    ``yolo11n_coco.pt`` works offline). Frames go through the raw network ``batch_size`` at a
    time (preprocessing: :class:`YoloRunner`), then :func:`nms_keep_scores` (per-class NMS
    unless ``agnostic``, IoU ``iou``, confidence ``>= confidence`` where confidence = max class
    score). Boxes are mapped back to frame pixels and clipped to the frame.
    """

    name = "yolo"

    def __init__(
        self,
        weights: str | Path,
        confidence: float = 0.5,
        iou: float = 0.45,
        image_size: int = 640,
        device: str | torch.device = "cpu",
        classes: Sequence[int] | None = None,
        batch_size: int = 16,
        agnostic: bool = False,
        max_det: int = 300,
        half: bool | None = None,
        rect: bool = True,
    ):
        if not 0.0 <= confidence <= 1.0 or not 0.0 <= iou <= 1.0:
            raise ValueError(f"confidence and iou must lie in [0, 1], got {confidence}, {iou}")
        self.runner = YoloRunner(
            weights, device=device, image_size=image_size, half=half, rect=rect
        )
        if self.runner.num_classes != COCO_CLASSES:
            raise ValueError(
                f"{self.runner.weights}: {self.runner.num_classes} classes, "
                "expected the 80 COCO classes"
            )
        self.confidence = float(confidence)
        self.iou = float(iou)
        self.classes = None if classes is None else sorted(int(c) for c in classes)
        self.batch_size = int(batch_size)
        self.agnostic = bool(agnostic)
        self.max_det = int(max_det)

    @property
    def names(self) -> dict[int, str]:
        return self.runner.names

    def params(self) -> dict[str, Any]:
        return {
            **self.runner.params(),
            "confidence": self.confidence,
            "iou": self.iou,
            "classes": self.classes,
            "agnostic": self.agnostic,
            "max_det": self.max_det,
        }

    def detect(self, frames: np.ndarray) -> list[FrameDetections]:
        frames = check_frames(frames)
        results: list[FrameDetections] = []
        for start in range(0, len(frames), self.batch_size):
            raw, mapping = self.runner.raw(frames[start : start + self.batch_size])
            kept = nms_keep_scores(
                raw, self.confidence, self.iou, self.classes, self.agnostic, self.max_det
            )
            for boxes, conf, cls, scores in kept:
                results.append(
                    FrameDetections(
                        boxes=mapping.to_frame(boxes).cpu().numpy().astype(np.float32),
                        confidence=conf.cpu().numpy().astype(np.float32),
                        class_id=cls.cpu().numpy().astype(np.int16),
                        class_scores=scores.cpu().numpy().astype(np.float32),
                    )
                )
        return results


__all__ = ["Letterbox", "YoloDetector", "YoloRunner", "nms_keep_scores", "xywh_to_xyxy"]
