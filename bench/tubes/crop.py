"""Cutting the object crops of a sequence with ``roi_align`` (paper section 3.1).

For each detected object in frame ``i`` the paper crops the *same* bounding box from the frames
of its sequence (no tracking, sections 3.1 and 6.3) and resizes every crop to 64x64.
:func:`crop_tubes` cuts many such tubes with one :func:`torchvision.ops.roi_align` call.

Crop geometry (the paper is silent): boxes are in continuous pixel coordinates (``x_max``
exclusive), clipped to the frame and widened to at least one pixel around their centre;
``roi_align`` runs with ``aligned=True`` (pixel ``j`` covers ``[j, j+1)``) and the adaptive
``sampling_ratio=-1``, i.e. ``ceil(box_size / 64)`` samples per output pixel and axis. For boxes
smaller than 64 pixels (all of Ped2) that is one bilinear sample per output pixel, the same as a
bilinear resize of the crop (half-pixel centres, like ``cv2.resize(INTER_LINEAR)``); for larger
boxes it averages a grid of samples per output pixel, an area-style anti-aliased downscale
(exactly ``INTER_AREA`` for an integer factor). The float result is rounded to ``uint8``
(:func:`to_uint8`).
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from bench.paper import TUBE_SIZE

SAMPLING_RATIO = -1  # adaptive: ceil(box_size / TUBE_SIZE) samples per output pixel and axis


def clip_boxes(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Boxes clipped to the frame, each at least one pixel wide and high (around its centre)."""
    boxes = boxes.clone()
    for lo, hi, size in ((0, 2, width), (1, 3, height)):
        a = boxes[:, lo].clamp(0, size)
        b = boxes[:, hi].clamp(0, size)
        small = (b - a) < 1
        centre = ((a + b) / 2).clamp(0.5, size - 0.5)
        boxes[:, lo] = torch.where(small, centre - 0.5, a)
        boxes[:, hi] = torch.where(small, centre + 0.5, b)
    return boxes


def crop_tubes(
    frames: torch.Tensor,
    frame_index: torch.Tensor,
    boxes: torch.Tensor,
    size: int = TUBE_SIZE,
    sampling_ratio: int = SAMPLING_RATIO,
    grey: bool | None = None,
) -> torch.Tensor:
    """Crop ``boxes[k]`` from ``frames[frame_index[k, j]]`` for every ``k, j``:
    ``(K, T, C, size, size)``.

    ``frames``: ``(F, C, H, W)`` float; ``frame_index``: ``(K, T)`` integer positions in
    ``frames``; ``boxes``: ``(K, 4)`` ``x_min, y_min, x_max, y_max`` pixels (clipped to the frame,
    see :func:`clip_boxes`). The same box is used in every frame of a tube (no tracking). All
    ``K*T`` crops come from a single ``roi_align(aligned=True)`` call (see the module docstring
    for the sampling ratio). Crops of grey frames (equal RGB channels) are one channel's crops
    broadcast over the channels (a stride-0 view: copy it before writing in place); ``grey``
    says whether they are, when the caller already knows (default: :func:`is_grey` checks).
    """
    if frames.ndim != 4 or frame_index.ndim != 2 or boxes.shape != (frame_index.shape[0], 4):
        raise ValueError(
            "expected frames (F,C,H,W), frame_index (K,T), boxes (K,4); got "
            f"{tuple(frames.shape)}, {tuple(frame_index.shape)}, {tuple(boxes.shape)}"
        )
    k, t = frame_index.shape
    channels, height, width = frames.shape[1:]
    if k == 0:
        return frames.new_zeros((0, t, channels, size, size))
    if int(frame_index.min()) < 0 or int(frame_index.max()) >= frames.shape[0]:
        raise IndexError(
            f"frame_index must be in 0..{frames.shape[0] - 1}, "
            f"got {int(frame_index.min())}..{int(frame_index.max())}"
        )
    boxes = clip_boxes(boxes.to(device=frames.device, dtype=frames.dtype), height, width)
    positions = frame_index.reshape(-1, 1).to(device=frames.device, dtype=frames.dtype)
    rois = torch.cat([positions, boxes.repeat_interleave(t, dim=0)], dim=1)
    crops = roi_crops(frames, rois, size, sampling_ratio, grey)
    return crops.view(k, t, channels, size, size)


def roi_crops(
    images: torch.Tensor,
    rois: torch.Tensor,
    size: int,
    sampling_ratio: int = SAMPLING_RATIO,
    grey: bool | None = None,
    workers: int = 1,
) -> torch.Tensor:
    """``(M, C, size, size)`` crops of ``images (n, C, H, W)`` at ``rois (M, 5)`` (image index,
    box), by :func:`torchvision.ops.roi_align` with ``aligned=True``.

    ``roi_align`` samples each channel with the same weights, so the crops of grey images (RGB
    with equal channels, e.g. UCSD Ped2) are one channel's crops broadcast over the three (a
    stride-0 view: copy before writing in place), a third of the work, bit for bit the same;
    ``grey`` says whether they are where the caller knows (default: :func:`is_grey` checks).
    torchvision's CPU ``roi_align`` runs on one thread and releases the GIL: with ``workers > 1``
    that many threads cut a share of the boxes each (at least :data:`MIN_ROIS_PER_WORKER`), the
    same bits as one call since each crop depends on its box alone."""
    # imported here: torchvision costs ~1.6 s, and most stages never crop
    from torchvision.ops import roi_align

    channels = images.shape[1]
    grey = channels == 3 and len(rois) > 0 and (is_grey(images) if grey is None else grey)
    source = images[:, :1] if grey else images

    def cut(part: torch.Tensor) -> torch.Tensor:
        return roi_align(source, part, (size, size), 1.0, sampling_ratio, aligned=True)

    workers = min(workers, len(rois) // MIN_ROIS_PER_WORKER) if images.is_cpu else 1
    crops = (
        torch.cat(list(_pool(workers).map(cut, rois.chunk(workers)))) if workers > 1 else cut(rois)
    )
    return crops.expand(-1, channels, -1, -1) if grey else crops


#: fewer boxes per thread than this are cut on the calling thread (the hand-off costs more)
MIN_ROIS_PER_WORKER = 4


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    """One pool per thread count, kept for the process (its threads idle between calls)."""
    return ThreadPoolExecutor(workers, thread_name_prefix="roi_crops")


def is_grey(frames: torch.Tensor) -> bool:
    """Whether every pixel of ``(F, 3, H, W)`` frames has equal channels."""
    return bool(torch.equal(frames[:, 0], frames[:, 1]) and torch.equal(frames[:, 0], frames[:, 2]))


def frames_to_tensor(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """RGB ``uint8`` ``(n, H, W, 3)`` frames as a contiguous float ``(n, 3, H, W)`` tensor (0..255)
    on ``device`` (moved as ``uint8``, a quarter of the float bytes)."""
    pixels = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    return pixels.permute(0, 3, 1, 2).contiguous().float()


def to_uint8(crops: torch.Tensor) -> np.ndarray:
    """Crops ``(..., C, H, W)`` of 0..255 frames rounded to ``uint8`` (in place; bilinear/area
    sampling of 0..255 values stays in 0..255, so no clamp is needed). Grey crops (channels
    broadcast, :func:`crop_tubes`) are rounded once and come back as a read-only broadcast."""
    if crops.shape[-3] > 1 and crops.stride(-3) == 0:
        return np.broadcast_to(to_uint8(crops[..., :1, :, :]), crops.shape)
    return crops.round_().to(torch.uint8).numpy()
