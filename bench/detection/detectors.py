"""Object detectors behind one interface, and :func:`detect_split` to run one over a split.

Every detector has ``name``, ``params()`` (a JSON-serialisable dict for cache keys) and
``detect(frames) -> list[FrameDetections]`` for a batch of consecutive RGB ``uint8`` frames
``(n, H, W, 3)`` of one video. Detectors that keep state across frames (background
subtraction, precomputed files) also have ``reset(video_id=None)``; :func:`detect_split` calls
it before each video.

* :class:`YoloDetector`: an Ultralytics YOLO checkpoint (YOLOv3u, YOLO11, ...) run through its
  raw head with our own NMS, so every kept box keeps the detector's full vector of 80 COCO
  class probabilities (the paper's task 4 distils them).
* :class:`BackgroundSubtractionDetector`: motion proposals (OpenCV MOG2, morphology, connected
  components), no weights; catches objects a COCO detector misses (the SSMTL++ finding).
* :class:`PrecomputedDetector` / :func:`load_precomputed`: boxes from an ``.npz`` file such as
  the Jigsaw-VAD YOLOv3 detections of Ped2.
* :class:`FullFrameDetector`: one box = the whole frame (the paper's frame-level variant).

The paper's confidence thresholds (section 4.2) are :data:`PAPER_CONFIDENCE`. Throughout, a
box is kept when its confidence is ``>=`` the threshold.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import cv2
import numpy as np
import torch

from bench.datasets.base import DatasetError, Split, VideoDataset
from bench.detection.table import NUM_COCO_CLASSES, Detections

#: Detection confidence thresholds of the paper (section 4.2): Ped2 (and Ped1, same
#: resolution) 0.5, Avenue and ShanghaiTech 0.8; used for training and inference alike.
PAPER_CONFIDENCE: dict[str, float] = {"ped2": 0.5, "ped1": 0.5, "avenue": 0.8, "shanghaitech": 0.8}


class NoDetectionsError(DatasetError):
    """A whole split produced no detection (wrong threshold, weights, or frames)."""


# ---------------------------------------------------------------------------------------------
# interface
# ---------------------------------------------------------------------------------------------
@dataclass
class FrameDetections:
    """Detections of one frame: ``boxes (k, 4)`` x_min, y_min, x_max, y_max in frame pixels,
    ``confidence (k,)``, ``class_id (k,)`` (-1 unknown), ``class_scores (k, 80)`` (NaN unknown)."""

    boxes: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    class_scores: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> "FrameDetections":
        return cls.without_classes(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    @classmethod
    def without_classes(cls, boxes: np.ndarray, confidence: np.ndarray) -> "FrameDetections":
        """Boxes with unknown class (``class_id = -1``, NaN class scores)."""
        k = len(boxes)
        return cls(
            boxes=np.asarray(boxes, np.float32).reshape(k, 4),
            confidence=np.asarray(confidence, np.float32).reshape(k),
            class_id=np.full(k, -1, np.int16),
            class_scores=np.full((k, NUM_COCO_CLASSES), np.nan, np.float32),
        )


@runtime_checkable
class Detector(Protocol):
    """What :func:`detect_split` needs from a detector (see module docstring)."""

    name: str

    def params(self) -> dict[str, Any]: ...

    def detect(self, frames: np.ndarray) -> list[FrameDetections]: ...


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected RGB uint8 frames (n, H, W, 3), got {frames.dtype} {frames.shape}")
    return frames


# ---------------------------------------------------------------------------------------------
# YOLO: shared by YoloDetector and bench.teachers.DetectorTeacher
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Letterbox:
    """How frames of shape ``frame_shape`` map into the network input: ``input = frame * gain + pad``."""

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
        raise ValueError(f"expected raw head output (N, 4 + nc, anchors), got {tuple(prediction.shape)}")
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


def _sha256(path: Path, length: int = 16) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


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
    ):
        from ultralytics import YOLO

        from bench.teachers import resolve_weights

        self.weights = Path(resolve_weights(weights))
        self.device = torch.device(device)
        self.half = (self.device.type == "cuda") if half is None else bool(half and self.device.type != "cpu")
        self.image_size = int(image_size)
        self.rect = bool(rect)
        try:
            yolo = YOLO(str(self.weights), task="detect")
        except Exception as error:  # noqa: BLE001 - name the file whatever went wrong
            raise RuntimeError(f"{self.weights}: cannot load as an Ultralytics YOLO checkpoint ({error})") from error
        net = yolo.model
        if not isinstance(net, torch.nn.Module) or getattr(yolo, "task", "detect") != "detect":
            raise RuntimeError(f"{self.weights}: not an Ultralytics detection checkpoint (task {yolo.task!r})")
        net = net.fuse(verbose=False) if hasattr(net, "fuse") else net
        net = net.to(self.device).eval()
        net = net.half() if self.half else net.float()
        for parameter in net.parameters():
            parameter.requires_grad_(False)
        self.net = net
        self.names: dict[int, str] = dict(getattr(net, "names", {}) or {})
        self.num_classes = len(self.names) or NUM_COCO_CLASSES
        self.stride = int(max(getattr(net, "stride", torch.tensor([32])).max().item(), 32))
        self.weights_sha256 = _sha256(self.weights)

    def letterbox(self, frames: np.ndarray) -> tuple[torch.Tensor, Letterbox]:
        """``(n, 3, h, w)`` network input (RGB, [0, 1]) and its :class:`Letterbox` mapping."""
        from ultralytics.data.augment import LetterBox

        frames = _check_frames(frames)
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
        """Raw head output ``(n, 4 + nc, anchors)`` (float32) of a frame batch, and the mapping."""
        x, mapping = self.letterbox(frames)
        out = self.net(x)
        out = out[0] if isinstance(out, (list, tuple)) else out
        if out.ndim != 3 or out.shape[1] != 4 + self.num_classes:
            raise RuntimeError(
                f"{self.weights}: unexpected head output {tuple(out.shape)}; expected (N, {4 + self.num_classes}, "
                "anchors) from an anchor-free Ultralytics detection head (YOLOv3u/v5u/v8/11)"
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

    ``weights`` is a checkpoint path or a name resolved by :func:`bench.teachers.resolve_weights`
    (``yolov3u.pt`` is the paper's YOLOv3 in Ultralytics' anchor-free form; the shared
    ``yolo11n_coco.pt`` works offline). Frames go through the raw network ``batch_size`` at a
    time (preprocessing: :class:`YoloRunner`), then :func:`nms_keep_scores` (per-class NMS unless
    ``agnostic``, IoU ``iou``, confidence ``>= confidence`` where confidence = max class score).
    Boxes are mapped back to frame pixels and clipped to the frame.
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
        self.runner = YoloRunner(weights, device=device, image_size=image_size, half=half, rect=rect)
        if self.runner.num_classes != NUM_COCO_CLASSES:
            raise ValueError(f"{self.runner.weights}: {self.runner.num_classes} classes, expected the 80 COCO classes")
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
        frames = _check_frames(frames)
        results: list[FrameDetections] = []
        for start in range(0, len(frames), self.batch_size):
            raw, mapping = self.runner.raw(frames[start : start + self.batch_size])
            kept = nms_keep_scores(raw, self.confidence, self.iou, self.classes, self.agnostic, self.max_det)
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


# ---------------------------------------------------------------------------------------------
# motion proposals
# ---------------------------------------------------------------------------------------------
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
        frames = _check_frames(frames)
        if self._model is None or self._shape != frames.shape[1:]:
            self._model = cv2.createBackgroundSubtractorMOG2(
                history=self.history, varThreshold=self.var_threshold, detectShadows=False
            )
            self._shape = frames.shape[1:]
            if self.warmup_passes > 0:
                background = self._prepare(np.median(frames, axis=0).astype(np.uint8))
                for _ in range(self.warmup_passes):
                    self._model.apply(background, learningRate=-1)
        open_kernel = np.ones((self.open_size, self.open_size), np.uint8) if self.open_size > 1 else None
        close_kernel = np.ones((self.close_size, self.close_size), np.uint8) if self.close_size > 1 else None
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
            count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
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
            results.append(FrameDetections.without_classes(np.asarray(boxes, np.float32).reshape(-1, 4), confidence))
        return results


# ---------------------------------------------------------------------------------------------
# precomputed boxes and the full frame
# ---------------------------------------------------------------------------------------------
def load_precomputed(path: str | Path, confidence: float = 0.5) -> Detections:
    """Boxes from an ``.npz`` with one ``float32 (k, 6)`` array per video key, rows
    ``[frame_index (0-based), x1, y1, x2, y2, confidence]`` (the layout of
    ``data/ped2/detections/yolov3_{train,test}.npz``), keeping confidence ``>= confidence``;
    class ids -1, class scores NaN. Errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: precomputed detections file does not exist")
    parts = []
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                rows = np.asarray(archive[key], dtype=np.float32)
                if rows.ndim != 2 or rows.shape[1] != 6:
                    raise DatasetError(f"{path}: array {key!r} has shape {rows.shape}, expected (k, 6)")
                rows = rows[rows[:, 5] >= confidence]
                parts.append(
                    Detections(
                        video=np.full(len(rows), key),
                        frame=np.rint(rows[:, 0]).astype(np.int32),
                        boxes=rows[:, 1:5],
                        confidence=rows[:, 5],
                        class_id=np.full(len(rows), -1, np.int16),
                        class_scores=np.full((len(rows), NUM_COCO_CLASSES), np.nan, np.float32),
                    )
                )
    except DatasetError:
        raise
    except Exception as error:  # noqa: BLE001 - corrupt archive: name the file
        raise DatasetError(f"{path}: cannot read precomputed detections ({error})") from error
    meta = {"detector": "precomputed", "params": {"file": path.name, "confidence": float(confidence)}}
    return Detections.concat(parts, meta=meta)


class PrecomputedDetector:
    """Boxes read from a file (:func:`load_precomputed`) instead of computed from frames.

    :func:`detect_split` takes the file's rows directly (clipped to the frame, no frame decoding
    beyond the first frame of each video). As a :class:`Detector` it is stateful: ``reset(video)``
    selects a video and each :meth:`detect` call returns the rows of the next ``len(frames)``
    frames.
    """

    name = "precomputed"

    def __init__(self, path: str | Path, confidence: float = 0.5):
        self.path = Path(path)
        self.confidence = float(confidence)
        self.table = load_precomputed(self.path, self.confidence)
        self._video: Detections | None = None
        self._cursor = 0

    def params(self) -> dict[str, Any]:
        return {"file": self.path.name, "file_sha256": _sha256(self.path), "confidence": self.confidence}

    def reset(self, video_id: str | None = None) -> None:
        self._video = None if video_id is None else self.table.for_video(video_id)
        self._cursor = 0

    def detect(self, frames: np.ndarray) -> list[FrameDetections]:
        if self._video is None:
            raise RuntimeError("PrecomputedDetector: call reset(video_id) before detect()")
        frames = _check_frames(frames)
        height, width = frames.shape[1:3]
        results = []
        for index in range(self._cursor, self._cursor + len(frames)):
            rows = self._video.frame == index
            boxes = _clip(self._video.boxes[rows], width, height)
            results.append(FrameDetections.without_classes(boxes, self._video.confidence[rows]))
        self._cursor += len(frames)
        return results


class FullFrameDetector:
    """One box covering the whole frame per frame, confidence 1 (frame-level variant, sec. 3.5)."""

    name = "full_frame"

    def params(self) -> dict[str, Any]:
        return {}

    def detect(self, frames: np.ndarray) -> list[FrameDetections]:
        frames = _check_frames(frames)
        height, width = frames.shape[1:3]
        box = np.array([[0, 0, width, height]], np.float32)
        return [FrameDetections.without_classes(box, np.ones(1, np.float32)) for _ in range(len(frames))]


def _clip(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    out = np.array(boxes, dtype=np.float32, copy=True).reshape(-1, 4)
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


# ---------------------------------------------------------------------------------------------
# a whole split
# ---------------------------------------------------------------------------------------------
def detector_key(detector: Detector) -> str:
    """A short stable hash of ``detector.name`` and ``detector.params()`` (for cache file names)."""
    text = json.dumps({"name": detector.name, "params": detector.params()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


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
    :class:`~bench.datasets.DatasetError`) naming the dataset and split when the whole split has
    none. ``meta`` records the dataset, split, detector name and parameters, and the frame count
    of every video (so videos with no rows stay known).
    """
    from tqdm.auto import tqdm

    videos = dataset.videos(split)
    meta = {
        "dataset": dataset.name,
        "split": split,
        "detector": detector.name,
        "params": detector.params(),
        "num_frames": {video.id: video.num_frames for video in videos},
    }
    parts: list[Detections] = []
    if isinstance(detector, PrecomputedDetector):
        parts = _precomputed_split(dataset, split, detector, videos)
    else:
        bar = tqdm(
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
                        raise RuntimeError(f"{detector.name}: {len(found)} results for {len(frames)} frames")
                    parts.append(Detections.from_frames(video.id, start, found))
                    bar.update(len(frames))
    table = Detections.concat(parts, meta=meta)
    counts = {video.id: 0 for video in videos}
    for video_id, count in zip(*np.unique(table.video, return_counts=True)):
        counts[str(video_id)] = int(count)
    if len(table) == 0:
        raise NoDetectionsError(
            f"{dataset.name} {split}: {detector.name} found no object in any of {len(videos)} videos "
            f"(parameters {detector.params()}); check the confidence threshold, the weights and the frames"
        )
    for video_id, count in counts.items():
        if count == 0:
            warnings.warn(f"{dataset.name} {split} video {video_id}: {detector.name} found no object", stacklevel=2)
    return table


def _precomputed_split(dataset: VideoDataset, split: Split, detector: PrecomputedDetector, videos) -> list[Detections]:
    known = set(detector.table.videos)
    ids = {video.id for video in videos}
    if known and not known & ids:
        raise NoDetectionsError(
            f"{dataset.name} {split}: {detector.path} has videos {sorted(known)[:5]}..., none of this split's "
            f"{sorted(ids)[:5]}... (wrong file for the split?)"
        )
    parts = []
    for video in videos:
        rows = detector.table.for_video(video.id)
        outside = (rows.frame < 0) | (rows.frame >= video.num_frames)
        if outside.any():
            warnings.warn(
                f"{detector.path}: {int(outside.sum())} rows of video {video.id} name frames outside "
                f"0..{video.num_frames - 1}; dropped",
                stacklevel=3,
            )
            rows = rows.filter(~outside)
        if len(rows) and video.has_frames:
            height, width = video[0].shape[:2]
            rows.boxes = _clip(rows.boxes, width, height)
        parts.append(rows)
    return parts


__all__ = [
    "PAPER_CONFIDENCE",
    "BackgroundSubtractionDetector",
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
