"""Plain references of the hot stages, written the obvious way (``ssmtl bench compare``).

Each function here is what a reader would write without this project's machinery: a per-object
``roi_align`` loop for the tubes (section 3.1: the pipeline's sampling, so the same tubes) and
the faster per-object ``cv2.resize`` loop that samples differently, the bare TorchScript
ImageNet classifier at a fixed batch (task 4, section 3.3), the Ultralytics ``YOLO`` call once
per frame, a plain PyTorch training loop of eq. (5) at a fixed batch on random tensors, and a
plain forward of the four heads of eq. (6) (section 3.4), both with the network in PyTorch's
default layout, as a plain implementation of Table 1 has it (:func:`plain_model`; the model's
own channels-last layout is one of this project's choices, timed beside them).
:mod:`bench.suite.bench_compare` times each beside the project's own stage on the same inputs.
Every function returns ``(items, seconds)`` (and, where a correctness check needs it, the
outputs), timing only the work the reference does.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.model import SSMTL
from bench.paper import LEARNING_RATE, TUBE_SIZE
from bench.suite.bench_model import contiguous_encoder


def plain_tubes(video, boxes: np.ndarray, frame: np.ndarray, t: int) -> tuple[int, float, int]:
    """Decode the frames the tubes touch, then cut each object's box from its ``2t+1`` frames
    (clamped at the video's ends) and ``cv2.resize`` it to 64x64, one crop at a time; all tubes
    are kept in memory. Returns ``(tubes, seconds, bytes of the tubes)``."""
    import cv2

    start = time.perf_counter()
    frames = video.read(0, int(frame.max()) + t + 1) if len(frame) else None
    out = np.empty((len(boxes), 2 * t + 1, 3, TUBE_SIZE, TUBE_SIZE), np.uint8)
    for k, (box, centre) in enumerate(zip(boxes, frame, strict=True)):
        height, width = frames.shape[1:3]
        x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
        x1, y1 = (
            min(width, max(x0 + 1, int(np.ceil(box[2])))),
            min(height, max(y0 + 1, int(np.ceil(box[3])))),
        )
        for j, index in enumerate(range(int(centre) - t, int(centre) + t + 1)):
            crop = frames[min(max(index, 0), len(frames) - 1), y0:y1, x0:x1]
            resized = cv2.resize(crop, (TUBE_SIZE, TUBE_SIZE), interpolation=cv2.INTER_LINEAR)
            out[k, j] = resized.transpose(2, 0, 1)
    return len(boxes), time.perf_counter() - start, out.nbytes


def plain_roi_tubes(
    video, boxes: np.ndarray, frame: np.ndarray, t: int
) -> tuple[int, float, np.ndarray]:
    """The same tubes as the pipeline, the obvious way: decode the frames the tubes touch into
    one float RGB tensor, then one ``roi_align`` call per object on its ``2t+1`` frames (clamped
    at the video's ends; the box clipped as :func:`bench.tubes.crop.clip_boxes` does, aligned,
    adaptive sampling), rounded to ``uint8`` and kept in memory. Returns ``(tubes, seconds,
    tubes (N, 2t+1, 3, 64, 64) uint8)``."""
    from torchvision.ops import roi_align

    from bench.tubes.crop import SAMPLING_RATIO, clip_boxes

    start = time.perf_counter()
    out = np.empty((len(boxes), 2 * t + 1, 3, TUBE_SIZE, TUBE_SIZE), np.uint8)
    if len(boxes):
        pixels = torch.from_numpy(video.read(0, int(frame.max()) + t + 1))
        frames = pixels.permute(0, 3, 1, 2).contiguous().float()
        clipped = clip_boxes(torch.from_numpy(boxes).float(), *frames.shape[2:])
        offsets = torch.arange(-t, t + 1)
        for k, (box, centre) in enumerate(zip(clipped, frame, strict=True)):
            index = (int(centre) + offsets).clamp(0, len(frames) - 1).float()
            rois = torch.cat([index[:, None], box.expand(len(index), 4)], dim=1)
            crops = roi_align(frames, rois, (TUBE_SIZE, TUBE_SIZE), 1.0, SAMPLING_RATIO, True)
            out[k] = crops.round().to(torch.uint8).numpy()
    return len(boxes), time.perf_counter() - start, out


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    """The TorchScript classifier in eval mode and channels-last, as a plain script loads it."""
    with warnings.catch_warnings():  # torch >= 2.9 deprecates TorchScript; loading works
        warnings.simplefilter("ignore", FutureWarning)
        net = torch.jit.load(str(path), map_location="cpu")
    return net.eval().to(memory_format=torch.channels_last)


@torch.inference_mode()
def plain_classifier(
    net: torch.nn.Module, crops: list[torch.Tensor], bf16: bool = False
) -> tuple[int, float, np.ndarray]:
    """The bare network over ready-made crop batches (channels-last, fp32 or bf16 autocast):
    only the forward passes are timed. Returns ``(crops, seconds, logits float32)``."""
    seconds, outputs = 0.0, []
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for batch in crops:
            x = batch.contiguous(memory_format=torch.channels_last)
            start = time.perf_counter()
            logits = net(x)
            seconds += time.perf_counter() - start
            outputs.append(logits.float().numpy())
    logits = np.concatenate(outputs) if outputs else np.zeros((0, 1000), np.float32)
    return len(logits), seconds, logits


def plain_yolo(weights: str | Path, frames: np.ndarray, image_size: int = 640) -> tuple[int, float]:
    """``YOLO(weights).predict`` once per frame (BGR input, as Ultralytics expects; its own
    letterbox, NMS and post-processing), after one warm-up frame. Ultralytics' predictor sets
    torch's CPU threads to 1 on a 2-core machine (``cpu_count() - 1``): the reference runs so, as
    a plain script would, and the thread count is restored afterwards."""
    from ultralytics import YOLO

    threads = torch.get_num_threads()
    try:
        yolo = YOLO(str(weights), task="detect")
        yolo.predict(frames[0][..., ::-1], imgsz=image_size, verbose=False, device="cpu")
        start = time.perf_counter()
        for frame in frames:
            yolo.predict(frame[..., ::-1], imgsz=image_size, verbose=False, device="cpu")
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    return len(frames), seconds


def _random_batch(batch: int, t: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    shape = (batch, 3, 2 * t + 1, TUBE_SIZE, TUBE_SIZE)
    return {
        "x": torch.rand(shape, generator=generator),
        "intermittent": torch.rand(shape, generator=generator),
        "teacher": torch.randn(batch, 1080, generator=generator),
    }


def plain_model(arch: str, channels_last: bool = False) -> SSMTL:
    """Table 1's network as a plain implementation has it: PyTorch's default (contiguous)
    layout; ``channels_last``: the model's own channels-last 3D layout (:class:`SharedCNN`)."""
    model = SSMTL(arch)
    if not channels_last:
        contiguous_encoder(model)
    return model


def plain_train(
    arch: str,
    batch: int,
    steps: int,
    t: int,
    lam: float = 0.5,
    warmup: int = 1,
    channels_last: bool = False,
) -> tuple[int, float]:
    """A plain training loop of eq. (5) on random tensors: T1 on ``[x, reversed x]``, T2 on
    ``[x, intermittent]``, T3 on the context, T4 on the middle crop (four encoder passes, 6B
    sequences), Adam; ``warmup`` steps first; the network in :func:`plain_model`'s layout.
    Returns ``(samples, seconds)``."""
    generator = torch.Generator().manual_seed(0)
    model = plain_model(arch, channels_last).train()
    optimizer = torch.optim.Adam(model.parameters(), LEARNING_RATE)
    data = _random_batch(batch, t, generator)
    x, mid = data["x"], t
    labels = torch.cat([torch.zeros(batch), torch.ones(batch)]).long()
    context = torch.cat([x[:, :, :mid], x[:, :, mid + 1 :]], dim=2)

    def step() -> None:
        arrow = F.cross_entropy(model.arrow(torch.cat([x, x.flip(2)])), labels)
        motion = F.cross_entropy(model.motion(torch.cat([x, data["intermittent"]])), labels)
        middle = (model.middle(context) - x[:, :, mid]).abs().mean()
        distill = (model.distill(x[:, :, mid : mid + 1]) - data["teacher"]).abs().mean()
        loss = arrow + motion + middle + lam * distill
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps, time.perf_counter() - start


@torch.inference_mode()
def plain_score(
    arch: str, objects: int, batch: int, t: int, channels_last: bool = False
) -> tuple[int, float]:
    """A plain forward of the four heads of eq. (6) on random tubes at a fixed batch (T1 and T2
    each on its own encoder pass), ``objects`` in all, after one warm-up batch; the network in
    :func:`plain_model`'s layout."""
    generator = torch.Generator().manual_seed(0)
    model = plain_model(arch, channels_last).eval()
    x = _random_batch(batch, t, generator)["x"]
    context = torch.cat([x[:, :, :t], x[:, :, t + 1 :]], dim=2)

    def forward(n: int) -> None:
        model.arrow(x[:n]).softmax(1), model.motion(x[:n]).softmax(1)
        (model.middle(context[:n]) - x[:n, :, t]).abs().mean(dim=(1, 2, 3))
        model.distill(x[:n, :, t : t + 1])

    forward(batch)
    start = time.perf_counter()
    for first in range(0, objects, batch):
        forward(min(batch, objects - first))
    return objects, time.perf_counter() - start


__all__ = [
    "load_torchscript",
    "plain_classifier",
    "plain_model",
    "plain_roi_tubes",
    "plain_score",
    "plain_train",
    "plain_tubes",
    "plain_yolo",
]
