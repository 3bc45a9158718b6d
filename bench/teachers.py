"""Distillation teachers of task 4 (SSMTL, section 3.3) and the weights lookup.

The student learns, per detected object, ``Y = Y_ResNet (1000 pre-softmax ImageNet logits)
⊕ Y_YOLO (80 COCO class probabilities)`` (n = 1080):

* :class:`ImageNetTeacher`: an ImageNet classifier on 224x224 object crops (the paper's
  ResNet-50; offline, the shared TorchScript MobileNetV2 stands in).
* :class:`DetectorTeacher`: the COCO detector's 80 class probabilities for *arbitrary* boxes
  (precomputed YOLOv3 boxes and motion proposals carry none).
* :func:`teacher_targets`: both teachers over a :class:`~bench.detection.Detections` table,
  streamed into an ``(N, 1080)`` float32 ``.npy`` memmap.

Weights are found by :func:`resolve_weights`: an existing path, else the file name in
``$SSMTL_MODELS_DIR`` (default ``~/.cache/ssmtl-bench/models``), else the library's own cache
(Ultralytics' ``weights_dir``, torch hub's ``checkpoints``), else a download by the library's
name (``yolov3u.pt``, ``resnet50``) into that folder where there is network; when all fail,
:class:`WeightsNotFoundError` names the file, the folder and the environment variable.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from bench.datasets.base import DatasetError, Split, VideoDataset
from bench.detection.detectors import YoloRunner, xywh_to_xyxy
from bench.detection.table import NUM_COCO_CLASSES, Detections
from bench.tubes import frames_to_tensor

MODELS_ENV = "SSMTL_MODELS_DIR"
DEFAULT_MODELS_DIR = Path("~/.cache/ssmtl-bench/models")
IMAGENET_CLASSES = 1000
TARGET_DIM = IMAGENET_CLASSES + NUM_COCO_CLASSES  # n = 1080 in the paper
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_TORCHSCRIPT_SUFFIXES = {".pt", ".pth", ".ts", ".torchscript", ".jit"}
_HASH = re.compile(r"-([a-f0-9]+)\.")


class WeightsNotFoundError(FileNotFoundError):
    """Model weights are neither on disk nor downloadable; the message says where we looked."""


# ---------------------------------------------------------------------------------------------
# weights lookup
# ---------------------------------------------------------------------------------------------
def models_dir(env: str = MODELS_ENV) -> Path:
    """``$SSMTL_MODELS_DIR`` or ``~/.cache/ssmtl-bench/models``."""
    return Path(os.environ.get(env) or DEFAULT_MODELS_DIR).expanduser()


def _ultralytics_asset(name: str) -> str | None:
    try:
        from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES
    except ImportError:  # pragma: no cover - ultralytics is a dependency
        return None
    for candidate in (name, f"{name}.pt"):
        if candidate in GITHUB_ASSETS_NAMES:
            return candidate
    return None


def _torchvision_classifier(name: str) -> bool:
    import torchvision

    return name in torchvision.models.list_models(module=torchvision.models)


def _torchvision_url(name: str) -> str:
    from torchvision.models import get_model_weights

    return get_model_weights(name).DEFAULT.url


def _candidates(name: str) -> list[str]:
    """File names that may hold the weights called ``name``."""
    file_name = Path(name).name
    asset = _ultralytics_asset(file_name)
    if asset is not None:
        return [asset]
    if _torchvision_classifier(file_name):
        return [f"{file_name}.pth", f"{file_name}.pt", Path(_torchvision_url(file_name)).name]
    return [file_name]


def _library_caches(name: str) -> list[Path]:
    """Where the libraries keep downloaded weights: Ultralytics' ``weights_dir`` for its names,
    torch hub's ``checkpoints`` folder for torchvision names."""
    file_name = Path(name).name
    if _ultralytics_asset(file_name) is not None:
        try:
            from ultralytics.utils import SETTINGS

            return [Path(SETTINGS["weights_dir"])]
        except Exception:  # noqa: BLE001 - a broken settings file must not hide the real error
            return []
    if _torchvision_classifier(file_name):
        return [Path(torch.hub.get_dir()) / "checkpoints"]
    return []


def _download(name: str, folder: Path) -> Path:
    """Download ``name`` with its library into ``folder``; raises when the library cannot."""
    folder.mkdir(parents=True, exist_ok=True)
    asset = _ultralytics_asset(Path(name).name)
    if asset is not None:
        from ultralytics.utils.downloads import attempt_download_asset

        path = Path(attempt_download_asset(str(folder / asset)))
    elif _torchvision_classifier(Path(name).name):
        url = _torchvision_url(Path(name).name)
        path = folder / Path(url).name
        match = _HASH.search(path.name)
        torch.hub.download_url_to_file(url, str(path), hash_prefix=match.group(1) if match else None)
    else:
        raise ValueError("neither Ultralytics nor torchvision knows this name")
    if not path.is_file() or path.stat().st_size == 0:
        raise OSError(f"download of {name} produced no file at {path}")
    return path


def resolve_weights(name_or_path: str | Path, env: str = MODELS_ENV, download: bool = True) -> Path:
    """Local path of the weights ``name_or_path``.

    Order: (1) an existing path, as is; (2) the file name in ``$env`` (default
    ``~/.cache/ssmtl-bench/models``), for torchvision names also ``<name>.pth``, ``<name>.pt``
    and torchvision's own file name (``resnet50-11ad3fa6.pth``, a state dict); (3) the library
    cache (Ultralytics ``weights_dir``, ``$TORCH_HOME/hub/checkpoints``); (4) with ``download``,
    names Ultralytics or torchvision know (``yolov3u.pt``, ``resnet50``) are downloaded by the
    library into the ``$env`` folder. Otherwise :class:`WeightsNotFoundError` names the file, the
    folder and the environment variable.
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    folder = models_dir(env)
    names, caches = _candidates(str(name_or_path)), _library_caches(str(name_or_path))
    for directory in (folder, *caches):
        for file_name in names:
            if (directory / file_name).is_file():
                return directory / file_name
    reason = "it is not a name Ultralytics or torchvision can download"
    if download and (_ultralytics_asset(path.name) or _torchvision_classifier(path.name)):
        try:
            return _download(str(name_or_path), folder)
        except Exception as error:  # noqa: BLE001 - no network, HTTP error, bad hash, ...
            reason = f"downloading it failed ({type(error).__name__}: {error})"
    raise WeightsNotFoundError(
        f"model weights {str(name_or_path)!r} not found: no file {', '.join(names)} in {folder} "
        f"(the folder named by ${env}; default {DEFAULT_MODELS_DIR})"
        + (f" or in {', '.join(str(c) for c in caches)}" if caches else "")
        + f", and {reason}. Put the file there, set {env} to the folder holding it, or pass its path."
    )


# ---------------------------------------------------------------------------------------------
# crops and boxes
# ---------------------------------------------------------------------------------------------
def _flatten_boxes(
    boxes: np.ndarray | Sequence[np.ndarray], frame_index: np.ndarray | None, num_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(M, 4)`` boxes and their ``(M,)`` frame index from either form of input."""
    if frame_index is None:
        if len(boxes) != num_frames:
            raise ValueError(f"give frame_index, or one box array per frame ({len(boxes)} for {num_frames} frames)")
        parts = [np.asarray(b, np.float32).reshape(-1, 4) for b in boxes]
        frame_index = np.repeat(np.arange(num_frames), [len(p) for p in parts])
        boxes = np.concatenate(parts) if parts else np.zeros((0, 4), np.float32)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    frame_index = np.asarray(frame_index, np.int64).reshape(-1)
    if len(frame_index) != len(boxes):
        raise ValueError(f"{len(boxes)} boxes but {len(frame_index)} frame indices")
    if len(frame_index) and (frame_index.min() < 0 or frame_index.max() >= num_frames):
        raise ValueError(f"frame_index outside 0..{num_frames - 1}")
    return boxes, frame_index


def crop_boxes(
    images: torch.Tensor, boxes: torch.Tensor, frame_index: torch.Tensor, size: int = 224, sampling_ratio: int = -1
) -> torch.Tensor:
    """Crops ``(M, 3, size, size)`` of ``images (n, 3, H, W)`` with one
    :func:`torchvision.ops.roi_align` call (``aligned=True``: a box ``[x_min, x_max)`` in pixel
    units covers exactly those pixels, like cutting the crop and ``cv2.resize``-ing it bilinearly;
    ``sampling_ratio=-1`` averages ``ceil(box/size)`` samples per output pixel, an anti-aliased
    downscale for boxes larger than ``size``)."""
    from torchvision.ops import roi_align

    rois = torch.cat((frame_index.to(images.dtype).view(-1, 1), boxes.to(images.dtype)), dim=1)
    return roi_align(images, rois, output_size=(size, size), spatial_scale=1.0, sampling_ratio=sampling_ratio, aligned=True)


# ---------------------------------------------------------------------------------------------
# teachers
# ---------------------------------------------------------------------------------------------
class ImageNetTeacher:
    """1000 pre-softmax ImageNet logits of object crops.

    ``model``: a torchvision classifier name (``"resnet50"``, the paper's teacher; its
    ``DEFAULT`` ImageNet weights, found offline as a state-dict file through
    :func:`resolve_weights` or downloaded by torchvision; ``weights`` overrides the file) or a
    path/file name of a TorchScript classifier taking RGB [0, 1] ``N x 3 x 224 x 224`` (the
    shared ``mobilenet_v2_imagenet.torchscript.pt``, which normalises itself). ``normalize``:
    apply ImageNet mean/std before the network; ``None`` = on for torchvision models, off for
    TorchScript files. Crops: :func:`crop_boxes` at ``crop_size``; ``batch_size`` crops per
    forward pass.
    """

    def __init__(
        self,
        model: str | Path = "resnet50",
        device: str | torch.device = "cpu",
        batch_size: int = 64,
        weights: str | Path | None = None,
        normalize: bool | None = None,
        crop_size: int = 224,
        sampling_ratio: int = -1,
    ):
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.crop_size = int(crop_size)
        self.sampling_ratio = int(sampling_ratio)
        text = str(model)
        as_file = Path(text).suffix in _TORCHSCRIPT_SUFFIXES or os.sep in text or Path(text).expanduser().exists()
        if as_file:
            path = resolve_weights(text)
            try:
                with warnings.catch_warnings():  # torch >= 2.9 deprecates TorchScript; loading still works
                    warnings.simplefilter("ignore", FutureWarning)
                    net = torch.jit.load(str(path), map_location=self.device)  # frozen constants move via map_location
            except Exception as error:  # noqa: BLE001
                raise ValueError(
                    f"{path}: not a TorchScript classifier ({error}); for a torchvision state dict pass "
                    "model=<torchvision name> and weights=<file>"
                ) from error
            self.name, self.weights, self.normalize = path.stem, path, bool(normalize)
        else:
            import torchvision

            if not _torchvision_classifier(text):
                raise ValueError(f"unknown classifier {text!r}: neither a file nor a torchvision classification model")
            path = resolve_weights(weights if weights is not None else text)
            state = torch.load(str(path), map_location="cpu", weights_only=True)
            if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
                state = state["state_dict"]
            net = torchvision.models.get_model(text, weights=None)
            try:
                net.load_state_dict(state)
            except Exception as error:  # noqa: BLE001
                raise ValueError(f"{path}: not a {text} state dict ({error})") from error
            net = net.to(self.device)
            self.name, self.weights = text, path
            self.normalize = True if normalize is None else bool(normalize)
        self.net = net.eval().to(memory_format=torch.channels_last)  # speed only: 2x faster on CPU (MobileNetV2, 2 cores)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    def params(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "weights": self.weights.name,
            "normalize": self.normalize,
            "crop_size": self.crop_size,
            "sampling_ratio": self.sampling_ratio,
        }

    def crops(
        self, frames: np.ndarray, boxes: np.ndarray | Sequence[np.ndarray], frame_index: np.ndarray | None = None
    ) -> torch.Tensor:
        """The network inputs ``(M, 3, S, S)``, RGB in [0, 1] (before normalisation)."""
        boxes, frame_index = _flatten_boxes(boxes, frame_index, len(frames))
        images = frames_to_tensor(frames, self.device).div_(255.0)
        return crop_boxes(
            images,
            torch.from_numpy(boxes).to(self.device),
            torch.from_numpy(frame_index).to(self.device),
            self.crop_size,
            self.sampling_ratio,
        )

    @torch.inference_mode()
    def __call__(
        self, frames: np.ndarray, boxes: np.ndarray | Sequence[np.ndarray], frame_index: np.ndarray | None = None
    ) -> np.ndarray:
        """Logits ``float32 (M, 1000)`` of the boxes (``(M, 4)`` with ``frame_index (M,)`` into
        ``frames``, or one ``(k, 4)`` array per frame)."""
        boxes, frame_index = _flatten_boxes(boxes, frame_index, len(frames))
        out = np.empty((len(boxes), IMAGENET_CLASSES), np.float32)
        if not len(boxes):
            return out
        used = np.unique(frame_index)  # convert only frames that have boxes
        images = frames_to_tensor(frames[used], self.device).div_(255.0)
        local = torch.from_numpy(np.searchsorted(used, frame_index)).to(self.device)
        boxes_t = torch.from_numpy(boxes).to(self.device)
        for start in range(0, len(boxes), self.batch_size):
            stop = start + self.batch_size
            x = crop_boxes(images, boxes_t[start:stop], local[start:stop], self.crop_size, self.sampling_ratio)
            if self.normalize:
                x = (x - self._mean) / self._std
            logits = self.net(x.contiguous(memory_format=torch.channels_last))
            if logits.ndim != 2 or logits.shape[1] != IMAGENET_CLASSES:
                raise RuntimeError(f"{self.weights}: classifier returned {tuple(logits.shape)}, expected (N, 1000)")
            out[start:stop] = logits.float().cpu().numpy()
        return out


class DetectorTeacher:
    """The COCO detector's 80 class probabilities for arbitrary boxes.

    The raw YOLO head (same preprocessing as :class:`~bench.detection.YoloDetector`, see
    :class:`~bench.detection.detectors.YoloRunner`) runs once per frame (``batch_size`` frames per
    pass, only frames that have boxes). Every anchor's predicted box, before any confidence
    filter or NMS, is mapped to frame pixels and clipped; a given box receives the 80-vector of
    one anchor, chosen by ``match``:

    * ``"iou"`` (default): the anchor whose predicted box has the highest IoU with the given box
      (anchors within ``1e-4`` of the best IoU: the most confident one). For a box that the same
      detector output, that anchor is the box's own (IoU 1), so the vector is the detection's
      own. For boxes of another detector the best-IoU anchor may be a weak neighbour of the
      anchor NMS would keep (on Ped2's YOLOv3 boxes, matched IoU median ~0.88, but often a low
      person score).
    * ``"nms"``: the most confident anchor among those with IoU ``>= nms_iou`` with the given box
      (the one NMS would keep for an object there), falling back to ``"iou"`` when none overlaps
      that much.
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
        self.runner = runner if runner is not None else YoloRunner(weights, device, image_size, half, rect)
        if self.runner.num_classes != NUM_COCO_CLASSES:
            raise ValueError(f"{self.runner.weights}: {self.runner.num_classes} classes, expected 80 COCO classes")
        self.batch_size = int(batch_size)
        self.match = match
        self.nms_iou = float(nms_iou)

    @classmethod
    def from_detector(cls, detector, batch_size: int | None = None, **options: Any) -> "DetectorTeacher":
        """Share the network of a :class:`~bench.detection.YoloDetector` (same weights, same input)."""
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

        boxes, frame_index = _flatten_boxes(boxes, frame_index, len(frames))
        scores_out = np.empty((len(boxes), NUM_COCO_CLASSES), np.float32)
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
                    candidate = torch.where(overlapping.any(dim=1, keepdim=True), overlapping, candidate)
                key = torch.where(candidate, confidence[j].unsqueeze(0), torch.full_like(iou, -1.0))
                match = key.argmax(dim=1)
                scores_out[rows] = scores[j, match].cpu().numpy()
                iou_out[rows] = best[:, 0].cpu().numpy()
        return (scores_out, iou_out) if return_iou else scores_out


# ---------------------------------------------------------------------------------------------
# targets of a whole table
# ---------------------------------------------------------------------------------------------
def teacher_targets(
    detections: Detections,
    dataset: VideoDataset,
    split: Split,
    out_path: str | Path,
    imagenet: ImageNetTeacher | None,
    detector: DetectorTeacher | None = None,
    batch_size: int = 32,
    progress: bool = True,
    recompute_class_scores: bool = False,
    with_detector: bool = True,
) -> np.ndarray:
    """Distillation targets ``float32 (N, 1080)`` of every row of ``detections``: columns
    0..999 the ImageNet logits of the box crop, 1000..1079 the detector's class probabilities
    (the table's own ``class_scores``; rows with NaN, or all rows with
    ``recompute_class_scores``, from ``detector``). Row ``i`` belongs to row ``i`` of the table.
    With ``imagenet=None`` (test splits: eq. 6 uses only the detector's probabilities, section
    3.4) the ImageNet columns are left NaN. With ``with_detector=False`` (the frame-level
    variant, section 3.5: "eliminating YOLOv3 from the pipeline") the targets are the 1000
    ImageNet logits alone, ``float32 (N, 1000)``.

    Streams over the videos, reading only the ``batch_size``-frame batches that hold detections
    (one batch in memory at a time), into a ``.npy`` written by
    :func:`numpy.lib.format.open_memmap` at ``out_path.tmp`` and renamed over ``out_path`` when
    complete. Returns the finished file opened read-only as a memmap.
    """
    from numpy.lib.format import open_memmap
    from tqdm.auto import tqdm

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if not with_detector and imagenet is None:
        raise ValueError("targets without the detector part need an ImageNet teacher")
    needs_detector = with_detector and (recompute_class_scores or not bool(detections.has_class_scores.all()))
    if needs_detector and detector is None:
        missing = int((~detections.has_class_scores).sum())
        raise ValueError(
            f"{missing} of {len(detections)} detections have no class scores (precomputed or motion boxes); "
            "pass a DetectorTeacher to compute them"
        )
    tmp = out_path.with_name(out_path.name + ".tmp")
    targets = open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(detections), TARGET_DIM if with_detector else IMAGENET_CLASSES))
    try:
        with tqdm(total=len(detections), desc=f"{dataset.name} {split}: teachers", unit="box", disable=not progress) as bar:
            for video_id in detections.videos:
                try:
                    video = dataset.video(split, video_id)
                except KeyError as error:
                    raise DatasetError(f"{dataset.name} {split}: detections name video {video_id!r}, which is absent") from error
                lo, hi = detections.video_slice(video_id)
                batch_of = detections.frame[lo:hi] // batch_size
                for batch in np.unique(batch_of):
                    rows = lo + np.flatnonzero(batch_of == batch)
                    start = int(batch) * batch_size
                    frames = video.read(start, start + batch_size)
                    local = detections.frame[rows] - start
                    if local.min() < 0 or local.max() >= len(frames):
                        raise DatasetError(
                            f"{dataset.name} {split} video {video_id}: detections name frames beyond its {video.num_frames}"
                        )
                    boxes = detections.boxes[rows]
                    targets[rows, :IMAGENET_CLASSES] = np.nan if imagenet is None else imagenet(frames, boxes, local)
                    if with_detector:
                        targets[rows, IMAGENET_CLASSES:] = class_probabilities(detections, rows, frames, local, detector, recompute_class_scores)
                    computed = targets[rows] if imagenet is not None else targets[rows, IMAGENET_CLASSES:]
                    if not np.isfinite(computed).all():
                        raise RuntimeError(f"{dataset.name} {split} video {video_id}: non-finite teacher output")
                    bar.update(len(rows))
        targets.flush()
        del targets
        os.replace(tmp, out_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return np.load(out_path, mmap_mode="r")


def class_probabilities(detections: Detections, rows: np.ndarray, frames: np.ndarray, local: np.ndarray,
                        detector: DetectorTeacher | None, recompute: bool) -> np.ndarray:
    """The detector's 80 class probabilities of ``rows``: the table's own, else ``detector``'s."""
    class_scores = detections.class_scores[rows]
    todo = np.ones(len(rows), bool) if recompute else np.isnan(class_scores).any(axis=1)
    if todo.any():
        class_scores = class_scores.copy()
        class_scores[todo] = detector(frames, detections.boxes[rows][todo], local[todo])
    return class_scores


__all__ = [
    "DEFAULT_MODELS_DIR",
    "MODELS_ENV",
    "TARGET_DIM",
    "DetectorTeacher",
    "ImageNetTeacher",
    "WeightsNotFoundError",
    "crop_boxes",
    "models_dir",
    "resolve_weights",
    "teacher_targets",
]
