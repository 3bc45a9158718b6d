"""The ImageNet teacher of task 4 (SSMTL, section 3.3): 1000 pre-softmax logits per object.

Eq. (4) distils ``Y_ResNet``, the 1000 pre-softmax ImageNet features of a ResNet-50 applied to
each object crop. :class:`ImageNetTeacher` runs that classifier (or, offline, the shared
TorchScript MobileNetV2 that stands in for it) on 224x224 crops of the detected boxes.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.paper import IMAGENET_CLASSES
from bench.teachers.crops import crop_boxes, flatten_boxes
from bench.tubes import frames_to_tensor
from bench.weights import is_torchvision_classifier, resolve_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# A model given with one of these suffixes is a file to load with torch.jit.load, not a name.
_TORCHSCRIPT_SUFFIXES = {".pt", ".pth", ".ts", ".torchscript", ".jit"}


class ImageNetTeacher:
    """1000 pre-softmax ImageNet logits of object crops.

    ``model``: a torchvision classifier name (``"resnet50"``, the paper's teacher; its
    ``DEFAULT`` ImageNet weights, found offline as a state-dict file through
    :func:`~bench.weights.resolve_weights` or downloaded by torchvision; ``weights`` overrides
    the file) or a path/file name of a TorchScript classifier taking RGB [0, 1]
    ``N x 3 x 224 x 224`` (the shared ``mobilenet_v2_imagenet.torchscript.pt``, which
    normalises itself). ``normalize``: apply ImageNet mean/std before the network; ``None`` =
    on for torchvision models, off for TorchScript files. Crops:
    :func:`~bench.teachers.crops.crop_boxes` at ``crop_size``; ``batch_size`` crops per forward
    pass (16: on 2 CPU cores a small batch's activations stay in cache, 1.5x the crops/s of 64,
    docs/performance.md; the logits differ between batch sizes by float rounding, ~1e-5).
    """

    def __init__(
        self,
        model: str | Path = "resnet50",
        device: str | torch.device = "cpu",
        batch_size: int = 16,
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
        as_file = (
            Path(text).suffix in _TORCHSCRIPT_SUFFIXES
            or os.sep in text
            or Path(text).expanduser().exists()
        )
        if as_file:
            path = resolve_weights(text)
            try:
                # torch >= 2.9 deprecates TorchScript; loading still works
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    # frozen constants move via map_location
                    net = torch.jit.load(str(path), map_location=self.device)
            except Exception as error:  # noqa: BLE001
                raise ValueError(
                    f"{path}: not a TorchScript classifier ({error}); for a torchvision state "
                    "dict pass model=<torchvision name> and weights=<file>"
                ) from error
            self.name, self.weights, self.normalize = path.stem, path, bool(normalize)
        else:
            import torchvision

            if not is_torchvision_classifier(text):
                raise ValueError(
                    f"unknown classifier {text!r}: neither a file nor a torchvision "
                    "classification model"
                )
            path = resolve_weights(weights if weights is not None else text)
            state = torch.load(str(path), map_location="cpu", weights_only=True)
            if (
                isinstance(state, dict)
                and "state_dict" in state
                and isinstance(state["state_dict"], dict)
            ):
                state = state["state_dict"]
            net = torchvision.models.get_model(text, weights=None)
            try:
                net.load_state_dict(state)
            except Exception as error:  # noqa: BLE001
                raise ValueError(f"{path}: not a {text} state dict ({error})") from error
            net = net.to(self.device)
            self.name, self.weights = text, path
            self.normalize = True if normalize is None else bool(normalize)
        # channels_last only for speed: about 2x faster on CPU (MobileNetV2, 2 cores)
        self.net = net.eval().to(memory_format=torch.channels_last)
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
        self,
        frames: np.ndarray,
        boxes: np.ndarray | Sequence[np.ndarray],
        frame_index: np.ndarray | None = None,
    ) -> torch.Tensor:
        """The network inputs ``(M, 3, S, S)``, RGB in [0, 1] (before normalisation)."""
        boxes, frame_index = flatten_boxes(boxes, frame_index, len(frames))
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
        self,
        frames: np.ndarray,
        boxes: np.ndarray | Sequence[np.ndarray],
        frame_index: np.ndarray | None = None,
    ) -> np.ndarray:
        """Logits ``float32 (M, 1000)`` of the boxes (``(M, 4)`` with ``frame_index (M,)`` into
        ``frames``, or one ``(k, 4)`` array per frame)."""
        boxes, frame_index = flatten_boxes(boxes, frame_index, len(frames))
        out = np.empty((len(boxes), IMAGENET_CLASSES), np.float32)
        if not len(boxes):
            return out
        for start in range(0, len(boxes), self.batch_size):
            part = slice(start, start + self.batch_size)  # at most one batch of crops in memory
            out[part] = self._forward(self._used_crops(frames, boxes[part], frame_index[part]))
        return out

    def _used_crops(
        self, frames: np.ndarray, boxes: np.ndarray, frame_index: np.ndarray
    ) -> torch.Tensor:
        """The crops of flat boxes, converting to float only the frames that have boxes."""
        used = np.unique(frame_index)
        images = frames_to_tensor(frames[used], self.device).div_(255.0)
        local = torch.from_numpy(np.searchsorted(used, frame_index)).to(self.device)
        boxes_t = torch.from_numpy(boxes).to(self.device)
        return crop_boxes(images, boxes_t, local, self.crop_size, self.sampling_ratio)

    def _forward(self, x: torch.Tensor) -> np.ndarray:
        if self.normalize:
            x = (x - self._mean) / self._std
        logits = self.net(x.contiguous(memory_format=torch.channels_last))
        if logits.ndim != 2 or logits.shape[1] != IMAGENET_CLASSES:
            raise RuntimeError(
                f"{self.weights}: classifier returned {tuple(logits.shape)}, expected (N, 1000)"
            )
        return logits.float().cpu().numpy()

    @torch.inference_mode()
    def stream(
        self, blocks: Iterable[tuple[Any, np.ndarray, np.ndarray, np.ndarray]]
    ) -> Iterator[tuple[Any, np.ndarray]]:
        """Logits of many frame blocks, ``batch_size`` crops per forward across block
        boundaries (every pass but the last has the same shape: no small remainder batch per
        block, and oneDNN reuses one set-up). ``blocks``: ``(key, frames, boxes (m, 4),
        frame_index (m,))``; yields ``(key, logits float32 (m, 1000))`` in the order given, each
        once all its crops have passed. Equal to calling the teacher per block up to float
        rounding (the batch composition differs; ~1e-5 on MobileNetV2)."""
        pending: list[torch.Tensor] = []  # crops not yet forwarded
        waiting: list[tuple[Any, int]] = []  # keys and their crop counts, in order
        done: list[np.ndarray] = []  # logits not yet handed out
        queued = ready = 0

        def hand_out() -> Iterator[tuple[Any, np.ndarray]]:
            nonlocal ready
            while waiting and waiting[0][1] <= ready:
                key, n = waiting.pop(0)
                logits = np.concatenate(done) if done else np.zeros((0, IMAGENET_CLASSES))
                done[:] = [logits[n:]] if len(logits) > n else []
                ready -= n
                yield key, logits[:n].astype(np.float32, copy=False)

        def forward(n: int) -> None:
            nonlocal queued, ready
            crops = torch.cat(pending) if len(pending) > 1 else pending[0]
            done.append(self._forward(crops[:n]))
            pending[:] = [crops[n:]] if len(crops) > n else []
            queued -= n
            ready += n

        for key, frames, boxes, frame_index in blocks:
            boxes, frame_index = flatten_boxes(boxes, frame_index, len(frames))
            waiting.append((key, len(boxes)))
            for start in range(0, len(boxes), self.batch_size):  # at most 2 batches of crops held
                part = slice(start, start + self.batch_size)
                pending.append(self._used_crops(frames, boxes[part], frame_index[part]))
                queued += len(pending[-1])
                while queued >= self.batch_size:
                    forward(self.batch_size)
            yield from hand_out()
        if queued:
            forward(queued)
        yield from hand_out()


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ImageNetTeacher"]
